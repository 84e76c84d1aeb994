// ctx->wait and struct aio_waiter (fs/aio.c): io_getevents callers sleeping
// until at least min_nr events are in the ring.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/list.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {

struct AioWaiter {
  // woken: on the list and awake, asleep in futex_wait, or woken (unlinked
  // by the waker). Only a waiter marked asleep costs its waker a futex wake.
  static constexpr std::uint32_t kAwake = 0;
  static constexpr std::uint32_t kWoken = 1;
  static constexpr std::uint32_t kAsleep = 2;

  core::ListHead entry;
  long min_nr = 0;
  std::atomic<std::uint32_t> woken{kAwake};

  // Marks the waiter asleep unless it was woken already (false).
  bool prepare_sleep() {
    std::uint32_t awake = kAwake;
    return woken.compare_exchange_strong(awake, kAsleep, std::memory_order_acq_rel);
  }
};

class WaitQueue {
 public:
  void add(AioWaiter* w);
  void remove(AioWaiter* w);
  // Wakes the waiters whose min_nr `avail` events satisfy.
  void wake(unsigned avail);
  void wake_all();
  bool active() const { return nr_.load(std::memory_order_seq_cst) != 0; }

 private:
  core::Mutex lock_;
  core::ListHead head_ GUARDED_BY(lock_);
  std::atomic<int> nr_{0};
};

}  // namespace iostack::aio
