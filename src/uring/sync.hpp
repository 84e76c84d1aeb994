// Small synchronisation pieces for the engine: a spinlock standing in for
// the kernel's spinlock_t (completion_lock, timeout_lock) and futex waits on
// 32-bit sequence words standing in for wait queues.
#pragma once

#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "core/futex.hpp"
#include "core/mutex.hpp"

namespace iostack::uring {

// spinlock_t (completion_lock, timeout_lock): the analysed core::SpinLock.
using core::SpinLock;

// futex waits on sequence words: the wrapper all layers share.
using core::futex_wait;
using core::futex_wake_all;

// A wait queue on one futex word: waiters count themselves so wakers skip
// the system call when nobody sleeps (wq_has_sleeper).
struct WaitQueue {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<int> waiters{0};

  void wake() {
    seq.fetch_add(1, std::memory_order_seq_cst);
    if (waiters.load(std::memory_order_seq_cst) > 0) futex_wake_all(&seq);
  }

  // prepare_to_wait: counts the caller as a sleeper and returns the
  // sequence to sleep on. The caller then checks its condition, sleeps or
  // not, and always calls finish().
  std::uint32_t prepare() {
    waiters.fetch_add(1, std::memory_order_seq_cst);
    return seq.load(std::memory_order_seq_cst);
  }
  // schedule_hrtimeout: 0 once woken (or already), -ETIME at `deadline`
  // (absolute CLOCK_MONOTONIC, null: none), -EINTR on a signal.
  int sleep(std::uint32_t seen, const struct timespec* deadline) {
    const int r = futex_wait(&seq, seen, deadline);
    return r == -ETIMEDOUT ? -ETIME : r;
  }
  void finish() { waiters.fetch_sub(1, std::memory_order_seq_cst); }
};

}  // namespace iostack::uring
