// Starting iostack's own threads: signal mask, name, accounting.
#include "core/internal_thread.hpp"

#include <cerrno>
#include <cstdio>
#include <initializer_list>
#include <system_error>

namespace iostack::core {

const sigset_t& synchronous_signals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, SIGTRAP}) sigaddset(&s, sig);
    return s;
  }();
  return set;
}

namespace {
thread_local bool t_internal = false;
}  // namespace

bool on_internal_thread() { return t_internal; }

namespace internal_thread_detail {

void enter(ThreadKind kind) {
  t_internal = true;
  pthread_sigmask(SIG_UNBLOCK, &synchronous_signals(), nullptr);
  char name[16];
  std::snprintf(name, sizeof(name), "iostack-%s", ExecStats::thread_kind_name(kind));
  pthread_setname_np(pthread_self(), name);
}

void leave(ThreadKind kind) { exec_stats().thread_ended(kind); }

}  // namespace internal_thread_detail

int start_detached_internal_thread(ThreadKind kind, void (*fn)(void*), void* arg) {
  try {
    start_internal_thread(kind, [fn, arg] { fn(arg); }).detach();
    return 0;
  } catch (const std::system_error& e) {
    exec_stats().thread_ended(kind);
    return e.code().value() ? -e.code().value() : -EAGAIN;
  }
}

}  // namespace iostack::core
