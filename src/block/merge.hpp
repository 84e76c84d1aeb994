// Internal merge and split helpers (block/blk-merge.c, blk-mq-sched.c).
#pragma once

#include "block/bio.hpp"
#include "block/elevator.hpp"
#include "block/request.hpp"

namespace iostack::block {

class RequestQueue;
struct QueueLimits;

enum class BioMerge { OK, NONE, FAILED };

// A discard request that can take bios anywhere (max_discard_segments > 1).
bool blk_discard_mergable(const Request* rq);
// blk_rq_merge_ok plus the elevator's allow_merge (elv_bio_merge_ok).
bool elv_bio_merge_ok(Request* rq, Bio* bio);
// rq_mergeable: not a flush, not write-zeroes, no NOMERGE flags, not started.
bool rq_mergeable(const Request* rq);
inline bool bio_mergeable(const Bio* bio) { return !(bio->bi_opf & REQ_NOMERGE_FLAGS); }
// blk_try_merge: where `bio` would join `rq` by position.
ElvMerge blk_try_merge(const Request* rq, const Bio* bio);
// blk_attempt_bio_merge: compatibility, position and size checks, then merge.
BioMerge blk_attempt_bio_merge(RequestQueue* q, Request* rq, Bio* bio, unsigned nr_segs,
                               bool sched_allow_merge);
// Plug merge: the first plugged request of this queue (blk_attempt_plug_merge).
bool blk_attempt_plug_merge(RequestQueue* q, Bio* bio, unsigned nr_segs);
// The last 8 requests of a software queue, newest first (blk_bio_list_merge).
bool blk_bio_list_merge(RequestQueue* q, core::ListHead* list, Bio* bio, unsigned nr_segs);
// Request-request merge of `next` into `rq`; returns `next` (to free) or null.
Request* blk_attempt_req_merge(RequestQueue* q, Request* rq, Request* next);
// blk_rq_get_max_sectors at `offset` and the segment limit for `rq`.
unsigned blk_rq_get_max_sectors(const Request* rq, sector_t offset);
unsigned blk_rq_get_max_segments(const Request* rq);

// __bio_split_to_limits: returns the bio to continue with (the front part when
// split; the remainder is chained and resubmitted) and its segment count.
Bio* bio_split_to_limits(RequestQueue* q, Bio* bio, unsigned* nr_segs);

}  // namespace iostack::block
