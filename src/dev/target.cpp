// The stacking-target frame: map, clone, submit below, end_io.
#include "dev/target.hpp"

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

using block::Bio;
using block::BlkStatus;

bool target_is_write(std::uint32_t cmd_flags) {
  return block::op_is_write(cmd_flags) || block::req_op(cmd_flags) == block::REQ_OP_FLUSH;
}

std::uint64_t TargetRandom::next() {
  std::uint64_t z =
      state_.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

TargetDriver::TargetDriver(std::unique_ptr<BlockDevice> lower, core::Clock* clock)
    : lower_(std::move(lower)), clock_(clock) {}

TargetDriver::~TargetDriver() { drain(); }

block::QueueLimits TargetDriver::limits() const {
  const block::QueueLimits& below = lower_->queue()->limits();
  block::QueueLimits lim = below;
  lim.max_hw_sectors = below.max_sectors;
  lim.max_user_sectors = 0;
  lim.max_sectors = 0;
  // dm_table_supports_flush: the cache below, as it is in use.
  lim.wc_feature = below.write_cache;
  lim.wc_disabled = false;
  lim.fua_feature = below.fua;
  adjust_limits(&lim);
  return lim;
}

block::TagSetConfig TargetDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = 1;
  set.queue_depth = lower_->queue()->queue_depth();
  return set;
}

block::sector_t TargetDriver::capacity_sectors() const { return lower_->disk()->capacity(); }

int TargetDriver::message(const std::vector<std::string>& /*argv*/, std::string* /*result*/) {
  return -ENOTTY;
}

bool TargetDriver::pump() { return clock_->pause(100 * core::kNsPerUs); }

void TargetDriver::drain() {
  wait_for([this] { return inflight() == 0; });
}

BlkStatus TargetDriver::queue_rq(block::HwCtx* /*hctx*/, block::Request* rq, bool /*last*/) {
  auto* io = new (rq->pdu) TargetIo;
  io->drv = this;
  io->rq = rq;
  inflight_.fetch_add(1, std::memory_order_relaxed);
  BlkStatus status = BlkStatus::OK;
  switch (map(io, &status)) {
    case Map::kRemap:
      submit_lower(io);
      break;
    case Map::kKill:
      finish(io, status);
      break;
    case Map::kDone:
      finish(io, BlkStatus::OK);
      break;
    case Map::kSubmitted:
      break;
  }
  return BlkStatus::OK;
}

void TargetDriver::submit_lower(TargetIo* io) {
  block::Request* rq = io->rq;
  block::Disk* below = lower_->disk();
  const std::uint32_t op = block::req_op(rq);
  // PREFLUSH was done by our flush machinery; FUA stays with the request.
  const std::uint32_t keep =
      rq->cmd_flags & ~(block::REQ_OP_MASK | block::REQ_PREFLUSH | block::REQ_FUA);
  const std::uint32_t fua = rq->cmd_flags & block::REQ_FUA;
  auto start = [&](Bio* clone) {
    clone->bi_end_io = &clone_end_io;
    clone->bi_private = io;
    clone->bi_ioprio = rq->ioprio;
    clone->bi_blkcg = rq->bio ? rq->bio->bi_blkcg : nullptr;
  };
  if (op == block::REQ_OP_FLUSH || !rq->bio) {
    io->remaining.store(1, std::memory_order_relaxed);
    Bio* clone = block::bio_alloc(below, 0, block::REQ_OP_WRITE | block::REQ_PREFLUSH | keep);
    start(clone);
    block::submit_bio(clone);
    return;
  }
  if (io->bounce) {
    io->remaining.store(1, std::memory_order_relaxed);
    Bio* clone = block::bio_alloc(below, 1, op | keep | fua);
    clone->bi_iter.bi_sector = block::blk_rq_pos(rq);
    block::bio_add_vec(clone, io->bounce, block::blk_rq_bytes(rq));
    clone->bi_iter.bi_size = block::blk_rq_bytes(rq);
    start(clone);
    block::submit_bio(clone);
    return;
  }
  int n = 0;
  for (const Bio* b = rq->bio; b; b = b->bi_next) ++n;
  // One count per clone plus one for this loop, so that the request cannot
  // end while clones are still being made.
  io->remaining.store(n + 1, std::memory_order_relaxed);
  for (Bio* b = rq->bio; b; b = b->bi_next) {
    Bio* clone = block::bio_alloc(below, 0, block::bio_op(b) | keep | fua);
    clone->bi_io_vec = b->bi_io_vec;
    clone->bi_vcnt = b->bi_vcnt;
    clone->bi_max_vecs = b->bi_max_vecs;
    clone->bi_iter = b->bi_iter;
    block::bio_set_flag(clone, block::BIO_CLONED);
    start(clone);
    block::submit_bio(clone);
  }
  if (io->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    finish(io, static_cast<BlkStatus>(io->status.load(std::memory_order_acquire)));
  }
}

void TargetDriver::clone_end_io(Bio* clone) {
  auto* io = static_cast<TargetIo*>(clone->bi_private);
  if (clone->bi_status != BlkStatus::OK) {
    std::uint8_t ok = 0;
    io->status.compare_exchange_strong(ok, static_cast<std::uint8_t>(clone->bi_status),
                                       std::memory_order_acq_rel);
  }
  block::bio_put(clone);
  if (io->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    io->drv->finish(io, static_cast<BlkStatus>(io->status.load(std::memory_order_acquire)));
  }
}

void TargetDriver::finish(TargetIo* io, BlkStatus status) {
  end_io(io, &status);
  delete[] io->bounce;
  io->bounce = nullptr;
  block::Request* rq = io->rq;
  io->~TargetIo();
  block::blk_mq_end_request(rq, status);
  inflight_.fetch_sub(1, std::memory_order_release);
}

}  // namespace iostack::dev
