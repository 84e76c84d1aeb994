// Small synchronisation pieces for the engine: a spinlock standing in for
// the kernel's spinlock_t (completion_lock, timeout_lock) and futex waits on
// 32-bit sequence words standing in for wait queues.
#pragma once

#include <atomic>
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
};

}  // namespace iostack::uring
