// Timeouts (io_uring/timeout.c): TIMEOUT (by time and by completion count),
// TIMEOUT_REMOVE (and update), LINK_TIMEOUT, and the flush that completes
// counted timeouts as CQEs are posted. Timers run on core::real_clock(); a
// state word arbitrates between the timer firing and everyone else.
#include <time.h>

#include <cerrno>

#include "core/clock.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

enum TimeoutState : int { kIdle = 0, kArmed = 1, kFired = 2, kCancelled = 3, kUpdating = 4 };

core::Clock& clk() { return core::real_clock(); }

std::int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// When a timeout set with `flags` and (sec, nsec) expires, on the clock.
core::Nanos expiry(unsigned flags, std::int64_t sec, std::int64_t nsec) {
  const std::int64_t span = sec * 1000000000LL + nsec;
  const core::Nanos now = clk().now();
  if (!(flags & IORING_TIMEOUT_ABS)) return now + static_cast<core::Nanos>(span);
  clockid_t id = CLOCK_MONOTONIC;
  if (flags & IORING_TIMEOUT_REALTIME) id = CLOCK_REALTIME;
  if (flags & IORING_TIMEOUT_BOOTTIME) id = CLOCK_BOOTTIME;
  const std::int64_t left = span - clock_ns(id);
  return left <= 0 ? now : now + static_cast<core::Nanos>(left);
}

// A multishot timeout is a pure timer too: its count is a number of expiries.
bool is_noseq(IoKiocb* req) {
  return req->timeout.off == 0 || (req->timeout.flags & uapi::kTimeoutMultishot);
}

// io_timeout_finish: whether this expiry is the request's last one.
bool timeout_finish(IoKiocb* req) {
  TimeoutData& td = req->timeout;
  if (!(td.flags & uapi::kTimeoutMultishot)) return true;
  return td.off != 0 && (td.repeats == 0 || --td.repeats == 0);
}

// Puts a multishot timeout back on the list with its period (always
// relative, as the kernel keeps the mode it was prepared with). False when
// the ring is being torn down: kill_timeouts may already have run.
bool timeout_rearm(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  TimeoutData& td = req->timeout;
  ctx->timeout_lock.lock();
  const bool alive = ctx->alive.load(std::memory_order_seq_cst);
  if (alive) {
    req->list.add_tail(&ctx->timeout_list);
    req->tstate.store(kArmed, std::memory_order_relaxed);
    clk().arm(&req->timer, expiry(td.flags & ~IORING_TIMEOUT_ABS, td.sec, td.nsec));
  }
  ctx->timeout_lock.unlock();
  return alive;
}

// io_timeout_complete, as task work (uring_lock held, so a TIMEOUT_REMOVE
// never runs in the middle of it): a multishot expiry that is not the last
// posts -ETIME with F_MORE and starts the next period; when the CQ ring has
// no room the request ends here instead.
// A period of zero re-arms a timer that fires at once: the kernel's task
// work runs expiry after expiry before the submitter returns, until the last
// one or a full CQ ring (at most a ring's worth here, as a program may reap
// meanwhile where the kernel's could not).
void tw_timeout_complete(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  core::lockdep_assert_held(ctx->uring_lock);
  const TimeoutData& td = req->timeout;
  const bool zero_period = td.sec == 0 && td.nsec == 0;
  for (unsigned burst = 0; !timeout_finish(req); ++burst) {
    if (ctx->st.compl_first) flush_completions(ctx);  // CQEs queued earlier go first
    if (!post_req_cqe(req, -ETIME, IORING_CQE_F_MORE, 0)) break;
    if (zero_period && burst < ctx->cq_entries && ctx->alive.load(std::memory_order_seq_cst))
      continue;
    if (timeout_rearm(req)) return;
    req_set_fail(req);  // what io_kill_timeouts would have done to it
    req_set_res(req, -ECANCELED, 0);
    break;
  }
  req_complete_defer(req);
}

// hrtimer_start with a time already past: the kernel's timer interrupt
// comes at once, before its submitter gets to the next SQE or posts the
// batch's CQEs. Such a timer fires on the spot here (true: the caller runs
// the expiry), not after a wakeup of the timer thread.
bool arm_or_due(core::Timer* t, core::Nanos when) {
  if (when <= clk().now()) return true;
  clk().arm(t, when);
  return false;
}

// tw_add from the timer thread: the task work may run, the request end and
// the ring close before tw_add returns; teardown waits for `recycling`.
void tw_add_from_timer(IoKiocb* req, TwFn fn) {
  IoRingCtx* ctx = req->ctx;
  ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
  tw_add(req, fn);
  ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
}

