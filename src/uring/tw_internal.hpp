// Marks the calling thread as running a locked pass over one ring (submit,
// task work, SQPOLL), so task work it queues waits for that pass instead of
// waking anyone.
#pragma once

namespace iostack::uring {

struct IoRingCtx;
struct TwNode;
struct IoKiocb;

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

// Task work a submission queues by tw_add_after_wakeups once one of its
// requests may have woken a poll (tw_hold_wakes) is held back until
// release(), which the submitter calls after catching up with those
// wakeups: the kernel's wakeups happen inside the send, ahead of a link's
// next request that the batch's completion flush queues (fuzz seed
// 761944). stop() ends holding, before the catch-up.
class TwHold {
 public:
  explicit TwHold(IoRingCtx* ctx);
  ~TwHold();
  TwHold(const TwHold&) = delete;
  TwHold& operator=(const TwHold&) = delete;
  void stop();
  void release();

 private:
  friend void tw_add_after_wakeups(IoKiocb* req, void (*fn)(IoKiocb*));
  friend void tw_hold_wakes(IoRingCtx* ctx);
  void queue(bool caller_runs);
  TwHold* prev_;
  IoRingCtx* ctx_;
  bool started_ = false;  // a waking request was issued
  TwNode* first_ = nullptr;
  TwNode* last_ = nullptr;
};

// Issue of a request that wakes peers on `ctx`: the TwHold of its submission starts holding.
void tw_hold_wakes(IoRingCtx* ctx);

void tw_init(IoRingCtx* ctx);

}  // namespace iostack::uring
