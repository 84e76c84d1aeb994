// The flush state machine (block/blk-flush.c). A request that needs a flush
// before and/or after its data moves through PREFLUSH -> DATA -> POSTFLUSH;
// requests waiting for a flush share one flush request, and a request's own
// steps are never reordered.
#include "block/flush.hpp"

#include <bit>

#include "block/blk_mq.hpp"
#include "block/blk_mq_internal.hpp"
#include "block/request_queue.hpp"
#include "block/stats.hpp"
#include "core/mutex.hpp"

namespace iostack::block {
namespace {

// FLUSH_PENDING_TIMEOUT: how long a pending flush may wait for data in flight.
constexpr std::uint64_t kFlushPendingTimeoutNs = 5ull * 1000 * 1000 * 1000;

// Work found under the flush lock, done after dropping it: callbacks and
// dispatch may re-enter the flush machinery.
struct FlushWork {
  core::ListHead done;  // requests whose sequence ended, with their status
  BlkStatus status = BlkStatus::OK;
  HwCtx* run = nullptr;
};

std::uint32_t cur_seq(const Request* rq) { return 1u << std::countr_one(rq->flush_seq); }

void flush_end_io(Request* flush_rq, BlkStatus error);
void flush_data_end_io(Request* rq, BlkStatus error);

// blk_kick_flush: issue the one flush for everything pending, unless a flush
// is already running or data in flight may still join (for a while).
void kick_flush(RequestQueue* q, FlushQueue* fq, std::uint32_t flags, FlushWork* work)
    REQUIRES(fq->lock) {
  core::ListHead* pending = &fq->flush_queue[fq->pending_idx];
  if (fq->pending_idx != fq->running_idx || pending->empty()) return;
  if (fq->data_in_flight && q->now() < fq->pending_since + kFlushPendingTimeoutNs) return;
  fq->pending_idx ^= 1;
  Request* first = rq_from_queuelist(pending->first());
  Request* flush_rq = &fq->flush_rq;
  flush_rq->q = q;
  flush_rq->mq_hctx = first->mq_hctx;
  flush_rq->cmd_flags = REQ_OP_FLUSH | REQ_PREFLUSH | (flags & REQ_FAILFAST_MASK);
  flush_rq->rq_flags = RQF_FLUSH_SEQ;
  flush_rq->__sector = 0;
  flush_rq->__data_len = 0;
  flush_rq->bio = flush_rq->biotail = nullptr;
  flush_rq->nr_phys_segments = 0;
  flush_rq->ioprio = 0;
  flush_rq->start_time_ns = q->now();
  flush_rq->end_io = flush_end_io;
  flush_rq->queuelist.init();
  // Without an elevator the flush borrows the first waiter's driver tag, so
  // it can always be issued; with one it takes a driver tag at dispatch.
  flush_rq->internal_tag = -1;
  flush_rq->tag = q->elevator() ? -1 : first->tag;
  ++fq->flushes_issued;
  blk_mq_request_bypass_insert(flush_rq, false);
  work->run = flush_rq->mq_hctx;
}

// blk_flush_complete_seq: `seq` finished for `rq`; move it to its next step.
void complete_seq(Request* rq, FlushQueue* fq, std::uint32_t seq, BlkStatus error, FlushWork* work)
    REQUIRES(fq->lock) {
  rq->flush_seq |= seq;
  const std::uint32_t flags = rq->cmd_flags;
  const std::uint32_t next = error == BlkStatus::OK ? cur_seq(rq) : REQ_FSEQ_DONE;
  switch (next) {
    case REQ_FSEQ_PREFLUSH:
    case REQ_FSEQ_POSTFLUSH: {
      core::ListHead* pending = &fq->flush_queue[fq->pending_idx];
      if (pending->empty()) fq->pending_since = rq->q->now();
      rq->queuelist.add_tail(pending);
      break;
    }
    case REQ_FSEQ_DATA:
      ++fq->data_in_flight;
      blk_mq_request_bypass_insert(rq, true);
      work->run = rq->mq_hctx;
      break;
    default:  // REQ_FSEQ_DONE
      rq->queuelist.del();
      // blk_flush_restore_request: back to a normal request for completion.
      rq->bio = rq->biotail;
      rq->rq_flags &= ~RQF_FLUSH_SEQ;
      rq->end_io = rq->flush_saved_end_io;
      if (error != BlkStatus::OK) work->status = error;
      rq->queuelist.add_tail(&work->done);
      break;
  }
  kick_flush(rq->q, fq, flags, work);
}

void finish_work(FlushWork* work) {
  while (!work->done.empty()) {
    Request* rq = rq_from_queuelist(work->done.first());
    rq->queuelist.del();
    blk_mq_end_request(rq, work->status);
  }
  if (work->run) blk_mq_run_hw_queue(work->run);
}

void flush_end_io(Request* flush_rq, BlkStatus error) {
  RequestQueue* q = flush_rq->q;
  FlushQueue* fq = q->flush_queue();
  FlushWork work;
  HwCtx* hctx = flush_rq->mq_hctx;
  account_io_flush(flush_rq, q->now());
  flush_rq->state.store(MQ_RQ_IDLE, std::memory_order_relaxed);
  {
    core::LockGuard lock(fq->lock);
    if (!q->elevator()) {
      flush_rq->tag = -1;  // the borrowed tag stays with its owner
    } else if (flush_rq->tag >= 0) {
      hctx->tags->set_rq_for_tag(flush_rq->tag, nullptr);
      hctx->tags->put(flush_rq->tag);
      flush_rq->tag = -1;
    }
    core::ListHead* running = &fq->flush_queue[fq->running_idx];
    fq->running_idx ^= 1;
    core::ListHead list;
    running->splice_tail_init(&list);
    while (!list.empty()) {
      Request* rq = rq_from_queuelist(list.first());
      rq->queuelist.del();
      complete_seq(rq, fq, cur_seq(rq), error, &work);
    }
  }
  finish_work(&work);
}

void flush_data_end_io(Request* rq, BlkStatus error) {
  RequestQueue* q = rq->q;
  FlushQueue* fq = q->flush_queue();
  FlushWork work;
  HwCtx* hctx = rq->mq_hctx;
  // With an elevator the data step's driver tag goes back now; the
  // request keeps its scheduler tag until the sequence ends.
  if (q->elevator() && rq->tag >= 0) {
    hctx->tags->set_rq_for_tag(rq->tag, nullptr);
    hctx->tags->put(rq->tag);
    rq->tag = -1;
  }
  rq->rq_flags &= ~RQF_STARTED;
  {
    core::LockGuard lock(fq->lock);
    --fq->data_in_flight;
    rq->queuelist.init();
    complete_seq(rq, fq, REQ_FSEQ_DATA, error, &work);
  }
  finish_work(&work);
  if (hctx->restart.exchange(false)) blk_mq_run_hw_queue(hctx);
}

}  // namespace

std::uint32_t blk_flush_policy(bool write_cache, bool fua, const Request* rq) {
  std::uint32_t policy = 0;
  if (blk_rq_sectors(rq)) policy |= REQ_FSEQ_DATA;
  if (write_cache) {
    if (rq->cmd_flags & REQ_PREFLUSH) policy |= REQ_FSEQ_PREFLUSH;
    if (!fua && (rq->cmd_flags & REQ_FUA)) policy |= REQ_FSEQ_POSTFLUSH;
  }
  return policy;
}

bool blk_insert_flush(Request* rq) {
  RequestQueue* q = rq->q;
  FlushQueue* fq = q->flush_queue();
  const QueueLimits& lim = q->limits();
  const std::uint32_t policy = blk_flush_policy(lim.write_cache, lim.fua, rq);
  // What the driver sees: no PREFLUSH (the machinery does it), FUA only if
  // the device honours it, and still synchronous.
  rq->cmd_flags &= ~REQ_PREFLUSH;
  if (!lim.fua) rq->cmd_flags &= ~REQ_FUA;
  rq->cmd_flags |= REQ_SYNC;
  auto init_flush = [&] {
    rq->flush_seq = 0;
    rq->rq_flags |= RQF_FLUSH_SEQ;
    rq->flush_saved_end_io = rq->end_io;
    rq->end_io = flush_data_end_io;
  };
  switch (policy) {
    case 0:
      // An empty flush on a device without a write cache: nothing to do.
      blk_mq_end_request(rq, BlkStatus::OK);
      return true;
    case REQ_FSEQ_DATA:
      return false;
    case REQ_FSEQ_DATA | REQ_FSEQ_POSTFLUSH: {
      // The data goes the normal way; its completion triggers the flush.
      init_flush();
      rq->flush_seq |= REQ_FSEQ_PREFLUSH;
      core::LockGuard lock(fq->lock);
      ++fq->data_in_flight;
      return false;
    }
    default: {
      init_flush();
      FlushWork work;
      {
        core::LockGuard lock(fq->lock);
        complete_seq(rq, fq, REQ_FSEQ_ACTIONS & ~policy, BlkStatus::OK, &work);
      }
      finish_work(&work);
      return true;
    }
  }
}

}  // namespace iostack::block
