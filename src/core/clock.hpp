// Time and timers for the layers below the submission interfaces. Block,
// scheduler and device code read time and arm timers only through Clock, so
// the same code runs on the wall clock (RealClock) or in deterministic
// simulation (VirtualClock). Counterpart of ktime/hrtimer (kernel/time/).
#pragma once

#include <cstdint>

#include "core/mutex.hpp"

namespace iostack::core {

using Nanos = std::uint64_t;

constexpr Nanos kNsPerUs = 1000;
constexpr Nanos kNsPerMs = 1000 * 1000;
constexpr Nanos kNsPerSec = 1000 * 1000 * 1000;
constexpr Nanos kNoTimeout = ~Nanos{0};

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
  // now(), read only once the thread's earlier instructions have executed,
  // with the raw TSC value behind it in *tsc (0 where the time is not the
  // TSC's): a reading that orders the thread's steps against other
  // threads' (see block::blk_plug_stamp).
  virtual Nanos now_ordered(std::uint64_t* tsc) const {
    *tsc = 0;
    return now();
  }
  // The kernel's jiffies, in nanoseconds: may lag now() by up to a
  // scheduler tick, and costs far less. For what the kernel keeps in
  // jiffies (deadline FIFO expiry, io_ticks).
  virtual Nanos coarse_now() const { return now(); }
  // The length of a jiffy (1/HZ): coarse_now() moves in steps of it, on a
  // fixed grid. The host's ticks themselves fall on multiples of it on
  // now()'s timeline (Linux 6.x aligns its tick to TICK_NSEC), up to a
  // tick ahead of that grid. 0 where time has no ticks (a simulation).
  virtual Nanos jiffy() const { return 0; }
  // Arms (or re-arms) `t` to fire at absolute time `expires`.
  virtual void arm(Timer* t, Nanos expires) = 0;
  // Disarms `t`; returns true when it was pending. After it returns the
  // callback is not running and will not run unless re-armed.
  virtual bool cancel(Timer* t) = 0;
  // hrtimer_try_to_cancel: disarms `t` without waiting for its callback, for
  // callers holding a lock the callback takes. 1 when it was pending, 0 when
  // it was not, -1 when its callback is running on the clock's context now
  // (it then finds whatever the caller leaves behind).
  virtual int try_cancel(Timer* t) = 0;

  // How a thread waits for what other threads or the clock's timers will
  // bring. On a real clock: waits on `cv` until notified or until
  // `timeout` of real time has passed. A simulated clock has no other
  // thread to notify: it drops `lock`, fires its next timer and retakes
  // it. False when nothing can end the wait any more (no timer is left).
  virtual bool wait(UniqueLock<Mutex>& lock, CondVar& cv, Nanos timeout = kNoTimeout);
  // The same for a caller that polls its condition: a real clock sleeps
  // for `real_time`, a simulated one fires its next timer.
  virtual bool pause(Nanos real_time);
  // Whether time moves only on the thread that runs the timers (a
  // simulation): drivers then end requests from timers, never from
  // threads of their own.
  virtual bool single_threaded() const { return false; }
};

// The process-wide real clock (CLOCK_MONOTONIC, timers on one thread).
Clock& real_clock();

}  // namespace iostack::core
