// The block tracepoints, written as blktrace records.
#include "block/blk_trace.hpp"

#include "block/disk.hpp"
#include "block/request_queue.hpp"
#include "trace/blktrace.hpp"
#include "trace/blktrace_api.hpp"

namespace iostack::block {
namespace {

trace::BlkTrace* trace_of(const RequestQueue* q) {
  Disk* d = q->disk();
  return d ? d->trace() : nullptr;
}

std::uint32_t categories(std::uint32_t opf) {
  const auto op = req_op(opf);
  return trace::BlkTrace::categories(op_is_write(opf), opf & REQ_SYNC, opf & REQ_RAHEAD,
                                     opf & REQ_META, opf & REQ_PREFLUSH, opf & REQ_FUA,
                                     op == REQ_OP_DISCARD, op == REQ_OP_FLUSH);
}

std::uint32_t bio_action(std::uint32_t a) {
  switch (a) {
    case kTraceQueue:
      return trace::kBlkTaQueue;
    case kTraceBackMerge:
      return trace::kBlkTaBackmerge;
    case kTraceFrontMerge:
      return trace::kBlkTaFrontmerge;
    default:
      return trace::kBlkTaGetrq;
  }
}

std::uint32_t rq_action(std::uint32_t a) {
  switch (a) {
    case kTraceInsert:
      return trace::kBlkTaInsert;
    case kTraceIssue:
      return trace::kBlkTaIssue;
    case kTraceRequeue:
      return trace::kBlkTaRequeue;
    default:
      return trace::kBlkTaBackmerge;
  }
}

}  // namespace

std::atomic<int> detail::g_traced_disks{0};

void detail::trace_bio(RequestQueue* q, const Bio* bio, std::uint32_t action) {
  trace::BlkTrace* t = trace_of(q);
  if (!t) return;
  t->add(q->now(), bio->bi_iter.bi_sector, bio->bi_iter.bi_size, categories(bio->bi_opf),
         bio_action(action), 0);
}

void detail::trace_rq(const Request* rq, std::uint32_t action) {
  trace::BlkTrace* t = trace_of(rq->q);
  if (!t) return;
  // Request events carry the FS category: these are not passthrough requests.
  t->add(rq->q->now(), blk_rq_pos(rq), blk_rq_bytes(rq),
         categories(rq->cmd_flags) | trace::tc_act(trace::kTcFs), rq_action(action), 0);
}

void detail::trace_rq_complete(const Request* rq, BlkStatus error, std::uint32_t nr_bytes) {
  trace::BlkTrace* t = trace_of(rq->q);
  if (!t) return;
  t->add(rq->q->now(), blk_rq_pos(rq), nr_bytes,
         categories(rq->cmd_flags) | trace::tc_act(trace::kTcFs), trace::kBlkTaComplete,
         static_cast<std::uint16_t>(blk_status_to_errno(error)));
}

void detail::trace_split(RequestQueue* q, const Bio* split, sector_t new_sector) {
  if (trace::BlkTrace* t = trace_of(q))
    t->add_split(q->now(), split->bi_iter.bi_sector, split->bi_iter.bi_size,
                 categories(split->bi_opf), new_sector);
}

void detail::trace_plug(RequestQueue* q) {
  if (trace::BlkTrace* t = trace_of(q)) t->add_plug(q->now());
}

void detail::trace_unplug(RequestQueue* q, unsigned depth, bool explicit_unplug) {
  if (trace::BlkTrace* t = trace_of(q)) t->add_unplug(q->now(), depth, explicit_unplug);
}

}  // namespace iostack::block
