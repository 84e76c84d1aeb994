// Time and timers for the layers below the submission interfaces. Block,
// scheduler and device code read time and arm timers only through Clock, so
// the same code runs on the wall clock (RealClock) or in deterministic
// simulation (VirtualClock). Counterpart of ktime/hrtimer (kernel/time/).
#pragma once

#include <cstdint>

namespace iostack::core {

using Nanos = std::uint64_t;

constexpr Nanos kNsPerUs = 1000;
constexpr Nanos kNsPerMs = 1000 * 1000;
constexpr Nanos kNsPerSec = 1000 * 1000 * 1000;

struct Timer;
using TimerFn = void (*)(Timer*);

// A one-shot timer owned by its user (like struct hrtimer). The callback runs
// on the clock's context with no clock lock held; it may re-arm the timer.
struct Timer {
  TimerFn fn = nullptr;
  void* priv = nullptr;
  // Managed by the clock.
  Nanos expires = 0;
  std::uint64_t seq = 0;
  std::int64_t heap_index = -1;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
  // The kernel's jiffies, in nanoseconds: may lag now() by up to a
  // scheduler tick, and costs far less. For what the kernel keeps in
  // jiffies (deadline FIFO expiry, io_ticks).
  virtual Nanos coarse_now() const { return now(); }
  // Arms (or re-arms) `t` to fire at absolute time `expires`.
  virtual void arm(Timer* t, Nanos expires) = 0;
  // Disarms `t`; returns true when it was pending. After it returns the
  // callback is not running and will not run unless re-armed.
  virtual bool cancel(Timer* t) = 0;
  virtual bool is_virtual() const { return false; }
};

// The process-wide real clock (CLOCK_MONOTONIC, timers on one thread).
Clock& real_clock();

}  // namespace iostack::core
