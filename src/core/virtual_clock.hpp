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
  // With a jiffy set, time has the host's ticks: jiffies advance on its
  // multiples (for tests of what the kernel does on ticks).
  Nanos coarse_now() const override { return jiffy_ ? now_ / jiffy_ * jiffy_ : now_; }
  Nanos jiffy() const override { return jiffy_; }
  void set_jiffy(Nanos j) { jiffy_ = j; }
  void arm(Timer* t, Nanos expires) override { heap_.push(t, expires < now_ ? now_ : expires); }
  bool cancel(Timer* t) override { return heap_.remove(t); }
  int try_cancel(Timer* t) override { return heap_.remove(t) ? 1 : 0; }
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
  Nanos jiffy_ = 0;  // none: a simulation's timers fire at their exact time
  TimerHeap heap_;
};

}  // namespace iostack::core
