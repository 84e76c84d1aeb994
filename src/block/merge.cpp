// Bio and request merging and splitting (blk-merge.c, blk-mq-sched.c).
#include "block/merge.hpp"

#include "block/blk_mq.hpp"
#include "block/blk_trace.hpp"
#include "block/disk.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "block/stats.hpp"

namespace iostack::block {
namespace {

constexpr std::uint64_t kPageSize = 4096;

void req_set_nomerge(RequestQueue* q, Request* rq) {
  rq->cmd_flags |= REQ_NOMERGE;
  if (Elevator* e = q->elevator(); e && e->last_merge == rq) e->last_merge = nullptr;
}

bool ll_new_hw_segment(Request* rq, unsigned nr_segs) {
  if (req_op(rq) == REQ_OP_DISCARD) return true;  // discard merges add no segment here
  if (rq->nr_phys_segments + nr_segs > blk_rq_get_max_segments(rq)) {
    req_set_nomerge(rq->q, rq);
    return false;
  }
  rq->nr_phys_segments = static_cast<std::uint16_t>(rq->nr_phys_segments + nr_segs);
  return true;
}

bool ll_merge_fn(Request* rq, Bio* bio, unsigned nr_segs, sector_t offset) {
  if (blk_rq_sectors(rq) + bio_sectors(bio) > blk_rq_get_max_sectors(rq, offset)) {
    req_set_nomerge(rq->q, rq);
    return false;
  }
  return ll_new_hw_segment(rq, nr_segs);
}

void set_mixed_merge_if_needed(Request* rq, const Bio* bio) {
  if ((rq->cmd_flags & REQ_FAILFAST_MASK) != (bio->bi_opf & REQ_FAILFAST_MASK))
    rq->rq_flags |= RQF_MIXED_MERGE;
}

BioMerge bio_attempt_back_merge(Request* rq, Bio* bio, unsigned nr_segs) {
  if (!ll_merge_fn(rq, bio, nr_segs, blk_rq_pos(rq))) return BioMerge::FAILED;
  trace_bio(rq->q, bio, kTraceBackMerge);
  set_mixed_merge_if_needed(rq, bio);
  rq->biotail->bi_next = bio;
  rq->biotail = bio;
  rq->__data_len += bio->bi_iter.bi_size;
  account_io_merge_bio(rq);
  return BioMerge::OK;
}

BioMerge bio_attempt_front_merge(Request* rq, Bio* bio, unsigned nr_segs) {
  if (!ll_merge_fn(rq, bio, nr_segs, bio->bi_iter.bi_sector)) return BioMerge::FAILED;
  trace_bio(rq->q, bio, kTraceFrontMerge);
  set_mixed_merge_if_needed(rq, bio);
  bio->bi_next = rq->bio;
  rq->bio = bio;
  rq->__sector = bio->bi_iter.bi_sector;
  rq->__data_len += bio->bi_iter.bi_size;
  account_io_merge_bio(rq);
  return BioMerge::OK;
}

BioMerge bio_attempt_discard_merge(RequestQueue* q, Request* rq, Bio* bio) {
  const unsigned segments = rq->nr_phys_segments;
  if (segments >= q->limits().max_discard_segments ||
      blk_rq_sectors(rq) + bio_sectors(bio) > blk_rq_get_max_sectors(rq, blk_rq_pos(rq))) {
    req_set_nomerge(q, rq);
    return BioMerge::FAILED;
  }
  rq->biotail->bi_next = bio;
  rq->biotail = bio;
  rq->__data_len += bio->bi_iter.bi_size;
  rq->nr_phys_segments = static_cast<std::uint16_t>(segments + 1);
  account_io_merge_bio(rq);
  return BioMerge::OK;
}

bool sched_allow_merge(RequestQueue* q, Request* rq, Bio* bio) {
  Elevator* e = q->elevator();
  return !e || e->allow_merge(rq, bio);
}

void elv_merged_request(RequestQueue* q, Request* rq, ElvMerge type) {
  Elevator* e = q->elevator();
  e->request_merged(rq, type);
  if (type == ElvMerge::BACK) e->rqhash_reposition(rq);
  e->last_merge = rq;
}

Request* attempt_back_merge(RequestQueue* q, Request* rq) {
  Request* next = q->elevator()->next_request(rq);
  return next ? blk_attempt_req_merge(q, rq, next) : nullptr;
}

Request* attempt_front_merge(RequestQueue* q, Request* rq) {
  Request* prev = q->elevator()->former_request(rq);
  return prev ? blk_attempt_req_merge(q, prev, rq) : nullptr;
}

// Length of the segment starting at `addr` with `left` bytes to go. Caller
// memory is pinned page by page, so a segment ends at a page boundary (pages
// are not assumed physically contiguous), at the segment boundary mask and at
// max_segment_size, as bvec_split_segs cuts them.
std::uint32_t segment_len(const QueueLimits& lim, std::uint64_t addr, std::uint32_t left) {
  std::uint64_t room = kPageSize - (addr & (kPageSize - 1));
  const std::uint64_t to_boundary = lim.seg_boundary_mask - (addr & lim.seg_boundary_mask) + 1;
  if (to_boundary < room) room = to_boundary;
  if (lim.max_segment_size < room) room = lim.max_segment_size;
  return static_cast<std::uint32_t>(room < left ? room : left);
}

// get_max_io_size: max_sectors clipped at the chunk boundary, ending on a
// physical block boundary when possible.
unsigned get_max_io_size(const QueueLimits& lim, const Bio* bio) {
  unsigned max_sectors = lim.max_sectors;
  if (lim.chunk_sectors) {
    const unsigned left =
        lim.chunk_sectors - static_cast<unsigned>(bio->bi_iter.bi_sector & (lim.chunk_sectors - 1));
    if (left < max_sectors) max_sectors = left;
  }
  const sector_t pbs = lim.physical_block_size >> kSectorShift;
  const sector_t lbs = lim.logical_block_size >> kSectorShift;
  const sector_t start = bio->bi_iter.bi_sector & (pbs - 1);
  const sector_t end = (start + max_sectors) & ~(pbs - 1);
  if (end > start) return static_cast<unsigned>(end - start);
  return static_cast<unsigned>(max_sectors & ~(lbs - 1));
}

// bio_may_need_split: false when the bio's bytes lie in one vector and make
// one segment within the size limit, the common single-page I/O, which then
// needs no segment walk.
bool bio_may_need_split(const QueueLimits& lim, const Bio* bio) {
  if (lim.chunk_sectors || !bio->bi_io_vec) return true;
  const BvecIter& it = bio->bi_iter;
  const BioVec& v = bio->bi_io_vec[it.bi_idx];
  if (it.bi_size > v.len - it.bi_bvec_done) return true;
  const std::uint64_t addr = reinterpret_cast<std::uint64_t>(v.base) + it.bi_bvec_done;
  return segment_len(lim, addr, it.bi_size) != it.bi_size ||
         it.bi_size > static_cast<std::uint64_t>(get_max_io_size(lim, bio)) << kSectorShift;
}

// Bytes of `bio` that fit in one request, and their segment count.
std::uint32_t split_rw_at(const QueueLimits& lim, const Bio* bio, unsigned* nr_segs) {
  const std::uint64_t max_bytes = static_cast<std::uint64_t>(get_max_io_size(lim, bio))
                                  << kSectorShift;
  unsigned nsegs = 0;
  std::uint32_t bytes = 0;
  bool split = false;
  BvecIter it = bio->bi_iter;
  while (it.bi_size && !split) {
    const BioVec& v = bio->bi_io_vec[it.bi_idx];
    std::uint32_t len = v.len - it.bi_bvec_done;
    if (len > it.bi_size) len = it.bi_size;
    auto addr = reinterpret_cast<std::uint64_t>(v.base) + it.bi_bvec_done;
    // Walk the piece segment by segment so a split can fall inside it.
    std::uint32_t left = len;
    while (left) {
      const std::uint32_t seg_len = segment_len(lim, addr, left);
      if (nsegs >= lim.max_segments || bytes + seg_len > max_bytes) {
        // Take what still fits of this segment when the byte limit stops us.
        if (nsegs < lim.max_segments && bytes < max_bytes) {
          bytes = static_cast<std::uint32_t>(max_bytes);
          ++nsegs;
        }
        split = true;
        break;
      }
      bytes += seg_len;
      addr += seg_len;
      left -= seg_len;
      ++nsegs;
    }
    bio_advance_iter(bio, &it, len);
  }
  *nr_segs = nsegs;
  if (!split) return bio->bi_iter.bi_size;
  // A split must end on a logical block boundary.
  return bytes & ~(lim.logical_block_size - 1);
}

// Sectors of a discard or write-zeroes bio that fit in one request.
sector_t split_nodata_at(const QueueLimits& lim, const Bio* bio) {
  const sector_t total = bio_sectors(bio);
  if (bio_op(bio) == REQ_OP_WRITE_ZEROES)
    return total > lim.max_write_zeroes_sectors ? lim.max_write_zeroes_sectors : total;
  sector_t max = lim.max_discard_sectors;
  const sector_t gran = lim.discard_granularity >> kSectorShift;
  if (gran > 1) max -= max % gran;
  if (total <= max) return total;
  // End the split on a granularity boundary so the remainder starts aligned.
  sector_t end = bio->bi_iter.bi_sector + max;
  if (gran > 1 && end % gran && end - end % gran > bio->bi_iter.bi_sector) end -= end % gran;
  return end - bio->bi_iter.bi_sector;
}

}  // namespace

bool blk_discard_mergable(const Request* rq) {
  return req_op(rq) == REQ_OP_DISCARD && rq->q->limits().max_discard_segments > 1;
}

bool elv_bio_merge_ok(Request* rq, Bio* bio) {
  return blk_rq_merge_ok(rq, bio) && sched_allow_merge(rq->q, rq, bio);
}

bool rq_mergeable(const Request* rq) {
  const auto op = req_op(rq);
  if (op == REQ_OP_FLUSH || op == REQ_OP_WRITE_ZEROES) return false;
  if (rq->cmd_flags & REQ_NOMERGE_FLAGS) return false;
  if (rq->rq_flags & (RQF_STARTED | RQF_FLUSH_SEQ)) return false;
  return true;
}

bool blk_rq_merge_ok(Request* rq, Bio* bio) {
  if (!rq_mergeable(rq) || !bio_mergeable(bio)) return false;
  if (req_op(rq) != bio_op(bio)) return false;
  if (rq->bio->bi_write_hint != bio->bi_write_hint) return false;
  if (rq->bio->bi_ioprio != bio->bi_ioprio) return false;
  // blk_cgroup_mergeable: no merging across cgroups.
  if (rq->bio->bi_blkcg != bio->bi_blkcg) return false;
  // Atomic writes merge only with atomic writes.
  if ((rq->cmd_flags & REQ_ATOMIC) != (bio->bi_opf & REQ_ATOMIC)) return false;
  return true;
}

ElvMerge blk_try_merge(const Request* rq, const Bio* bio) {
  if (blk_discard_mergable(rq)) return ElvMerge::DISCARD;
  if (blk_rq_pos(rq) + blk_rq_sectors(rq) == bio->bi_iter.bi_sector) return ElvMerge::BACK;
  if (blk_rq_pos(rq) - bio_sectors(bio) == bio->bi_iter.bi_sector) return ElvMerge::FRONT;
  return ElvMerge::NONE;
}

unsigned blk_rq_get_max_sectors(const Request* rq, sector_t offset) {
  const QueueLimits& lim = rq->q->limits();
  const auto op = req_op(rq);
  if (op == REQ_OP_DISCARD) return lim.max_discard_sectors;
  if (op == REQ_OP_WRITE_ZEROES) return lim.max_write_zeroes_sectors;
  const unsigned max_sectors = lim.max_sectors;
  if (!lim.chunk_sectors) return max_sectors;
  const unsigned left = lim.chunk_sectors - static_cast<unsigned>(offset & (lim.chunk_sectors - 1));
  return left < max_sectors ? left : max_sectors;
}

unsigned blk_rq_get_max_segments(const Request* rq) {
  const QueueLimits& lim = rq->q->limits();
  return req_op(rq) == REQ_OP_DISCARD ? lim.max_discard_segments : lim.max_segments;
}

BioMerge blk_attempt_bio_merge(RequestQueue* q, Request* rq, Bio* bio, unsigned nr_segs,
                               bool sched_allow) {
  if (!blk_rq_merge_ok(rq, bio)) return BioMerge::NONE;
  switch (blk_try_merge(rq, bio)) {
    case ElvMerge::BACK:
      if (!sched_allow || sched_allow_merge(q, rq, bio))
        return bio_attempt_back_merge(rq, bio, nr_segs);
      break;
    case ElvMerge::FRONT:
      if (!sched_allow || sched_allow_merge(q, rq, bio))
        return bio_attempt_front_merge(rq, bio, nr_segs);
      break;
    case ElvMerge::DISCARD:
      return bio_attempt_discard_merge(q, rq, bio);
    case ElvMerge::NONE:
      return BioMerge::NONE;
  }
  return BioMerge::FAILED;
}

bool blk_attempt_plug_merge(RequestQueue* q, Bio* bio, unsigned nr_segs) {
  BlkPlug* plug = current_plug();
  if (!plug || plug->mq_list.empty()) return false;
  for (core::ListHead* n = plug->mq_list.first(); n != &plug->mq_list; n = n->next) {
    Request* rq = rq_from_queuelist(n);
    if (rq->q == q) return blk_attempt_bio_merge(q, rq, bio, nr_segs, false) == BioMerge::OK;
    // Other queues' requests are skipped only when the plug mixes queues.
    if (!plug->multiple_queues) break;
  }
  return false;
}

bool blk_bio_list_merge(RequestQueue* q, core::ListHead* list, Bio* bio, unsigned nr_segs) {
  int checked = 8;
  for (core::ListHead* n = list->last(); n != list; n = n->prev) {
    if (!checked--) break;
    switch (blk_attempt_bio_merge(q, rq_from_queuelist(n), bio, nr_segs, true)) {
      case BioMerge::NONE:
        continue;
      case BioMerge::OK:
        return true;
      case BioMerge::FAILED:
        return false;
    }
  }
  return false;
}

Request* blk_attempt_req_merge(RequestQueue* q, Request* rq, Request* next) {
  if (!rq_mergeable(rq) || !rq_mergeable(next)) return nullptr;
  if (req_op(rq) != req_op(next)) return nullptr;
  if (rq->bio->bi_write_hint != next->bio->bi_write_hint) return nullptr;
  if (rq->bio->bi_ioprio != next->bio->bi_ioprio) return nullptr;
  if (rq->bio->bi_blkcg != next->bio->bi_blkcg) return nullptr;
  if ((rq->cmd_flags & REQ_ATOMIC) != (next->cmd_flags & REQ_ATOMIC)) return nullptr;
  if (blk_discard_mergable(rq)) {
    const unsigned segs = rq->nr_phys_segments + next->nr_phys_segments;
    if (segs > q->limits().max_discard_segments ||
        blk_rq_sectors(rq) + blk_rq_sectors(next) > blk_rq_get_max_sectors(rq, blk_rq_pos(rq)))
      return nullptr;
    rq->nr_phys_segments = static_cast<std::uint16_t>(segs);
  } else {
    if (blk_rq_end_sector(rq) != blk_rq_pos(next)) return nullptr;
    if (blk_rq_sectors(rq) + blk_rq_sectors(next) > blk_rq_get_max_sectors(rq, blk_rq_pos(rq)))
      return nullptr;
    const unsigned segs = rq->nr_phys_segments + next->nr_phys_segments;
    if (segs > blk_rq_get_max_segments(rq)) return nullptr;
    rq->nr_phys_segments = static_cast<std::uint16_t>(segs);
  }
  if (((rq->rq_flags | next->rq_flags) & RQF_MIXED_MERGE) ||
      (rq->cmd_flags & REQ_FAILFAST_MASK) != (next->cmd_flags & REQ_FAILFAST_MASK)) {
    rq->rq_flags |= RQF_MIXED_MERGE;
    next->rq_flags |= RQF_MIXED_MERGE;
  }
  // The survivor is as old as the older of the two, for accounting.
  if (next->start_time_ns < rq->start_time_ns) rq->start_time_ns = next->start_time_ns;
  rq->biotail->bi_next = next->bio;
  rq->biotail = next->biotail;
  rq->__data_len += blk_rq_bytes(next);
  if (!blk_discard_mergable(rq)) {
    Elevator* e = q->elevator();
    e->requests_merged(rq, next);
    e->rqhash_reposition(rq);
    e->rqhash_del(next);
    e->last_merge = rq;
  }
  account_io_merge_request(next);
  trace_rq(next, kTraceBackMerge);
  next->bio = next->biotail = nullptr;
  return next;
}

ElvMerge elv_merge(RequestQueue* q, Request** req, Bio* bio) {
  Elevator* e = q->elevator();
  if (q->nomerges() == 2 || !bio_mergeable(bio)) return ElvMerge::NONE;
  if (e->last_merge && elv_bio_merge_ok(e->last_merge, bio)) {
    const ElvMerge ret = blk_try_merge(e->last_merge, bio);
    if (ret != ElvMerge::NONE) {
      *req = e->last_merge;
      return ret;
    }
  }
  if (q->nomerges() == 1) return ElvMerge::NONE;
  Request* rq = e->rqhash_find(bio->bi_iter.bi_sector);
  if (rq && elv_bio_merge_ok(rq, bio)) {
    *req = rq;
    return blk_discard_mergable(rq) ? ElvMerge::DISCARD : ElvMerge::BACK;
  }
  return e->request_merge(req, bio);
}

bool blk_mq_sched_try_merge(RequestQueue* q, Bio* bio, unsigned nr_segs, Request** merged) {
  Request* rq = nullptr;
  switch (elv_merge(q, &rq, bio)) {
    case ElvMerge::BACK:
      if (!sched_allow_merge(q, rq, bio)) return false;
      if (bio_attempt_back_merge(rq, bio, nr_segs) != BioMerge::OK) return false;
      *merged = attempt_back_merge(q, rq);
      if (!*merged) elv_merged_request(q, rq, ElvMerge::BACK);
      return true;
    case ElvMerge::FRONT:
      if (!sched_allow_merge(q, rq, bio)) return false;
      if (bio_attempt_front_merge(rq, bio, nr_segs) != BioMerge::OK) return false;
      *merged = attempt_front_merge(q, rq);
      if (!*merged) elv_merged_request(q, rq, ElvMerge::FRONT);
      return true;
    case ElvMerge::DISCARD:
      return bio_attempt_discard_merge(q, rq, bio) == BioMerge::OK;
    case ElvMerge::NONE:
      break;
  }
  return false;
}

bool blk_mq_sched_try_insert_merge(RequestQueue* q, Request* rq, core::ListHead* free) {
  if (q->nomerges() == 2) return false;
  Elevator* e = q->elevator();
  if (e->last_merge && blk_attempt_req_merge(q, e->last_merge, rq)) {
    rq->queuelist.add_head(free);
    return true;
  }
  if (q->nomerges() == 1) return false;
  bool merged = false;
  // A merged request may now reach the one before it: keep going.
  for (;;) {
    Request* prev = e->rqhash_find(blk_rq_pos(rq));
    if (!prev || !blk_attempt_req_merge(q, prev, rq)) break;
    rq->queuelist.add_head(free);
    merged = true;
    rq = prev;
  }
  return merged;
}

unsigned bio_nr_segments(const RequestQueue* q, const Bio* bio) {
  if (bio_op(bio) == REQ_OP_DISCARD) return 1;
  if (!bio_has_data(bio)) return 0;
  unsigned n = 0;
  bio_for_each_segment(bio, [&](void* p, std::uint32_t len) {
    auto addr = reinterpret_cast<std::uint64_t>(p);
    while (len) {
      const std::uint32_t seg = segment_len(q->limits(), addr, len);
      addr += seg;
      len -= seg;
      ++n;
    }
  });
  return n;
}

Bio* bio_split_to_limits(RequestQueue* q, Bio* bio, unsigned* nr_segs) {
  const QueueLimits& lim = q->limits();
  sector_t split_sectors = 0;
  switch (bio_op(bio)) {
    case REQ_OP_DISCARD:
    case REQ_OP_WRITE_ZEROES:
      *nr_segs = bio_op(bio) == REQ_OP_DISCARD ? 1 : 0;
      if (split_nodata_at(lim, bio) < bio_sectors(bio)) split_sectors = split_nodata_at(lim, bio);
      break;
    default:
      if (!bio_has_data(bio)) {
        *nr_segs = 0;
        return bio;
      }
      if (!bio_may_need_split(lim, bio)) {
        *nr_segs = 1;
        return bio;
      }
      {
        const std::uint32_t bytes = split_rw_at(lim, bio, nr_segs);
        if (bytes < bio->bi_iter.bi_size) split_sectors = bytes >> kSectorShift;
      }
  }
  if (!split_sectors) return bio;
  Bio* split = bio_split(bio, split_sectors);
  // A piece split off for the limits has no chance to merge back.
  split->bi_opf |= REQ_NOMERGE;
  bio_chain(split, bio);
  trace_split(q, split, bio->bi_iter.bi_sector);
  q->split_count.fetch_add(1, std::memory_order_relaxed);
  submit_bio(bio);  // the remainder, queued on this thread's bio list
  return split;
}

}  // namespace iostack::block
