// Deterministic Clock for simulation mode: time moves only when the event
// loop fires the next timer. Single-threaded by design.
#pragma once

#include "core/clock.hpp"
#include "core/timer_heap.hpp"

namespace iostack::core {

class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Nanos start = 0) : now_(start) {}
  Nanos now() const override { return now_; }
  void arm(Timer* t, Nanos expires) override { heap_.push(t, expires < now_ ? now_ : expires); }
  bool cancel(Timer* t) override { return heap_.remove(t); }
  bool wait(UniqueLock<Mutex>& lock, CondVar& cv, Nanos timeout = kNoTimeout) override;
  bool pause(Nanos real_time) override;
  bool single_threaded() const override { return true; }

  // Fires the earliest timer, moving time to its expiry. False when idle.
  bool run_one();
  // Fires timers until none is left; returns how many fired.
  std::size_t run_until_idle();
  // Fires every timer due at or before `t`, then sets the time to `t`.
  void advance_to(Nanos t);
  void advance_by(Nanos d) { advance_to(now_ + d); }
  std::size_t pending() const { return heap_.size(); }
  // When the next timer fires; kNoTimeout when none is armed.
  Nanos next_expiry() const {
    const Timer* t = heap_.top();
    return t ? t->expires : kNoTimeout;
  }

 private:
  Nanos now_;
  TimerHeap heap_;
};

}  // namespace iostack::core
