// The block layer's entry points (block/blk-core.c, blk-mq.c, blk-merge.c):
// bio submission for callers, completion for drivers, merge helpers for
// schedulers.
#pragma once

#include "block/bio.hpp"
#include "block/blk_trace.hpp"
#include "block/elevator.hpp"
#include "block/request.hpp"

namespace iostack::block {

class RequestQueue;
struct HwCtx;

// --- callers ---
// submit_bio: checks, splits to the queue limits, merges or allocates a
// request, and plugs, schedules or issues it. Completion (or the error of a
// failed check) is reported through bio->bi_end_io, possibly before this
// returns. Bios submitted from inside a completion or while another bio is
// being submitted on this thread are queued and handled in order, as the
// kernel's current->bio_list does.
void submit_bio(Bio* bio);
// submit_bio_wait: submits and sleeps until the bio completes; returns -errno.
int submit_bio_wait(Bio* bio);

// --- drivers ---
// blk_update_request: completes `nr_bytes` of the request (its bios in order);
// true when part of the request remains.
bool blk_update_request(Request* rq, BlkStatus error, unsigned nr_bytes);
// Completes what remains of the request and frees it.
void blk_mq_end_request(Request* rq, BlkStatus error);
// Puts a started request back for another dispatch (trace R).
void blk_mq_requeue_request(Request* rq, bool kick);
void blk_mq_run_hw_queue(HwCtx* hctx);
void blk_mq_run_hw_queues(RequestQueue* q);

// --- schedulers ---
// The generic merge lookup: one-hit cache, hash back merge, then the
// elevator's own request_merge (elv_merge).
ElvMerge elv_merge(RequestQueue* q, Request** req, Bio* bio);
// blk_mq_sched_try_merge: merge `bio` into a request found by elv_merge, then
// try the follow-up request-request merge. A request made redundant is
// returned in *merged_request for the caller to free after dropping its lock.
bool blk_mq_sched_try_merge(RequestQueue* q, Bio* bio, unsigned nr_segs, Request** merged_request);
// elv_attempt_insert_merge: merge a request being inserted into a queued one
// (back merges through the cache and hash). Merged requests go on `free`.
bool blk_mq_sched_try_insert_merge(RequestQueue* q, Request* rq, core::ListHead* free);
void blk_mq_free_request(Request* rq);
void blk_mq_free_requests(core::ListHead* list);
// blk_rq_merge_ok: may `bio` join `rq` at all (op, flags, priority, hint).
bool blk_rq_merge_ok(Request* rq, Bio* bio);
// The I trace event; schedulers call it when they queue a request.
inline void blk_trace_rq_insert(Request* rq) { trace_rq(rq, kTraceInsert); }

// Number of physical segments the bio needs under the queue limits.
unsigned bio_nr_segments(const RequestQueue* q, const Bio* bio);

}  // namespace iostack::block