// io_timeout_fn's part under timeout_lock: off the list, counted in cq_timeouts.
void timeout_expire(IoKiocb* req) {
  req->ctx->timeout_lock.assert_held();
  req->tstate.store(kFired, std::memory_order_relaxed);
  req->list.del();
  req->ctx->cq_timeouts.fetch_add(1, std::memory_order_release);
}

// The rest of io_timeout_fn: -ETIME, completed as task work, as the
// kernel's io_timeout_complete (so other timers due at the same moment
// still find it in its chain, and a timer due at once posts behind the
// CQEs of its batch).
void timeout_expired(IoKiocb* req, bool on_timer) {
  if (!(req->timeout.flags & IORING_TIMEOUT_ETIME_SUCCESS)) req_set_fail(req);
  req_set_res(req, -ETIME, 0);
  const TwFn fn =
      (req->timeout.flags & uapi::kTimeoutMultishot) ? tw_timeout_complete : tw_req_complete;
  if (on_timer)
    tw_add_from_timer(req, fn);
  else
    tw_add(req, fn);
}

void timeout_fn(core::Timer* t) {
  auto* req = static_cast<IoKiocb*>(t->priv);
  IoRingCtx* ctx = req->ctx;
  ctx->timeout_lock.lock();
  if (req->tstate.load(std::memory_order_relaxed) != kArmed) {
    ctx->timeout_lock.unlock();
    return;
  }
  timeout_expire(req);
  ctx->timeout_lock.unlock();
  timeout_expired(req, true);
}

// io_req_task_link_timeout: cancel the guarded request, then complete the
// timeout; the cancelled request's own completion is queued behind it.
void tw_link_timeout(IoKiocb* lt) {
  int res = -ETIME;
  if (IoKiocb* prev = lt->timeout.prev) {
    lt->timeout.prev = nullptr;
    CancelMatch cd;
    cd.ctx = lt->ctx;
    cd.data = prev->user_data;
    const int ret = try_cancel(&cd);
    if (ret) res = ret;
    req_put(prev, true);
  }
  req_set_res(lt, res, 0);
  req_complete_defer(lt);
}

// io_link_timeout_fn's part under timeout_lock: takes the guarded request out of
// the chain (holding a reference) for tw_link_timeout to cancel.
void link_timeout_expire(IoKiocb* lt) {
  lt->ctx->timeout_lock.assert_held();
  lt->tstate.store(kFired, std::memory_order_relaxed);
  IoKiocb* prev = lt->timeout.head;
  lt->timeout.head = nullptr;
  if (prev) {
    prev->link = lt->link;
    lt->link = nullptr;
    prev->refs.fetch_add(1, std::memory_order_acq_rel);
  }
  lt->list.del();
  lt->timeout.prev = prev;
}

void link_timeout_fn(core::Timer* t) {
  auto* lt = static_cast<IoKiocb*>(t->priv);
  IoRingCtx* ctx = lt->ctx;
  ctx->timeout_lock.lock();
  if (lt->tstate.load(std::memory_order_relaxed) != kArmed) {
    ctx->timeout_lock.unlock();
    return;
  }
  link_timeout_expire(lt);
  ctx->timeout_lock.unlock();
  tw_add_from_timer(lt, tw_link_timeout);
}

int prep_common(IoKiocb* req, const io_uring_sqe* sqe, bool is_link) {
  if (sqe->addr3 || sqe->__pad2[0]) return -EINVAL;  // unused fields (6.18 stable)
  if (sqe->buf_index || sqe->len != 1 || sqe->splice_fd_in) return -EINVAL;
  const std::uint32_t off = static_cast<std::uint32_t>(sqe->off);
  if (off && is_link) return -EINVAL;
  const unsigned flags = sqe->timeout_flags;
  if (flags & ~(IORING_TIMEOUT_ABS | IORING_TIMEOUT_CLOCK_MASK | IORING_TIMEOUT_ETIME_SUCCESS |
                uapi::kTimeoutMultishot))
    return -EINVAL;
  if (__builtin_popcount(flags & IORING_TIMEOUT_CLOCK_MASK) > 1) return -EINVAL;
  // A period repeats: only relative times make sense.
  if ((flags & uapi::kTimeoutMultishot) && (flags & IORING_TIMEOUT_ABS)) return -EINVAL;
  TimeoutData& td = req->timeout;
  td.off = off;
  td.repeats = (flags & uapi::kTimeoutMultishot) ? off : 0;
  td.flags = flags;
  td.head = td.prev = nullptr;
  td.target_seq = 0;
  if (off) req->ctx->off_timeout_used.store(true, std::memory_order_relaxed);
  struct __kernel_timespec ts;
  if (core::get_user(ts, reinterpret_cast<const struct __kernel_timespec*>(sqe->addr)))
    return -EFAULT;
  td.sec = ts.tv_sec;
  td.nsec = ts.tv_nsec;
  if (td.sec < 0 || td.nsec < 0) return -EINVAL;
  req->timer.priv = req;
  req->timer.fn = is_link ? link_timeout_fn : timeout_fn;
  if (is_link) {
    core::lockdep_assert_held(req->ctx->uring_lock);  // prep runs in the submission pass
    SubmitState& st = req->ctx->st;
    if (!st.link_head) return -EINVAL;
    if (st.link_last->opcode == IORING_OP_LINK_TIMEOUT) return -EINVAL;
    td.head = st.link_last;
    st.link_last->flags |= kReqArmLtimeout;
  }
  return 0;
}

