// Request allocation, insertion, dispatch and completion (block/blk-mq.c,
// blk-mq-sched.c).
#include "block/blk_mq.hpp"

#include <algorithm>
#include <bit>

#include "block/blk_mq_internal.hpp"
#include "block/blk_trace.hpp"
#include "block/disk.hpp"
#include "block/flush.hpp"
#include "block/merge.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "block/stats.hpp"
#include "core/clock.hpp"
#include "core/mutex.hpp"

namespace iostack::block {
namespace {

// A hardware queue this thread is dispatching, innermost first. A run asked
// for from inside its own dispatch (a request completed inside queue_rq
// restarting the queue) is the kernel's async run (kblockd): the outer
// dispatch does it once it is done, instead of nesting inside its batch.
struct DispatchFrame {
  HwCtx* hctx;
  bool rerun;
  DispatchFrame* outer;
};
thread_local DispatchFrame* t_dispatching = nullptr;

DispatchFrame* dispatching(const HwCtx* hctx) {
  for (DispatchFrame* f = t_dispatching; f; f = f->outer)
    if (f->hctx == hctx) return f;
  return nullptr;
}

// BLK_MQ_RESOURCE_DELAY (= BLK_MQ_BUDGET_DELAY): retry a busy queue with
// nothing in flight, or work the scheduler held back, after 3 ms.
constexpr std::uint64_t kResourceDelayNs = 3 * core::kNsPerMs;

bool bio_unaligned(const Bio* bio, const QueueLimits& lim) {
  const unsigned mask = lim.logical_block_size - 1;
  return (bio->bi_iter.bi_size & mask) || ((bio->bi_iter.bi_sector << kSectorShift) & mask);
}

void rq_init(Request* rq, RequestQueue* q, HwCtx* hctx, std::uint32_t opf, std::uint32_t rq_flags) {
  rq->q = q;
  rq->mq_hctx = hctx;
  rq->cmd_flags = opf;
  rq->rq_flags = rq_flags;
  rq->__sector = ~sector_t{0};
  rq->__data_len = 0;
  rq->bio = rq->biotail = nullptr;
  rq->nr_phys_segments = 0;
  rq->ioprio = 0;
  rq->write_hint = 0;
  rq->pid = -1;
  // A scheduler that orders its steps by the TSC takes the plug's reading
  // for this request's step (blk_plug_stamp): read in order, it costs no
  // second reading.
  const bool ordered = (rq_flags & RQF_USE_SCHED) && q->elevator()->wants_stamp();
  rq->start_time_ns = blk_time_get_ns(q->clock(), ordered);
  rq->io_start_time_ns = 0;
  rq->fifo_time = 0;
  rq->elv_priv[0] = rq->elv_priv[1] = nullptr;
  rq->flush_seq = 0;
  rq->end_io = nullptr;
  rq->end_io_data = nullptr;
  rq->queuelist.init();
  rq->hash.init();
  rq->flush_list.init();
  rq->state.store(MQ_RQ_IDLE, std::memory_order_relaxed);
}

// blk_mq_rq_ctx_init: the request of a tag just taken, ready for a bio.
Request* rq_ctx_init(const AllocData& data, BlkMqTags* tags, int tag, std::uint32_t rq_flags) {
  Request* rq = tags->static_rq(tag);
  rq_init(rq, data.q, data.hctx, data.cmd_flags, rq_flags);
  if (rq_flags & RQF_SCHED_TAGS) {
    rq->internal_tag = tag;
    rq->tag = -1;
    if (rq_flags & RQF_USE_SCHED) {
      Elevator* e = data.q->elevator();
      if (e->has_op(Elevator::kPrepareRequest)) e->prepare_request(rq);
    }
  } else {
    rq->tag = tag;
    rq->internal_tag = -1;
    tags->set_rq_for_tag(tag, rq);
  }
  return rq;
}

// __blk_mq_alloc_requests_batch: `nr` tags with one atomic when a word has
// them free; the first request is returned, the others wait on the plug.
// The caller's queue usage reference covers the first; each cached one
// takes its own.
Request* alloc_requests_batch(const AllocData& data, BlkMqTags* tags, std::uint32_t rq_flags,
                              unsigned nr, BlkPlug* plug) {
  unsigned offset = 0;
  std::uint64_t mask = tags->try_get_batch(nr, &offset);
  if (!mask) return nullptr;
  long taken = 0;
  while (mask) {
    const unsigned i = static_cast<unsigned>(std::countr_zero(mask));
    mask &= mask - 1;
    Request* rq = rq_ctx_init(data, tags, static_cast<int>(offset + i), rq_flags);
    rq->rq_next = plug->cached_rqs;
    plug->cached_rqs = rq;
    ++taken;
  }
  data.q->get_many(taken - 1);
  Request* rq = plug->cached_rqs;
  plug->cached_rqs = rq->rq_next;
  rq->rq_next = nullptr;
  return rq;
}

// __blk_mq_alloc_requests: a scheduler tag when an elevator is attached, else
// a driver tag; sleeps (flushing the plug first) when none is free, unless
// the bio asked not to wait. Under a plug that expects several I/Os, the
// tags of all of them are taken at once (blk_mq_get_new_requests).
Request* blk_mq_get_new_request(RequestQueue* q, Bio* bio, BlkPlug* plug) {
  HwCtx* hctx = q->map_queue();
  Elevator* e = q->elevator();
  std::uint32_t rq_flags = 0;
  AllocData data{q, bio->bi_opf, 0, hctx};
  BlkMqTags* tags = hctx->tags;
  if (e) {
    tags = hctx->sched_tags;
    rq_flags |= RQF_SCHED_TAGS;
    if (!op_is_flush(bio->bi_opf)) {
      rq_flags |= RQF_USE_SCHED;
      e->limit_depth(&data);
    }
  }
  if (plug && plug->nr_ios > 1) {
    const unsigned nr = plug->nr_ios;
    plug->nr_ios = 1;
    // blk_mq_get_tags: a capped depth takes its tags one at a time.
    if (!data.shallow_depth && nr <= tags->bits_per_word()) {
      if (Request* rq = alloc_requests_batch(data, tags, rq_flags, nr, plug)) return rq;
    }
  }
  int tag;
  for (;;) {
    const std::uint64_t seq = tags->wait_seq();
    tag = tags->try_get(data.shallow_depth);
    if (tag >= 0) break;
    if (bio->bi_opf & REQ_NOWAIT) return nullptr;
    // Before sleeping: make sure what is queued is moving, then sleep.
    blk_mq_run_hw_queue(hctx);
    blk_flush_current_plug_before_sleep();
    if (!tags->wait_for_free(q->clock(), seq, data.shallow_depth)) return nullptr;
  }
  return rq_ctx_init(data, tags, tag, rq_flags);
}

// blk_mq_peek_cached_request: the plug's next cached request, if it fits.
Request* peek_cached_request(BlkPlug* plug, const RequestQueue* q, std::uint32_t opf) {
  if (!plug) return nullptr;
  Request* rq = plug->cached_rqs;
  if (!rq || rq->q != q) return nullptr;
  if (op_is_flush(rq->cmd_flags) != op_is_flush(opf)) return nullptr;
  return rq;
}

// blk_mq_use_cached_rq: it takes the bio's op and the plug's time.
void use_cached_rq(Request* rq, BlkPlug* plug, const Bio* bio) {
  plug->cached_rqs = rq->rq_next;
  rq->rq_next = nullptr;
  rq->start_time_ns = blk_time_get_ns(rq->q->clock());
  rq->cmd_flags = bio->bi_opf;
  rq->queuelist.init();
}

void blk_mq_bio_to_request(Request* rq, Bio* bio, unsigned nr_segs) {
  if (bio->bi_opf & REQ_RAHEAD) rq->cmd_flags |= REQ_FAILFAST_MASK;
  rq->bio = rq->biotail = bio;
  rq->__sector = bio->bi_iter.bi_sector;
  rq->__data_len = bio->bi_iter.bi_size;
  rq->nr_phys_segments = static_cast<std::uint16_t>(nr_segs);
  rq->ioprio = bio->bi_ioprio;
  rq->write_hint = bio->bi_write_hint;
  rq->pid = bio->bi_pid;
  account_io_start(rq);
}

// blk_mq_sched_bio_merge: the elevator's merge, or the software queue's.
bool blk_mq_sched_bio_merge(RequestQueue* q, Bio* bio, unsigned nr_segs) {
  if (Elevator* e = q->elevator()) return e->may_merge() && e->bio_merge(bio, nr_segs);
  HwCtx* hctx = q->map_queue();
  if (!hctx->sw_queued.load(std::memory_order_acquire)) return false;
  core::LockGuard lock(hctx->ctx_lock);
  if (hctx->sw_queue.empty()) return false;
  return blk_bio_list_merge(q, &hctx->sw_queue, bio, nr_segs);
}

bool blk_mq_attempt_bio_merge(RequestQueue* q, Bio* bio, unsigned nr_segs) {
  if (q->nomerges() == 2 || !bio_mergeable(bio)) return false;
  if (blk_attempt_plug_merge(q, bio, nr_segs)) return true;
  return blk_mq_sched_bio_merge(q, bio, nr_segs);
}

void blk_mq_start_request(Request* rq) {
  trace_rq(rq, kTraceIssue);
  if (rq->q->stats_enabled()) rq->io_start_time_ns = blk_time_get_ns(rq->q->clock());
  rq->rq_flags |= RQF_STARTED;
  rq->state.store(MQ_RQ_IN_FLIGHT, std::memory_order_release);
  core::local_add(rq->mq_hctx->counters.local()->nr_active, std::int64_t{1});
}

void put_driver_tag(Request* rq) {
  if (rq->tag < 0) return;
  HwCtx* hctx = rq->mq_hctx;
  const int tag = rq->tag;
  rq->tag = -1;
  hctx->tags->set_rq_for_tag(tag, nullptr);
  hctx->tags->put(tag);
}

// __blk_mq_requeue_request: the driver could not take a started request.
void requeue_started(Request* rq) {
  // A scheduler request gives its driver tag back; one allocated with a
  // driver tag keeps it (it is its only tag).
  if (rq->internal_tag >= 0) put_driver_tag(rq);
  trace_rq(rq, kTraceRequeue);
  HwCtxCounters* c = rq->mq_hctx->counters.local();
  core::local_add(c->nr_active, std::int64_t{-1});
  rq->rq_flags &= ~RQF_STARTED;
  rq->state.store(MQ_RQ_IDLE, std::memory_order_relaxed);
  core::local_add(c->requeued, std::uint64_t{1});
}

// When a delayed work queued now for `delay` runs. The kernel turns the
// delay into jiffies (msecs_to_jiffies rounds up: 3 ms is one jiffy at
// HZ=250), and the timer wheel files a timer one jiffy past its expiry on
// its finest level so that it never fires early: the work runs on the tick
// delay+1 jiffies after the current one, 4-8 ms away for 3 ms at HZ=250
// (the kernel's reruns of held-back work come 8 ms apart). The kernel's
// ticks fall on multiples of the jiffy on CLOCK_MONOTONIC (not on
// CLOCK_MONOTONIC_COARSE's grid, which trails them by up to a tick), so
// a rerun lands with whatever else the host does on its ticks, such as
// blk-throttle's releases. Without ticks (a simulation) it is `delay` from
// now.
std::uint64_t delayed_work_expiry(const core::Clock* clock, std::uint64_t delay) {
  const std::uint64_t now = clock->now();
  const std::uint64_t tick = clock->jiffy();
  if (!tick) return now + delay;
  const std::uint64_t jiffies = now / tick;
  const std::uint64_t delay_jiffies = (delay + tick - 1) / tick;
  return (jiffies + delay_jiffies + 1) * tick;
}

// blk_mq_delay_run_hw_queue with BLK_MQ_RESOURCE_DELAY: (re)arms the rerun.
void delay_run(HwCtx* hctx) {
  const std::uint64_t expires = delayed_work_expiry(hctx->queue->clock(), kResourceDelayNs);
  hctx->delay_expires.store(expires, std::memory_order_relaxed);
  hctx->queue->clock()->arm(&hctx->delay_timer, expires);
}

// blk_mq_delay_run_hw_queues with BLK_MQ_BUDGET_DELAY, after the scheduler
// held work back: a rerun already pending is left where it is. Pushing it
// back on every fruitless dispatch would tie the reruns to the submissions
// of the class that holds the others back, not to the clock.
void delay_run_if_idle(HwCtx* hctx) {
  if (hctx->delay_expires.load(std::memory_order_relaxed) > hctx->queue->now()) return;
  delay_run(hctx);
}

// The hardware queue is stuck on a busy driver: rerun it after a completion,
// or after BLK_MQ_RESOURCE_DELAY if nothing is in flight to complete.
void mark_restart(HwCtx* hctx) {
  hctx->restart.store(true, std::memory_order_seq_cst);
  if (hctx->nr_active() == 0) delay_run(hctx);
}

// The end of blk_mq_dispatch_rq_list when the driver or the tags ran out:
// what is left goes back to the front of hctx->dispatch. Returns false.
[[gnu::noinline]] bool dispatch_stopped(HwCtx* hctx, core::ListHead* list, bool busy,
                                        bool sent_last) {
  // Give back driver tags taken ahead for requests that stay queued.
  for (core::ListHead* n = list->first(); n != list; n = n->next) {
    Request* rq = rq_from_queuelist(n);
    if (rq->internal_tag >= 0) put_driver_tag(rq);
  }
  if (!sent_last) hctx->queue->driver()->commit_rqs(hctx);
  {
    core::LockGuard lock(hctx->lock);
    list->splice_tail_init(&hctx->dispatch);  // list is ahead of anything newer
    hctx->has_parked.store(true, std::memory_order_release);
  }
  if (busy) mark_restart(hctx);
  return false;
}

// blk_mq_dispatch_rq_list: hand requests to the driver in order. Returns
// false when the driver or the tags ran out; the rest goes back to the front
// of hctx->dispatch. Inlined: with a scheduler every I/O passes here, mostly
// in a batch of one.
[[gnu::always_inline]] inline bool dispatch_rq_list(HwCtx* hctx, core::ListHead* list) {
  BlockDriver* drv = hctx->queue->driver();
  bool busy = false;
  bool sent_last = true;
  while (!list->empty()) {
    Request* rq = rq_from_queuelist(list->first());
    if (!blk_mq_get_driver_tag(rq)) {
      busy = true;
      break;
    }
    rq->queuelist.del();
    bool last = list->empty();
    if (!last) last = !blk_mq_get_driver_tag(rq_from_queuelist(list->first()));
    blk_mq_start_request(rq);
    const BlkStatus ret = drv->queue_rq(hctx, rq, last);
    sent_last = last;
    if (ret == BlkStatus::OK) {
      core::local_add(hctx->counters.local()->dispatched, std::uint64_t{1});
      continue;
    }
    if (ret == BlkStatus::RESOURCE || ret == BlkStatus::DEV_RESOURCE) {
      requeue_started(rq);
      rq->queuelist.add_head(list);
      busy = true;
      break;
    }
    blk_mq_end_request(rq, ret);
  }
  if (list->empty()) [[likely]]
    return true;
  return dispatch_stopped(hctx, list, busy, sent_last);
}

// Requests parked on hctx->dispatch go first, in order.
bool dispatch_parked(HwCtx* hctx) {
  if (!hctx->has_parked.load(std::memory_order_acquire)) return true;
  core::ListHead list;
  {
    core::LockGuard lock(hctx->lock);
    if (hctx->dispatch.empty()) return true;
    // Keep them in order: move the parked list to the local list's tail.
    hctx->dispatch.splice_tail_init(&list);
    hctx->has_parked.store(false, std::memory_order_relaxed);
  }
  return dispatch_rq_list(hctx, &list);
}

// Issues one batch the elevator gave; false when the queue run is to stop
// there (nothing given, or the driver or the tags ran out).
[[gnu::always_inline]] inline bool dispatch_sched_batch(HwCtx* hctx, core::ListHead* list,
                                                        unsigned count, bool run_later) {
  if (!count) {
    // Work the scheduler holds back (a lower class behind a higher one):
    // look again after BLK_MQ_BUDGET_DELAY.
    if (run_later) delay_run_if_idle(hctx);
    return false;
  }
  return dispatch_rq_list(hctx, list);
}

// __blk_mq_do_dispatch_sched: take a batch from the elevator, dispatch it.
void dispatch_sched(HwCtx* hctx) {
  Elevator* e = hctx->queue->elevator();
  const unsigned max_dispatch = hctx->queue->nr_requests();
  for (;;) {
    core::ListHead list;
    bool run_later = false;
    // No driver tag ends a batch: the device could not take more anyway.
    const unsigned count = e->dispatch_batch(hctx, &list, max_dispatch, &run_later);
    if (!dispatch_sched_batch(hctx, &list, count, run_later)) return;
  }
}

void dispatch_ctx(HwCtx* hctx) {
  if (!hctx->sw_queued.load(std::memory_order_acquire)) return;
  core::ListHead list;
  {
    core::LockGuard lock(hctx->ctx_lock);
    hctx->sw_queue.splice_tail_init(&list);
    hctx->sw_queued.store(false, std::memory_order_relaxed);
  }
  if (!list.empty()) dispatch_rq_list(hctx, &list);
}

void dispatch_once(HwCtx* hctx) {
  if (!dispatch_parked(hctx)) return;
  if (hctx->queue->elevator())
    dispatch_sched(hctx);
  else
    dispatch_ctx(hctx);
}

void blk_mq_sched_restart(HwCtx* hctx) {
  if (hctx->restart.load(std::memory_order_acquire) &&
      hctx->restart.exchange(false, std::memory_order_acq_rel))
    blk_mq_run_hw_queue(hctx);
}

// Issue to the driver without queueing: the path of blk_mq_issue_direct.
BlkStatus issue_directly(HwCtx* hctx, Request* rq, bool last) {
  if (!blk_mq_get_driver_tag(rq)) return BlkStatus::RESOURCE;
  blk_mq_start_request(rq);
  const BlkStatus ret = rq->q->driver()->queue_rq(hctx, rq, last);
  if (ret == BlkStatus::OK)
    core::local_add(hctx->counters.local()->dispatched, std::uint64_t{1});
  else if (ret == BlkStatus::RESOURCE || ret == BlkStatus::DEV_RESOURCE)
    requeue_started(rq);
  return ret;
}

}  // namespace

void blk_mq_submit_bio(Bio* bio) {
  RequestQueue* q = bio->bi_bdev->queue();
  BlkPlug* plug = current_plug();
  // A cached request already holds a queue usage reference.
  Request* rq = peek_cached_request(plug, q, bio->bi_opf);
  const bool cached = rq != nullptr;
  if (!cached) q->enter();
  if (bio_unaligned(bio, q->limits())) {
    if (!cached) q->exit();
    bio_io_error(bio, BlkStatus::IOERR);
    return;
  }
  unsigned nr_segs = 0;
  bio = bio_split_to_limits(q, bio, &nr_segs);
  if (blk_mq_attempt_bio_merge(q, bio, nr_segs)) {
    if (!cached) q->exit();
    return;
  }
  if (cached) {
    use_cached_rq(rq, plug, bio);
  } else {
    rq = blk_mq_get_new_request(q, bio, plug);
    if (!rq) {
      q->exit();
      bio_io_error(bio, BlkStatus::AGAIN);
      return;
    }
  }
  trace_bio(q, bio, kTraceGetRq);
  blk_mq_bio_to_request(rq, bio, nr_segs);
  if (op_is_flush(bio->bi_opf) && blk_insert_flush(rq)) return;
  if (plug) {
    blk_add_rq_to_plug(plug, rq);
    return;
  }
  HwCtx* hctx = rq->mq_hctx;
  if (rq->rq_flags & RQF_USE_SCHED) {
    core::ListHead list;
    rq->queuelist.add_tail(&list);
    blk_mq_sched_insert_and_run(hctx, &list, INSERT_NONE);
  } else {
    blk_mq_try_issue_directly(hctx, rq);
  }
}

void blk_mq_try_issue_directly(HwCtx* hctx, Request* rq) {
  // Anything parked ahead of us must go first, and so must the batch this
  // thread is dispatching (a request issued from inside queue_rq's completion).
  const bool parked = hctx->has_parked.load(std::memory_order_acquire);
  if (parked || (t_dispatching && dispatching(hctx))) [[unlikely]] {
    blk_mq_insert_request(rq, INSERT_NONE);
    blk_mq_run_hw_queue(hctx);
    return;
  }
  const BlkStatus ret = issue_directly(hctx, rq, true);
  if (ret == BlkStatus::OK) return;
  if (ret == BlkStatus::RESOURCE || ret == BlkStatus::DEV_RESOURCE) {
    blk_mq_request_bypass_insert(rq, false);
    mark_restart(hctx);
    return;
  }
  blk_mq_end_request(rq, ret);
}

void blk_mq_issue_list_directly(core::ListHead* list) {
  HwCtx* hctx = nullptr;
  bool pending_commit = false;
  while (!list->empty()) {
    Request* rq = rq_from_queuelist(list->first());
    rq->queuelist.del();
    const bool last = list->empty();
    if (hctx != rq->mq_hctx) {
      if (hctx && pending_commit) rq->q->driver()->commit_rqs(hctx);
      hctx = rq->mq_hctx;
      pending_commit = false;
    }
    const BlkStatus ret = issue_directly(hctx, rq, last);
    if (ret == BlkStatus::OK) {
      pending_commit = !last;
      continue;
    }
    if (ret == BlkStatus::RESOURCE || ret == BlkStatus::DEV_RESOURCE) {
      if (pending_commit) rq->q->driver()->commit_rqs(hctx);
      blk_mq_request_bypass_insert(rq, false);
      blk_mq_run_hw_queue(hctx);
      return;
    }
    blk_mq_end_request(rq, ret);
  }
}

void blk_mq_insert_request(Request* rq, unsigned flags) {
  HwCtx* hctx = rq->mq_hctx;
  if (req_op(rq) == REQ_OP_FLUSH) {
    blk_mq_request_bypass_insert(rq, true);
  } else if (rq->rq_flags & RQF_USE_SCHED) {
    core::ListHead list;
    rq->queuelist.add_tail(&list);
    rq->q->elevator()->insert_requests(hctx, &list, flags);
  } else if (rq->q->elevator()) {
    // Past the scheduler (a flush-sequence step): the dispatch list.
    blk_mq_request_bypass_insert(rq, flags & INSERT_AT_HEAD);
  } else {
    trace_rq(rq, kTraceInsert);
    core::LockGuard lock(hctx->ctx_lock);
    if (flags & INSERT_AT_HEAD)
      rq->queuelist.add_head(&hctx->sw_queue);
    else
      rq->queuelist.add_tail(&hctx->sw_queue);
    hctx->sw_queued.store(true, std::memory_order_release);
  }
}

void blk_mq_request_bypass_insert(Request* rq, bool at_head) {
  HwCtx* hctx = rq->mq_hctx;
  core::LockGuard lock(hctx->lock);
  if (at_head)
    rq->queuelist.add_head(&hctx->dispatch);
  else
    rq->queuelist.add_tail(&hctx->dispatch);
  hctx->has_parked.store(true, std::memory_order_release);
}

void blk_mq_run_hw_queue(HwCtx* hctx) {
  // Every thread dispatches for itself, as every CPU does in the kernel
  // (blk_mq_sched_dispatch_requests): the elevator's lock serialises
  // dispatch_request and hctx->lock the dispatch list, and drivers take
  // concurrent queue_rq calls (BlockDriver's contract).
  if (DispatchFrame* f = t_dispatching ? dispatching(hctx) : nullptr) [[unlikely]] {
    f->rerun = true;
    return;
  }
  DispatchFrame frame{hctx, false, t_dispatching};
  t_dispatching = &frame;
  do {
    frame.rerun = false;
    dispatch_once(hctx);
  } while (frame.rerun);
  t_dispatching = frame.outer;
}

void blk_mq_sched_insert_and_run(HwCtx* hctx, core::ListHead* list, unsigned flags) {
  Elevator* e = hctx->queue->elevator();
  // Requests parked on hctx->dispatch go first, and a run from inside this
  // thread's own dispatch is left to it: insert, then run as usual.
  if (hctx->has_parked.load(std::memory_order_acquire) || (t_dispatching && dispatching(hctx)))
      [[unlikely]] {
    e->insert_requests(hctx, list, flags);
    blk_mq_run_hw_queue(hctx);
    return;
  }
  DispatchFrame frame{hctx, false, t_dispatching};
  t_dispatching = &frame;
  core::ListHead batch;
  bool run_later = false;
  const unsigned count =
      e->insert_and_dispatch(hctx, list, flags, &batch, hctx->queue->nr_requests(), &run_later);
  // has_work first, as __blk_mq_do_dispatch_sched asks before each call: a
  // request that went in alone and out at once leaves nothing to ask for.
  if (dispatch_sched_batch(hctx, &batch, count, run_later) && e->elv_has_work(hctx))
    dispatch_sched(hctx);
  while (frame.rerun) {
    frame.rerun = false;
    dispatch_once(hctx);
  }
  t_dispatching = frame.outer;
}

void blk_mq_run_hw_queues(RequestQueue* q) {
  for (unsigned i = 0; i < q->nr_hw_queues(); ++i) blk_mq_run_hw_queue(q->hctx(i));
}

bool blk_update_request(Request* rq, BlkStatus error, unsigned nr_bytes) {
  trace_rq_complete(rq, error, nr_bytes);
  if (!rq->bio) return false;
  account_io_completion(rq, nr_bytes);
  unsigned total = 0;
  while (rq->bio) {
    Bio* bio = rq->bio;
    const unsigned bio_bytes = bio->bi_iter.bi_size < nr_bytes ? bio->bi_iter.bi_size : nr_bytes;
    if (error != BlkStatus::OK) bio->bi_status = error;
    if (bio_bytes == bio->bi_iter.bi_size) rq->bio = bio->bi_next;
    bio_clear_flag_shared(bio, BIO_TRACE_COMPLETION);
    bio_advance(bio, bio_bytes);
    // Bios of a flush sequence are ended by the flush machinery.
    if (bio->bi_iter.bi_size == 0 && !(rq->rq_flags & RQF_FLUSH_SEQ)) {
      bio->bi_next = nullptr;
      bio_endio(bio);
    }
    total += bio_bytes;
    nr_bytes -= bio_bytes;
    if (!nr_bytes) break;
  }
  if (!rq->bio) {
    rq->__data_len = 0;
    return false;
  }
  rq->__data_len -= total;
  rq->__sector += total >> kSectorShift;
  if (rq->rq_flags & RQF_MIXED_MERGE) {
    rq->cmd_flags &= ~REQ_FAILFAST_MASK;
    rq->cmd_flags |= rq->bio->bi_opf & REQ_FAILFAST_MASK;
  }
  rq->nr_phys_segments = static_cast<std::uint16_t>(bio_nr_segments(rq->q, rq->bio));
  for (Bio* b = rq->bio->bi_next; b; b = b->bi_next)
    rq->nr_phys_segments =
        static_cast<std::uint16_t>(rq->nr_phys_segments + bio_nr_segments(rq->q, b));
  return true;
}

void blk_mq_end_request_nodata(Request* rq, BlkStatus error) {
  // Another thread's plug may have stamped the request after this one's
  // plug read the clock: time never runs backwards for a request.
  const std::uint64_t now =
      std::max({blk_time_get_ns(rq->q->clock()), rq->start_time_ns, rq->io_start_time_ns});
  if (rq->rq_flags & RQF_STARTED) {
    rq->rq_flags &= ~RQF_STARTED;
    core::local_add(rq->mq_hctx->counters.local()->nr_active, std::int64_t{-1});
  }
  if (Elevator* e = rq->q->elevator();
      e && (rq->rq_flags & RQF_USE_SCHED) && e->has_op(Elevator::kCompletedRequest)) {
    e->completed_request(rq, now);
  }
  account_io_done(rq, now);
  rq->state.store(MQ_RQ_COMPLETE, std::memory_order_release);
  if (rq->end_io)
    rq->end_io(rq, error);
  else
    blk_mq_free_request(rq);
}

void blk_mq_end_request(Request* rq, BlkStatus error) {
  blk_update_request(rq, error, blk_rq_bytes(rq));
  blk_mq_end_request_nodata(rq, error);
}

void blk_mq_free_request(Request* rq) {
  RequestQueue* q = rq->q;
  HwCtx* hctx = rq->mq_hctx;
  if (rq->rq_flags & RQF_USE_SCHED) {
    q->elevator()->finish_request(rq);
    rq->rq_flags &= ~RQF_USE_SCHED;
  }
  const int sched_tag = rq->internal_tag;
  put_driver_tag(rq);
  rq->state.store(MQ_RQ_IDLE, std::memory_order_relaxed);
  if (sched_tag >= 0) {
    rq->internal_tag = -1;
    hctx->sched_tags->put(sched_tag);
  }
  blk_mq_sched_restart(hctx);
  q->exit();
}

void blk_mq_free_plug_rqs(BlkPlug* plug) {
  while (Request* rq = plug->cached_rqs) {
    plug->cached_rqs = rq->rq_next;
    rq->rq_next = nullptr;
    blk_mq_free_request(rq);
  }
}

void blk_mq_free_requests(core::ListHead* list) {
  while (!list->empty()) {
    Request* rq = rq_from_queuelist(list->first());
    rq->queuelist.del();
    blk_mq_free_request(rq);
  }
}

void blk_mq_requeue_request(Request* rq, bool kick) {
  requeue_started(rq);
  if (Elevator* e = rq->q->elevator(); e && (rq->rq_flags & RQF_USE_SCHED)) e->requeue_request(rq);
  blk_mq_request_bypass_insert(rq, true);
  if (kick) blk_mq_run_hw_queue(rq->mq_hctx);
}

}  // namespace iostack::block
