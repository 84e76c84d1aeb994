// Virtual time for a whole run (iostack run --clock=virtual). Job threads
// take turns holding one baton: exactly one of them runs at a time, and only
// the holder touches the VirtualClock (which is not thread safe) and the
// devices under it. A holder that must wait (for completions, for a rate or
// thinktime pause) hands the baton to the next runnable job thread, in the
// order they became runnable; when none is, it fires the clock's next timer
// itself. Time therefore moves only when every job thread is blocked, and
// the order of every event is fixed by the program, never by the OS
// scheduler: a run with the same jobs and seeds repeats exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "core/mutex.hpp"
#include "core/virtual_clock.hpp"

namespace iostack::job {

class VirtualTime {
 public:
  // Job threads report this pid plus their thread number (1-based), in the
  // report and in blktrace records; the runner's own thread is kPidBase.
  static constexpr int kPidBase = 1000;
  // Virtual time has jiffies, as the kernel does (CONFIG_HZ=250, this
  // machine's): what the kernel counts in jiffies (deadline expiry, bfq's
  // budget timeouts and weight raising, plugs' timestamps, io_ticks) moves
  // in steps of kJiffy, and delayed work (blk-mq's queue reruns) runs on
  // a tick, never in the same nanosecond as a completion it races.
  static constexpr core::Nanos kHz = 250;
  static constexpr core::Nanos kJiffy = core::kNsPerSec / kHz;

  VirtualTime();
  ~VirtualTime();
  core::VirtualClock& clock() { return clock_; }

  // A participant (one job thread); its id. Called by the runner, which
  // holds the baton whenever no batch is running.
  int add();
  // Runs participants `ids` (their threads started, each in enter()) until
  // all have exited; the runner's thread calls `poll` about every 20 ms of
  // real time meanwhile (for the progress line). The baton comes back.
  void run_batch(const std::vector<int>& ids, const std::function<void()>& poll);

  // On a participant's own thread: waits for its first turn.
  void enter(int id);
  // The participant is done: the baton moves on.
  void exit(int id);
  // The holder `id` waits until wake(id); meanwhile others run and timers
  // fire. False when nothing is left that could wake it (a deadlock).
  bool block(int id);
  // Makes a blocked participant runnable (from a completion or a timer, on
  // the holder's thread); a participant that is running is left alone: it
  // looks at its condition before blocking.
  void wake(int id);
  // block() until virtual time `t` or an earlier wake().
  bool sleep_until(int id, core::Nanos t);
  // Called with the baton held just before the clock moves on to `t`.
  void set_on_advance(std::function<void(core::Nanos)> fn) { on_advance_ = std::move(fn); }
  // Whether a wait found nothing left to wait for.
  bool stuck() const { return stuck_; }

 private:
  struct Part {
    VirtualTime* vt = nullptr;
    int id = 0;
    bool blocked = false, queued = false, done = true;
    core::Timer timer;  // sleep_until's wake-up
    core::CondVar cv;   // its turn has come
  };
  static constexpr int kRunner = -1;

  // Fires the next timer; false when none is left.
  bool fire_next();
  // Passes the baton to `next`; with `me` >= kRunner waits until it comes back.
  void hand_to(int next, int me, bool wait_back);
  core::CondVar& cv_of(int id) { return id == kRunner ? runner_cv_ : parts_[id]->cv; }

  core::VirtualClock clock_{0};
  // Owned by the baton holder; the hand-over under mu_ orders them.
  std::vector<std::unique_ptr<Part>> parts_;
  std::deque<int> runnable_;
  int live_ = 0;  // participants of the batch not yet exited
  bool stuck_ = false;
  std::function<void(core::Nanos)> on_advance_;

  core::Mutex mu_;
  int holder_ GUARDED_BY(mu_) = kRunner;
  core::CondVar runner_cv_;
};

}  // namespace iostack::job