std::uint32_t cq_tail_snapshot(IoRingCtx* ctx) {
  ctx->completion_lock.lock();
  // A ring shared across fork: CQEs of the other processes count too.
  const std::uint32_t tail = ctx->shared.load(std::memory_order_relaxed)
                                 ? load_acquire(ctx->rings->cq.tail)
                                 : ctx->cached_cq_tail;
  ctx->completion_lock.unlock();
  return tail;
}

// Finds an armed timeout matching `cd` on `list` and takes it off (state
// becomes `to`); the caller then stops its timer.
IoKiocb* extract(IoRingCtx*, core::ListHead* list, CancelMatch* cd, int to) {
  for (core::ListHead* n = list->first(); n != list; n = n->next) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(n);
    if (req->tstate.load(std::memory_order_relaxed) != kArmed) continue;
    if (!cancel_req_match(req, cd)) continue;
    req->tstate.store(to, std::memory_order_relaxed);
    if (to == kCancelled) req->list.del();
    return req;
  }
  return nullptr;
}

int timeout_update(IoRingCtx* ctx, std::uint64_t user_data, std::int64_t sec, std::int64_t nsec,
                   unsigned flags, bool ltimeout) {
  CancelMatch cd;
  cd.ctx = ctx;
  cd.data = user_data;
  ctx->timeout_lock.lock();
  IoKiocb* req = extract(ctx, ltimeout ? &ctx->ltimeout_list : &ctx->timeout_list, &cd, kUpdating);
  ctx->timeout_lock.unlock();
  if (!req) return -ENOENT;
  clk().cancel(&req->timer);
  bool due = false;
  ctx->timeout_lock.lock();
  if (req->tstate.load(std::memory_order_relaxed) == kUpdating) {
    req->tstate.store(kArmed, std::memory_order_relaxed);
    req->timeout.sec = sec;
    req->timeout.nsec = nsec;
    // The new time is absolute or relative as asked, on the clock the
    // timeout was prepared with (the update's clock flags are only checked).
    req->timeout.flags = (req->timeout.flags & ~IORING_TIMEOUT_ABS) | (flags & IORING_TIMEOUT_ABS);
    if (!ltimeout) {
      // No longer counts completions; a multishot one now repeats forever.
      req->timeout.off = 0;
      req->list.move_tail(&ctx->timeout_list);
    }
    due = arm_or_due(&req->timer, expiry(req->timeout.flags, sec, nsec));
    if (due && ltimeout)
      link_timeout_expire(req);
    else if (due)
      timeout_expire(req);
  }
  ctx->timeout_lock.unlock();
  if (due && ltimeout)
    tw_add(req, tw_link_timeout);
  else if (due)
    timeout_expired(req, false);
  return 0;
}

}  // namespace

int timeout_prep(IoKiocb* req, const io_uring_sqe* sqe) { return prep_common(req, sqe, false); }
int link_timeout_prep(IoKiocb* req, const io_uring_sqe* sqe) { return prep_common(req, sqe, true); }

