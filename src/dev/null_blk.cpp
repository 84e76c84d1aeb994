// The null_blk driver: completion modes, memory backing, bad blocks, busy.
#include "dev/null_blk.hpp"

#include <climits>
#include <new>

#include "block/blk_mq.hpp"
#include "block/hctx.hpp"
#include "block/request.hpp"

namespace iostack::dev {

// struct nullb_cmd (drivers/block/null_blk/null_blk.h): the driver data in rq->pdu.
struct NullBlkDriver::Cmd {
  core::Timer timer;  // TIMER mode (and SOFTIRQ on a virtual clock)
  CompletionLink link;
  NullBlkDriver* drv = nullptr;
};

NullBlkDriver::NullBlkDriver(const NullBlkConfig& cfg, core::Clock* clock)
    : cfg_(cfg), clock_(clock), has_badblocks_(!cfg.badblocks.empty()), busy_left_(cfg.busy) {
  if (cfg_.memory_backed) store_ = std::make_unique<PageStore>(cfg_.size_bytes);
  if (cfg_.irqmode == NullIrqMode::kSoftirq && !clock_->single_threaded()) {
    softirq_ = std::make_unique<CompletionThread>(&NullBlkDriver::softirq_end_fn);
  }
  spare_cmd_ = std::make_unique<Cmd>();
  restart_timer_.fn = &NullBlkDriver::restart_timer_fn;
  restart_timer_.priv = this;
}

NullBlkDriver::~NullBlkDriver() {
  quiesce();
  softirq_.reset();  // joins after ending what it still holds
}

void NullBlkDriver::quiesce() {
  drain();
  clock_->cancel(&restart_timer_);
  queue_.store(nullptr, std::memory_order_release);
}

std::size_t NullBlkDriver::cmd_size() const {
  // Rounded so that every request's pdu in the tag set's array stays aligned.
  constexpr std::size_t a = alignof(std::max_align_t);
  return (sizeof(Cmd) + a - 1) / a * a;
}

block::QueueLimits NullBlkDriver::limits() const {
  block::QueueLimits lim;
  lim.logical_block_size = cfg_.block_size;
  lim.physical_block_size = cfg_.block_size;
  lim.io_min = cfg_.block_size;
  lim.max_hw_sectors = cfg_.max_sectors;     // 0: BLK_SAFE_MAX_SECTORS via blk_validate_limits
  if (cfg_.discard && cfg_.memory_backed) {  // null_config_discard
    lim.max_discard_sectors = UINT_MAX >> block::kSectorShift;
    lim.max_discard_segments = 1;
    lim.discard_granularity = cfg_.block_size;
  }
  lim.wc_feature = cfg_.write_cache;
  lim.fua_feature = cfg_.write_cache && cfg_.fua;  // as null_add_dev: FUA only with a cache
  lim.rotational = cfg_.rotational;
  return lim;
}

block::TagSetConfig NullBlkDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = cfg_.hw_queues;
  set.queue_depth = cfg_.queue_depth;
  return set;
}

