// Small synchronisation pieces for the engine: a spinlock standing in for
// the kernel's spinlock_t (completion_lock, timeout_lock) and futex waits on
// 32-bit sequence words standing in for wait queues.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>

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

// Sleeps while *word == expected, until woken, `abs_timeout` (CLOCK_MONOTONIC,
// null for none) passes or a signal arrives. Returns 0, -ETIMEDOUT or -EINTR.
inline int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      const struct timespec* abs_timeout) {
  long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word),
                   FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, abs_timeout, nullptr,
                   FUTEX_BITSET_MATCH_ANY);
  if (r == 0) return 0;
  if (errno == ETIMEDOUT) return -ETIMEDOUT;
  if (errno == EINTR) return -EINTR;
  return 0;  // EAGAIN: the value already changed
}

inline void futex_wake_all(std::atomic<std::uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
          INT32_MAX, nullptr, nullptr, 0);
}

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