int timeout_issue(IoKiocb* req, unsigned) {
  IoRingCtx* ctx = req->ctx;
  TimeoutData& td = req->timeout;
  ctx->timeout_lock.lock();
  core::ListHead* entry = ctx->timeout_list.last();
  if (!is_noseq(req)) {
    const std::uint32_t tail =
        cq_tail_snapshot(ctx) - ctx->cq_timeouts.load(std::memory_order_acquire);
    td.target_seq = tail + td.off;
    ctx->cq_last_tm_flush = tail;
    // Insertion sort: the first entry is always the one due first.
    for (entry = ctx->timeout_list.last(); entry != &ctx->timeout_list; entry = entry->prev) {
      IoKiocb* nxt = core::list_entry<IoKiocb, &IoKiocb::list>(entry);
      if (is_noseq(nxt)) continue;
      if (td.off >= nxt->timeout.target_seq - tail) break;
    }
  }
  req->list.add_after(entry);
  req->tstate.store(kArmed, std::memory_order_relaxed);
  const bool due = arm_or_due(&req->timer, expiry(td.flags, td.sec, td.nsec));
  if (due) timeout_expire(req);
  ctx->timeout_lock.unlock();
  if (due) timeout_expired(req, false);
  return kIouIssueSkipComplete;
}

int link_timeout_issue(IoKiocb*, unsigned) { return -EINVAL; }

void flush_timeouts(IoRingCtx* ctx) {
  core::ListHead done;
  ctx->timeout_lock.lock();
  const std::uint32_t seq =
      cq_tail_snapshot(ctx) - ctx->cq_timeouts.load(std::memory_order_acquire);
  for (core::ListHead* n = ctx->timeout_list.first(); n != &ctx->timeout_list;) {
    core::ListHead* next = n->next;
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(n);
    if (is_noseq(req)) break;
    const std::uint32_t needed = req->timeout.target_seq - ctx->cq_last_tm_flush;
    const std::uint32_t got = seq - ctx->cq_last_tm_flush;
    if (got < needed) break;
    if (req->tstate.load(std::memory_order_relaxed) == kArmed) {
      req->tstate.store(kCancelled, std::memory_order_relaxed);
      ctx->cq_timeouts.fetch_add(1, std::memory_order_release);
      req->list.move_tail(&done);
    }
    n = next;
  }
  ctx->cq_last_tm_flush = seq;
  ctx->timeout_lock.unlock();
  while (!done.empty()) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(done.first());
    req->list.del();
    clk().cancel(&req->timer);
    // io_flush_killed_timeouts completes them from task work: a
    // DEFER_TASKRUN ring posts the CQE only when its task next waits,
    // with the rest of its task work (fuzz seed 38075: a MSG_RING's
    // message to the ring itself before the TIMEOUT it completed).
    if (ctx->flags & IORING_SETUP_DEFER_TASKRUN) {
      req_queue_tw_complete(req, 0);
      continue;
    }
    req_set_res(req, 0, 0);
    req_complete_post(req);
  }
}

void queue_linked_timeout(IoKiocb* lt) {
  IoRingCtx* ctx = lt->ctx;
  ctx->timeout_lock.lock();
  bool due = false;
  if (lt->timeout.head && lt->tstate.load(std::memory_order_relaxed) == kIdle) {
    lt->tstate.store(kArmed, std::memory_order_relaxed);
    lt->list.add_tail(&ctx->ltimeout_list);
    due = arm_or_due(&lt->timer, expiry(lt->timeout.flags, lt->timeout.sec, lt->timeout.nsec));
    if (due) link_timeout_expire(lt);
  }
  ctx->timeout_lock.unlock();
  if (due) tw_add(lt, tw_link_timeout);
  req_put(lt, false);  // the submission reference
}

IoKiocb* disarm_linked_timeout(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  ctx->timeout_lock.lock();
  IoKiocb* lt = req->link;
  if (!lt || lt->opcode != IORING_OP_LINK_TIMEOUT || lt->timeout.head != req) {
    ctx->timeout_lock.unlock();
    return nullptr;
  }
  req->link = lt->link;
  lt->link = nullptr;
  lt->timeout.head = nullptr;
  const int st = lt->tstate.load(std::memory_order_relaxed);
  if (st == kArmed || st == kIdle) {
    lt->tstate.store(kCancelled, std::memory_order_relaxed);
    if (st == kArmed) lt->list.del();
    ctx->timeout_lock.unlock();
    if (st == kArmed) clk().cancel(&lt->timer);
    return lt;
  }
  ctx->timeout_lock.unlock();
  return nullptr;
}

void timeout_finish_cancelled(IoKiocb* req, int res) { req_queue_tw_complete(req, res); }

