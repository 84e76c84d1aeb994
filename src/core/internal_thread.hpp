// Threads iostack starts for itself (timer, completion, io-wq and AIO
// workers, SQPOLL, poll service). They block every signal a program could
// handle, as the kernel's io workers ignore signals meant for the process:
// no handler of the program ever runs on them, and a write past
// RLIMIT_FSIZE done by one fails with EFBIG instead of raising SIGXFSZ.
#pragma once

#include <signal.h>

#include <thread>
#include <utility>

#include "core/exec_stats.hpp"

namespace iostack::core {

// The mask internal threads run with: everything except the signals a fault
// raises synchronously (blocking those would let the kernel kill the process).
sigset_t internal_thread_sigmask();

// std::thread whose thread starts with internal_thread_sigmask() in force
// (set in the creator around the creation, so there is no window in which
// the new thread could take a signal), counted in exec_stats() by kind.
template <class Fn>
std::thread start_internal_thread(ThreadKind kind, Fn&& fn) {
  struct MaskScope {
    sigset_t old;
    MaskScope() {
      const sigset_t mask = internal_thread_sigmask();
      pthread_sigmask(SIG_SETMASK, &mask, &old);
    }
    ~MaskScope() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  } scope;
  ExecStats& stats = exec_stats();
  stats.thread_started(kind);
  return std::thread([&stats, kind, fn = std::forward<Fn>(fn)]() mutable {
    fn();
    stats.thread_ended(kind);
  });
}

}  // namespace iostack::core
