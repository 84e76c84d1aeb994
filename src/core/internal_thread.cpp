#include "core/internal_thread.hpp"

#include <pthread.h>

#include <cerrno>
#include <initializer_list>
#include <new>

namespace iostack::core {
namespace {

struct Start {
  void (*fn)(void*);
  void* arg;
  const char* name;
};

void* trampoline(void* p) {
  const Start s = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  // Born with everything blocked (the creator's mask during creation);
  // only the synchronous signals come back.
  pthread_sigmask(SIG_UNBLOCK, &synchronous_signals(), nullptr);
  pthread_setname_np(pthread_self(), s.name);
  s.fn(s.arg);
  return nullptr;
}

}  // namespace

const sigset_t& synchronous_signals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS}) sigaddset(&s, sig);
    return s;
  }();
  return set;
}

int start_internal_thread(const char* name, void (*fn)(void*), void* arg) {
  auto* start = new (std::nothrow) Start{fn, arg, name};
  if (start == nullptr) return -ENOMEM;
  // The new thread inherits the mask in force while it is created: block
  // everything here, so no signal can reach it before it runs.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  const int err = pthread_create(&tid, &attr, trampoline, start);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err != 0) {
    delete start;
    return -err;
  }
  return 0;
}

}  // namespace iostack::core
