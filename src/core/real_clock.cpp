// The real clock: CLOCK_MONOTONIC and a timer thread.
#include "core/real_clock.hpp"

#include <sys/prctl.h>
#include <time.h>

#include "core/internal_thread.hpp"
#include "core/process.hpp"
#include "core/tsc.hpp"

namespace iostack::core {

RealClock::RealClock() : thread_(start_internal_thread(ThreadKind::kTimer, [this] { run(); })) {}

RealClock::~RealClock() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

// The TSC scale where it is usable (core/tsc.hpp), measured from the
// readings themselves: no reader waits for the calibration (a first timer
// waiting out 10 ms of it made a 5 ms io_uring TIMEOUT fire after the
// kernel's).
Nanos RealClock::now() const { return monotonic_ns(); }

Nanos RealClock::now_ordered(std::uint64_t* tsc) const { return monotonic_ns_ordered(tsc); }

Nanos RealClock::coarse_now() const { return clock_ns(CLOCK_MONOTONIC_COARSE); }

Nanos RealClock::jiffy() const {
  static const Nanos tick = [] {
    timespec res{};
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    return static_cast<Nanos>(res.tv_sec) * kNsPerSec + static_cast<Nanos>(res.tv_nsec);
  }();
  return tick;
}

void RealClock::arm(Timer* t, Nanos expires) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    heap_.push(t, expires);
    wake = heap_.top() == t;
  }
  if (wake) cv_.notify_one();
}

bool RealClock::cancel(Timer* t) {
  std::unique_lock lock(mu_);
  const bool was_pending = heap_.remove(t);
  // Like hrtimer_cancel: wait for a running callback, unless we are it.
  if (std::this_thread::get_id() != thread_.get_id())
    done_cv_.wait(lock, [&] { return running_ != t; });
  return was_pending;
}

int RealClock::try_cancel(Timer* t) {
  std::lock_guard lock(mu_);
  if (heap_.remove(t)) return 1;
  return running_ == t && std::this_thread::get_id() != thread_.get_id() ? -1 : 0;
}

void RealClock::run() {
  // hrtimers fire on time; a user thread's sleeps run up to 50 us late
  // (the default timer slack), which would add that to every timed
  // completion (null_blk irqmode=timer, a slow device's service time).
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::unique_lock lock(mu_);
  while (!stop_) {
    Timer* t = heap_.top();
    if (!t) {
      cv_.wait(lock);
      continue;
    }
    const Nanos n = now();
    if (t->expires > n) {
      cv_.wait_for(lock, std::chrono::nanoseconds(t->expires - n));
      continue;
    }
    heap_.pop();
    running_ = t;
    lock.unlock();
    t->fn(t);
    lock.lock();
    running_ = nullptr;
    done_cv_.notify_all();
  }
}

Clock& real_clock() { return Process::current().state<RealClock>(); }

}  // namespace iostack::core
