// Threads iostack starts for itself (timer, completion, io-wq and AIO
// workers, SQPOLL, poll services). They block every signal a program could
// handle, as the kernel's io workers ignore signals meant for the process:
// no handler of the program ever runs on them. They are named after their
// kind ("iostack-<kind>" in /proc/self/task/*/comm) and counted in
// exec_stats().
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

#include "core/exec_stats.hpp"

namespace iostack::core {

// The signals an internal thread leaves unblocked: those the kernel raises
// on the faulting thread itself, which cannot wait (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGSYS, SIGTRAP); blocking them would let the kernel kill the
// process.
const sigset_t& synchronous_signals();

// Whether the caller runs on one of these threads.
bool on_internal_thread();

namespace internal_thread_detail {
// Blocks everything in the creator while the thread is made: the new thread
// inherits that mask, so no signal can reach it before it runs.
struct MaskScope {
  sigset_t old;
  MaskScope() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
  }
  ~MaskScope() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};
// Run first on the new thread: unblocks the synchronous signals, sets the
// name, counts the thread.
void enter(ThreadKind kind);
void leave(ThreadKind kind);
}  // namespace internal_thread_detail

// A std::thread running fn() as an internal thread of `kind`.
template <class Fn>
std::thread start_internal_thread(ThreadKind kind, Fn&& fn) {
  internal_thread_detail::MaskScope scope;
  exec_stats().thread_started(kind);
  return std::thread([kind, fn = std::forward<Fn>(fn)]() mutable {
    internal_thread_detail::enter(kind);
    fn();
    internal_thread_detail::leave(kind);
  });
}

// The same for a detached thread running fn(arg), for callers that cannot
// take an exception: 0, or -errno when no thread could start.
int start_detached_internal_thread(ThreadKind kind, void (*fn)(void*), void* arg);

}  // namespace iostack::core
