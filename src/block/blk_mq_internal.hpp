// Internal entry points shared by the block layer's files (block/blk-mq.h).
#pragma once

#include "block/bio.hpp"
#include "block/hctx.hpp"
#include "block/request.hpp"
#include "core/list.hpp"

namespace iostack::block {

class RequestQueue;
struct HwCtx;
struct BlkPlug;

// submit_bio without the priority assignment: the path split remainders and
// stacked submissions take (submit_bio_noacct).
void submit_bio_noacct(Bio* bio);
// blk_mq_submit_bio: everything after the generic checks.
void blk_mq_submit_bio(Bio* bio);

void blk_mq_insert_request(Request* rq, unsigned flags);
// Scheduler requests into the elevator followed by a run of `hctx`, the
// insertion and the run's first batch in one step of the elevator
// (insert_and_dispatch) when nothing is parked ahead on the hardware queue.
void blk_mq_sched_insert_and_run(HwCtx* hctx, core::ListHead* list, unsigned flags);
// Straight onto the hardware queue's dispatch list, past the scheduler.
void blk_mq_request_bypass_insert(Request* rq, bool at_head);
// Issue now if the hardware queue can take it, else queue it.
void blk_mq_try_issue_directly(HwCtx* hctx, Request* rq);
// blk_mq_issue_direct: a plug's requests (no elevator) straight to the driver
// in order; stops at a busy driver and leaves the rest on `list`.
void blk_mq_issue_list_directly(core::ListHead* list);
// blk_mq_flush_plug_list.
void blk_mq_flush_plug_list(BlkPlug* plug, bool from_schedule);
void blk_add_rq_to_plug(BlkPlug* plug, Request* rq);
// Frees the requests the plug allocated ahead and did not use.
void blk_mq_free_plug_rqs(BlkPlug* plug);

// blk_mq_get_driver_tag: a request that holds one already keeps it. Inline,
// as in the kernel's blk-mq.h: every scheduler request passes here twice.
inline bool blk_mq_get_driver_tag(Request* rq) {
  if (rq->tag >= 0) return true;
  HwCtx* hctx = rq->mq_hctx;
  const int tag = hctx->tags->try_get();
  if (tag < 0) return false;
  rq->tag = tag;
  hctx->tags->set_rq_for_tag(tag, rq);
  return true;
}
// Runs the request's end_io or frees it, after accounting (__blk_mq_end_request).
void blk_mq_end_request_nodata(Request* rq, BlkStatus error);

}  // namespace iostack::block