bool NullBlkDriver::take_busy() {
  std::uint64_t left = busy_left_.load(std::memory_order_relaxed);
  while (left) {
    if (busy_left_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// null_handle_badblocks: on a hit, *nr_sectors becomes how much may still be
// transferred before the bad block (only with badblocks_partial_io).
block::BlkStatus NullBlkDriver::check_badblocks(block::sector_t sector, std::uint32_t* nr_sectors) {
  const block::sector_t last = sector + (*nr_sectors ? *nr_sectors - 1 : 0);
  std::lock_guard lock(bb_mu_);
  auto& bb = cfg_.badblocks;
  auto hit = bb.end();
  for (auto it = bb.begin(); it != bb.end(); ++it) {
    if (it->start <= last && it->end >= sector && (hit == bb.end() || it->start < hit->start)) {
      hit = it;
    }
  }
  if (hit == bb.end()) return block::BlkStatus::OK;
  block::sector_t first_bad = hit->start;
  if (cfg_.badblocks_once) {
    bb.erase(hit);
    if (bb.empty()) has_badblocks_.store(false, std::memory_order_relaxed);
  }
  std::uint32_t partial = 0;
  if (cfg_.badblocks_partial_io) {
    const block::sector_t block_sectors = cfg_.block_size >> block::kSectorShift;
    first_bad -= first_bad % block_sectors;
    if (sector < first_bad) partial = static_cast<std::uint32_t>(first_bad - sector);
  }
  *nr_sectors = partial;
  return block::BlkStatus::IOERR;
}

// null_handle_cmd / null_process_cmd: the status the request ends with.
block::BlkStatus NullBlkDriver::process(block::Request* rq) {
  const auto op = block::req_op(rq);
  if (op == block::REQ_OP_FLUSH) return block::BlkStatus::OK;  // no cache to write back
  const block::sector_t sector = block::blk_rq_pos(rq);
  std::uint32_t nr_sectors = block::blk_rq_sectors(rq);
  block::BlkStatus bb_status = block::BlkStatus::OK;
  if (has_badblocks_.load(std::memory_order_relaxed))
    bb_status = check_badblocks(sector, &nr_sectors);
  if (store_ && nr_sectors) {
    if (sector + nr_sectors > capacity_sectors()) return block::BlkStatus::IOERR;
    const std::uint64_t pos = sector << block::kSectorShift;
    const std::uint64_t bytes = std::uint64_t{nr_sectors} << block::kSectorShift;
    switch (op) {
      case block::REQ_OP_READ:
      case block::REQ_OP_WRITE:
        if (!store_->transfer(rq, bytes)) return block::BlkStatus::NOSPC;
        break;
      case block::REQ_OP_DISCARD:
        store_->discard(pos, bytes);
        break;
      case block::REQ_OP_WRITE_ZEROES:
        store_->zero_range(pos, bytes, !(rq->cmd_flags & block::REQ_NOUNMAP));
        break;
      default:
        break;
    }
  }
  return bb_status;
}

void NullBlkDriver::complete(Cmd* cmd) {
  NullBlkDriver* drv = cmd->drv;
  block::Request* rq = cmd->link.rq;
  const block::BlkStatus st = cmd->link.status;
  // The spare is free again once its request's state has been read out.
  if (cmd == drv->spare_cmd_.get()) drv->spare_busy_.store(false, std::memory_order_release);
  // Counted down only after the end returns, so drain() also waits for the
  // block layer's completion work; `cmd` may be reused by then.
  block::blk_mq_end_request(rq, st);
  drv->inflight_.fetch_sub(1, std::memory_order_acq_rel);
}

void NullBlkDriver::softirq_end_fn(CompletionLink* link) {
  auto* cmd = static_cast<Cmd*>(link->priv);
  cmd->drv->complete(cmd);
}

void NullBlkDriver::cmd_timer_fn(core::Timer* t) { complete(static_cast<Cmd*>(t->priv)); }

void NullBlkDriver::restart_timer_fn(core::Timer* t) {
  auto* drv = static_cast<NullBlkDriver*>(t->priv);
  if (block::RequestQueue* q = drv->queue_.load(std::memory_order_acquire)) {
    block::blk_mq_run_hw_queues(q);
  }
}

block::BlkStatus NullBlkDriver::queue_rq(block::HwCtx* hctx, block::Request* rq, bool /*last*/) {
  if (take_busy()) [[unlikely]] {
    busy_returned_.fetch_add(1, std::memory_order_relaxed);
    // DEV_RESOURCE promises a rerun once the resource frees: the timer is it.
    queue_.store(hctx->queue, std::memory_order_release);
    clock_->arm(&restart_timer_, clock_->now() + cfg_.busy_delay_nsec);
    return block::BlkStatus::DEV_RESOURCE;
  }
  const block::BlkStatus st = process(rq);
  if (cfg_.irqmode == NullIrqMode::kNone) {
    block::blk_mq_end_request(rq, st);
    return block::BlkStatus::OK;
  }
  Cmd* cmd;
  if (rq->pdu) [[likely]] {
    cmd = new (rq->pdu) Cmd{};
  } else if (!spare_busy_.exchange(true, std::memory_order_acquire)) {
    cmd = new (spare_cmd_.get()) Cmd{};
  } else {
    block::blk_mq_end_request(rq, st);  // nowhere to keep its state: end it now
    return block::BlkStatus::OK;
  }
  cmd->drv = this;
  cmd->link.rq = rq;
  cmd->link.status = st;
  cmd->link.priv = cmd;
  inflight_.fetch_add(1, std::memory_order_acq_rel);
  if (softirq_) {
    softirq_->post(&cmd->link);
    return block::BlkStatus::OK;
  }
  cmd->timer.fn = &NullBlkDriver::cmd_timer_fn;
  cmd->timer.priv = cmd;
  const core::Nanos delay = cfg_.irqmode == NullIrqMode::kTimer ? cfg_.completion_nsec : 0;
  clock_->arm(&cmd->timer, clock_->now() + delay);
  return block::BlkStatus::OK;
}

void NullBlkDriver::drain() {
  while (inflight() > 0) {
    if (!clock_->pause(100 * core::kNsPerUs)) break;  // nothing can end them
  }
}

}  // namespace iostack::dev
