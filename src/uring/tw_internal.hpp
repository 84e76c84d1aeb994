// Marks the calling thread as running a locked pass over one ring (submit,
// task work, SQPOLL), so task work it queues waits for that pass instead of
// waking anyone.
#pragma once

namespace iostack::uring {

struct IoRingCtx;

class RunningCtxScope {
 public:
  explicit RunningCtxScope(IoRingCtx* ctx);
  ~RunningCtxScope();
  RunningCtxScope(const RunningCtxScope&) = delete;
  RunningCtxScope& operator=(const RunningCtxScope&) = delete;

 private:
  IoRingCtx* prev_;
};

// Marks the calling thread as handling a wakeup of its ring's registered
// eventfd, during which queuing DEFER_TASKRUN work does not signal it.
class EventfdWakeScope {
 public:
  explicit EventfdWakeScope(bool on);
  ~EventfdWakeScope();
  EventfdWakeScope(const EventfdWakeScope&) = delete;
  EventfdWakeScope& operator=(const EventfdWakeScope&) = delete;

 private:
  bool prev_;
};

void tw_init(IoRingCtx* ctx);

}  // namespace iostack::uring
