// Task work (io_req_task_work_add, tctx_task_work_run in io_uring/io_uring.c):
// steps that must run with uring_lock held, queued from any thread. The
// kernel runs them when the submitting task returns to user space; here the
// submitter runs them before enter returns and while it waits, the SQPOLL
// thread runs them in its loop, and when neither is around an io-wq worker
// picks them up (the kernel's fallback work).
#include <cerrno>
#include <climits>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/slist.hpp"
#include "uring/engine.hpp"
#include "uring/tw_internal.hpp"

namespace iostack::uring {

namespace {
thread_local IoRingCtx* t_running_ctx = nullptr;
thread_local bool t_in_eventfd_wake = false;
thread_local TwHold* t_hold = nullptr;

void tw_work_fn(IoWqWork* work) {
  auto* ctx = static_cast<IoRingCtx*>(const_cast<void*>(work->owner));
  for (;;) {
    tw_run(ctx);
    ctx->tw_work_queued.store(false, std::memory_order_seq_cst);
    if (!tw_pending(ctx) || ctx->tw_work_queued.exchange(true, std::memory_order_seq_cst)) break;
  }
}

void tw_work_cancel(IoWqWork* work) {
  auto* ctx = static_cast<IoRingCtx*>(const_cast<void*>(work->owner));
  ctx->tw_work_queued.store(false, std::memory_order_seq_cst);
}
}  // namespace

RunningCtxScope::RunningCtxScope(IoRingCtx* ctx) : prev_(t_running_ctx) { t_running_ctx = ctx; }
RunningCtxScope::~RunningCtxScope() { t_running_ctx = prev_; }

TwHold::TwHold(IoRingCtx* ctx) : prev_(t_hold), ctx_(ctx) { t_hold = this; }

TwHold::~TwHold() { queue(false); }

void TwHold::stop() {
  if (t_hold == this) t_hold = prev_;
}

// The caller runs the ring's task work next.
void TwHold::release() { queue(true); }

void TwHold::queue(bool caller_runs) {
  stop();
  if (!first_) return;
  RunningCtxScope scope(caller_runs ? ctx_ : nullptr);
  while (TwNode* node = first_) {
    first_ = node->next;
    tw_add_node(ctx_, node);
  }
  last_ = nullptr;
}

void tw_hold_wakes(IoRingCtx* ctx) {
  if (t_hold && t_hold->ctx_ == ctx) t_hold->started_ = true;
}

void tw_add_after_wakeups(IoKiocb* req, TwFn fn) {
  TwHold* h = t_hold;
  if (!h || h->ctx_ != req->ctx || !h->started_) return tw_add(req, fn);
  req->tw.fn = fn;
  req->tw.req = req;
  core::slist_add_tail<TwNode, &TwNode::next>(h->first_, h->last_, &req->tw);
}

bool in_submit_of(IoRingCtx* ctx) { return t_running_ctx == ctx; }

namespace {
// The descriptors of the rings this thread submitted to last (looked up
// again when used: the program may have closed them).
constexpr int kSubmittedMax = 4;
thread_local int t_submitted[kSubmittedMax] = {-1, -1, -1, -1};
thread_local unsigned t_submitted_next = 0;
}  // namespace

void tw_note_submitter(IoRingCtx* ctx) {
  const pid_t tid = core::current_tid();
  if (ctx->last_submit_tid.load(std::memory_order_relaxed) != tid)
    ctx->last_submit_tid.store(tid, std::memory_order_relaxed);
  for (const int fd : t_submitted)
    if (fd == ctx->fd) return;
  t_submitted[t_submitted_next++ % kSubmittedMax] = ctx->fd;
}

void tw_run_submitted() {
  const pid_t tid = core::current_tid();
  for (const int fd : t_submitted) {
    if (fd < 0) continue;
    core::FileRef f = ring_file_get(fd);
    IoRingCtx* ctx = ring_of(f);
    // An SQPOLL ring's work is its thread's, a DEFER_TASKRUN ring's waits
    // for GETEVENTS.
    if (!ctx || (ctx->flags & (IORING_SETUP_SQPOLL | IORING_SETUP_DEFER_TASKRUN)) ||
        ctx->last_submit_tid.load(std::memory_order_relaxed) != tid)
      continue;
    // A worker that took the work (under uring_lock) finishes it first.
    if (ctx->tw_work_queued.load(std::memory_order_acquire)) core::LockGuard wait(ctx->uring_lock);
    if (tw_pending(ctx)) tw_run(ctx);
  }
}

void tw_init(IoRingCtx* ctx) {
  ctx->tw_work.fn = tw_work_fn;
  ctx->tw_work.cancel = tw_work_cancel;
  ctx->tw_work.owner = ctx;
  ctx->tw_work.flags.store(kWqWorkUnbound | kWqWorkTaskRun, std::memory_order_relaxed);
  ctx->drain_req.ctx = ctx;
  ctx->poll_activate_req.ctx = ctx;
}

// io_req_local_work_add: a DEFER_TASKRUN ring's task work waits for its
// submitter to enter with GETEVENTS (or to wait); the flag, the eventfd and
// a waiter are told when the list stops being empty.
static void local_work_added(IoRingCtx* ctx) {
  if (ctx->flags & IORING_SETUP_TASKRUN_FLAG) {
    RingsReadScope scope(ctx);
    flags_or(rings_now(ctx)->sq_flags, IORING_SQ_TASKRUN);
  }
  if (t_in_eventfd_wake) {
    // eventfd_signal_allowed() is false inside the eventfd's own wakeup:
    // the kernel signals later (io_eventfd_do_signal by RCU), here once
    // the task work has run.
    ctx->evfd_signal_deferred.store(true, std::memory_order_relaxed);
  } else {
    ctx->completion_lock.lock();
    if (ctx->evfd >= 0) eventfd_signal(ctx);
    ctx->completion_lock.unlock();
  }
  cq_wake(ctx);
}

EventfdWakeScope::EventfdWakeScope(bool on) : prev_(t_in_eventfd_wake) { t_in_eventfd_wake = on; }
EventfdWakeScope::~EventfdWakeScope() { t_in_eventfd_wake = prev_; }

bool tw_pending(IoRingCtx* ctx) {
  return ctx->tw_head.load(std::memory_order_acquire) != nullptr ||
         ctx->tw_retry.load(std::memory_order_acquire) != nullptr;
}

bool tw_ahead(IoRingCtx* ctx) {
  return tw_pending(ctx) || ctx->tw_batch_more.load(std::memory_order_acquire);
}

void tw_add(IoKiocb* req, TwFn fn) {
  req->tw.fn = fn;
  req->tw.req = req;
  tw_add_node(req->ctx, &req->tw);
}

void tw_add_node(IoRingCtx* ctx, TwNode* node) {
  TwNode* head = ctx->tw_head.load(std::memory_order_relaxed);
  do {
    node->next = head;
  } while (!ctx->tw_head.compare_exchange_weak(head, node, std::memory_order_seq_cst,
                                               std::memory_order_relaxed));
  if (head) return;  // already pending: whoever was told will run it
  if (ctx->flags & IORING_SETUP_DEFER_TASKRUN) {
    local_work_added(ctx);
    return;
  }
  if (t_running_ctx == ctx) return;  // the running pass picks it up
  if (ctx->flags & IORING_SETUP_TASKRUN_FLAG) flags_or(ctx->rings->sq_flags, IORING_SQ_TASKRUN);
  if (ctx->flags & IORING_SETUP_SQPOLL) {
    sq_thread_wake(ctx);
    return;
  }
  cq_wake(ctx);
  if (!ctx->tw_work_queued.exchange(true, std::memory_order_seq_cst)) {
    if (IoWq* wq = ctx_wq(ctx)) wq->enqueue(&ctx->tw_work);
  }
}

namespace {

// The queued stack, newest first, as a list oldest first.
TwNode* take_fifo(IoRingCtx* ctx) {
  return core::slist_reverse<TwNode, &TwNode::next>(
      ctx->tw_head.exchange(nullptr, std::memory_order_acquire));
}

// Runs up to max items of *list (at least one if there is one, as the
// kernel's loop does); *list keeps the rest.
int run_list(IoRingCtx* ctx, TwNode** list, int max) {
  int ran = 0;
  while (*list) {
    TwNode* node = *list;
    *list = node->next;
    ctx->tw_batch_more.store(*list && ran + 1 < max, std::memory_order_release);
    node->fn(node->req);
    if (++ran >= max) break;
  }
  ctx->tw_batch_more.store(false, std::memory_order_release);
  return ran;
}

// io_run_local_work_continue.
bool local_continue(IoRingCtx* ctx, int ran, int min_events) {
  if (!tw_pending(ctx)) return false;
  if (ran < min_events) return true;
  if (ctx->flags & IORING_SETUP_TASKRUN_FLAG) flags_or(ctx->rings->sq_flags, IORING_SQ_TASKRUN);
  return false;
}

// After a run: block I/O the work produced, polls it armed ready, and an
// eventfd signal held back during the eventfd's own wakeup.
void after_run(IoRingCtx* ctx, IoKiocb* bdev) {
  if (bdev) issue_bdev_list(bdev);
  poll_collect_initial();
  if (ctx->evfd_signal_deferred.exchange(false, std::memory_order_relaxed)) {
    ctx->completion_lock.lock();
    if (ctx->evfd >= 0) eventfd_signal(ctx);
    ctx->completion_lock.unlock();
  }
}

}  // namespace

bool tw_run(IoRingCtx* ctx) {
  poll_settle(ctx);
  // A poll armed ready by one batch has its first event collected before
  // the next batch (its arming's task work) posts: not from inside a dispatch.
  const bool collects = !core::holds_locks();
  bool ran = false;
  while (tw_pending(ctx)) {
    IoKiocb* bdev;
    {
      core::LockGuard lock(ctx->uring_lock);
      RunningCtxScope scope(ctx);
      for (;;) {
        if (collects && poll_initial_pending()) break;
        TwNode* fifo = ctx->tw_retry.exchange(nullptr, std::memory_order_relaxed);
        if (!fifo) fifo = take_fifo(ctx);
        if (!fifo) break;
        if (ctx->flags & IORING_SETUP_TASKRUN_FLAG)
          flags_andnot(ctx->rings->sq_flags, IORING_SQ_TASKRUN);
        run_list(ctx, &fifo, INT_MAX);
        flush_completions(ctx);
      }
      bdev = take_bdev_batch(ctx);
    }
    after_run(ctx, bdev);
    ran = true;
  }
  return ran;
}

int tw_run_local(IoRingCtx* ctx, int min_events, int max_events) {
  if (!tw_pending(ctx)) return 0;
  int total = 0;
  IoKiocb* bdev;
  {
    core::LockGuard lock(ctx->uring_lock);
    RunningCtxScope scope(ctx);
    if (ctx->flags & IORING_SETUP_TASKRUN_FLAG)
      flags_andnot(ctx->rings->sq_flags, IORING_SQ_TASKRUN);
    int ran = 0;
    for (;;) {
      // __io_run_local_work: the leftovers of the last batch first; new work
      // only once they are all run.
      min_events -= ran;
      TwNode* retry = ctx->tw_retry.load(std::memory_order_relaxed);
      ran = run_list(ctx, &retry, max_events);
      ctx->tw_retry.store(retry, std::memory_order_release);
      const bool took_new = !retry;
      if (took_new) {
        TwNode* fifo = take_fifo(ctx);
        ran += run_list(ctx, &fifo, max_events - ran);
        ctx->tw_retry.store(fifo, std::memory_order_release);
      }
      total += ran;
      if (took_new && local_continue(ctx, ran, min_events)) continue;
      flush_completions(ctx);
      if (!local_continue(ctx, ran, min_events)) break;
    }
    bdev = take_bdev_batch(ctx);
  }
  after_run(ctx, bdev);
  return total;
}

void tw_req_submit(IoKiocb* req) {
  if (!(req->flags & kReqForceAsync))
    queue_sqe(req);
  else if ((req->flags & kReqApollMultishot) && !req->link)
    queue_iowq_mshot(req, true);
  else if (arms_only_on_wq(req))
    queue_iowq_or_arm(req);
  else
    queue_iowq(req);
}

void tw_req_issue(IoKiocb* req) { queue_sqe(req); }

// Each retry re-arms the poll, which finds the file ready again and queues
// the retry behind the task work queued meanwhile (a cancel linked behind
// an earlier request of the batch does not find it: fuzz seed 1163778).
void tw_req_iowq(IoKiocb* req) {
  if (--req->rw.apoll_retries != 0) {
    tw_add(req, tw_req_iowq);
    return;
  }
  queue_iowq(req);
}

// Not issued while the file is idle: a receive's buffer is picked only once
// data came (fuzz seed 38521). One a cancel took off the list meanwhile
// ends with what the cancel set.
void tw_req_wq_start(IoKiocb* req) {
  bool cancelled;
  {
    core::LockGuard lock(req->ctx->wq_starting_lock);
    cancelled = !req->list.linked();
    req->list.del();
  }
  if (cancelled)
    req_defer_failed(req, req->res);
  else if (req->opcode == IORING_OP_POLL_ADD || !arm_apoll_if_idle(req))
    queue_sqe(req);
}

void tw_req_complete(IoKiocb* req) { req_complete_defer(req); }

void tw_req_cancel(IoKiocb* req) { req_defer_failed(req, req->res); }

void req_queue_tw_complete(IoKiocb* req, int res) {
  req_set_res(req, res, 0);
  tw_add(req, tw_req_complete);
}

}  // namespace iostack::uring
