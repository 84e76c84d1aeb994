// Wall-clock implementation of Clock: CLOCK_MONOTONIC time and one timer
// thread that fires expired timers (the role of the hrtimer softirq).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "core/timer_heap.hpp"

namespace iostack::core {

class RealClock final : public Clock {
 public:
  RealClock();
  ~RealClock() override;
  Nanos now() const override;  // CLOCK_MONOTONIC
  Nanos now_ordered(std::uint64_t* tsc) const override;
  Nanos coarse_now() const override;  // CLOCK_MONOTONIC_COARSE
  Nanos jiffy() const override;       // the host's tick, its resolution
  void arm(Timer* t, Nanos expires) override;
  bool cancel(Timer* t) override;
  int try_cancel(Timer* t) override;

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;       // wakes the timer thread
  std::condition_variable done_cv_;  // wakes cancel() waiting on a callback
  TimerHeap heap_;
  Timer* running_ = nullptr;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace iostack::core
