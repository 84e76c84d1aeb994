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

void tw_init(IoRingCtx* ctx);

}  // namespace iostack::uring
