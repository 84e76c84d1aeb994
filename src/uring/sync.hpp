// Small synchronisation pieces for the engine: a spinlock standing in for
// the kernel's spinlock_t (completion_lock, timeout_lock) and futex waits on
// 32-bit sequence words standing in for wait queues.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "core/futex.hpp"

namespace iostack::uring {

class SpinLock {
 public:
  void lock() {
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          std::this_thread::yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

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