int timeout_cancel(IoRingCtx* ctx, CancelMatch* cd) {
  ctx->timeout_lock.lock();
  IoKiocb* req = extract(ctx, &ctx->timeout_list, cd, kCancelled);
  ctx->timeout_lock.unlock();
  if (!req) return -ENOENT;
  clk().cancel(&req->timer);
  req_set_fail(req);
  req_set_res(req, -ECANCELED, 0);
  tw_add(req, tw_req_cancel);
  return 0;
}

void kill_timeouts(IoRingCtx* ctx) {
  core::ListHead dead;
  ctx->timeout_lock.lock();
  for (core::ListHead* list : {&ctx->timeout_list, &ctx->ltimeout_list}) {
    while (!list->empty()) {
      IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(list->first());
      req->tstate.store(kCancelled, std::memory_order_relaxed);
      if (req->opcode == IORING_OP_LINK_TIMEOUT && req->timeout.head) {
        // The guarded request will find its timeout gone.
        IoKiocb* prev = req->timeout.head;
        prev->link = req->link;
        req->link = nullptr;
        req->timeout.head = nullptr;
      }
      req->list.move_tail(&dead);
    }
  }
  ctx->timeout_lock.unlock();
  while (!dead.empty()) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(dead.first());
    req->list.del();
    clk().cancel(&req->timer);
    req_set_fail(req);
    req_set_res(req, -ECANCELED, 0);
    req_complete_post(req);
  }
}

void handover_timeouts(IoRingCtx* ctx, bool (*adopt)(IoRingCtx*, std::uint64_t, core::Nanos)) {
  core::ListHead moved;
  ctx->timeout_lock.lock();
  for (core::ListHead* n = ctx->timeout_list.first(); n != &ctx->timeout_list;) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(n);
    n = n->next;
    // Pure one-shot timers only: a count or a link needs this engine.
    const bool pure = req->timeout.off == 0 && !(req->timeout.flags & uapi::kTimeoutMultishot);
    if (req->tstate.load(std::memory_order_relaxed) != kArmed || !pure || req->link ||
        (req->flags & kReqCqeSkip))
      continue;
    req->tstate.store(kCancelled, std::memory_order_relaxed);
    req->list.move_tail(&moved);
  }
  ctx->timeout_lock.unlock();
  while (!moved.empty()) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(moved.first());
    req->list.del();
    const core::Nanos expires = req->timer.expires;
    clk().cancel(&req->timer);
    if (adopt(ctx, req->user_data, expires)) {
      req->flags |= kReqCqeSkip;  // the adopter posts it
      req_set_res(req, -ETIME, 0);
    } else {
      req_set_fail(req);
      req_set_res(req, -ECANCELED, 0);
    }
    req_complete_post(req);
  }
}

int timeout_remove_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (req->flags & (kReqFixedFile | kReqBufferSelect)) return -EINVAL;
  if (sqe->addr3 || sqe->__pad2[0]) return -EINVAL;
  if (sqe->buf_index || sqe->len || sqe->splice_fd_in) return -EINVAL;
  TimeoutRemData& tr = req->timeout_rem;
  tr.ltimeout = false;
  tr.addr = sqe->addr;
  tr.flags = sqe->timeout_flags;
  if (tr.flags & IORING_TIMEOUT_UPDATE_MASK) {
    if (__builtin_popcount(tr.flags & IORING_TIMEOUT_CLOCK_MASK) > 1) return -EINVAL;
    if (tr.flags & IORING_LINK_TIMEOUT_UPDATE) tr.ltimeout = true;
    if (tr.flags & ~(IORING_TIMEOUT_UPDATE_MASK | IORING_TIMEOUT_ABS)) return -EINVAL;
    struct __kernel_timespec ts;
    if (core::get_user(ts, reinterpret_cast<const struct __kernel_timespec*>(sqe->addr2)))
      return -EFAULT;
    tr.sec = ts.tv_sec;
    tr.nsec = ts.tv_nsec;
    if (tr.sec < 0 || tr.nsec < 0) return -EINVAL;
  } else if (tr.flags) {
    return -EINVAL;
  }
  return 0;
}

int timeout_remove_issue(IoKiocb* req, unsigned) {
  TimeoutRemData& tr = req->timeout_rem;
  IoRingCtx* ctx = req->ctx;
  int ret;
  if (!(tr.flags & IORING_TIMEOUT_UPDATE)) {
    CancelMatch cd;
    cd.ctx = ctx;
    cd.data = tr.addr;
    ret = timeout_cancel(ctx, &cd);
  } else {
    ret = timeout_update(ctx, tr.addr, tr.sec, tr.nsec, tr.flags, tr.ltimeout);
  }
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
