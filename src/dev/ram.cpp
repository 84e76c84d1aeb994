// The RAM disk driver (brd).
#include "dev/ram.hpp"

#include <climits>

#include "block/blk_mq.hpp"
#include "block/request.hpp"

namespace iostack::dev {

RamDriver::RamDriver(const RamConfig& cfg) : cfg_(cfg), store_(cfg.size_bytes) {}

block::QueueLimits RamDriver::limits() const {
  block::QueueLimits lim;
  // brd: 4 KiB physical blocks so partitioning tools align to pages.
  lim.logical_block_size = block::kSectorSize;
  lim.physical_block_size = PageStore::kPageSize;
  lim.io_min = PageStore::kPageSize;      // blk_validate_limits raises io_min to the physical size
  lim.max_hw_sectors = cfg_.max_sectors;  // 0: BLK_SAFE_MAX_SECTORS via blk_validate_limits
  lim.max_discard_sectors = UINT_MAX >> block::kSectorShift;
  lim.max_discard_segments = 1;
  lim.discard_granularity = PageStore::kPageSize;
  // Not in brd (the kernel falls back to writing zero pages there); handled
  // here directly since dropping pages gives the same zeros for less work.
  lim.max_write_zeroes_sectors = UINT_MAX >> block::kSectorShift;
  lim.rotational = false;
  lim.wc_feature = false;  // no volatile cache: PREFLUSH and FUA are dropped above us
  lim.fua_feature = false;
  return lim;
}

block::TagSetConfig RamDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = cfg_.hw_queues;
  set.queue_depth = cfg_.queue_depth;
  return set;
}

block::BlkStatus RamDriver::handle(block::Request* rq) {
  const std::uint64_t pos = block::blk_rq_pos(rq) << block::kSectorShift;
  if (block::blk_rq_end_sector(rq) > capacity_sectors()) return block::BlkStatus::IOERR;
  switch (block::req_op(rq)) {
    case block::REQ_OP_READ:
    case block::REQ_OP_WRITE:
      if (store_.transfer(rq, block::blk_rq_bytes(rq))) return block::BlkStatus::OK;
      // brd_rw_bvec: a failed page allocation is EAGAIN for NOWAIT I/O.
      return (rq->cmd_flags & block::REQ_NOWAIT) ? block::BlkStatus::AGAIN
                                                 : block::BlkStatus::IOERR;
    case block::REQ_OP_FLUSH:
      return block::BlkStatus::OK;  // nothing is cached
    case block::REQ_OP_DISCARD:
      // Each bio is one range; merged discards may not be contiguous.
      for (const block::Bio* b = rq->bio; b; b = b->bi_next) {
        store_.discard(b->bi_iter.bi_sector << block::kSectorShift, b->bi_iter.bi_size);
      }
      return block::BlkStatus::OK;
    case block::REQ_OP_WRITE_ZEROES:
      store_.zero_range(pos, block::blk_rq_bytes(rq), !(rq->cmd_flags & block::REQ_NOUNMAP));
      return block::BlkStatus::OK;
    default:
      return block::BlkStatus::NOTSUPP;
  }
}

block::BlkStatus RamDriver::queue_rq(block::HwCtx* /*hctx*/, block::Request* rq, bool /*last*/) {
  // Synchronous like brd_submit_bio: the request ends before queue_rq returns.
  block::blk_mq_end_request(rq, handle(rq));
  return block::BlkStatus::OK;
}

}  // namespace iostack::dev
