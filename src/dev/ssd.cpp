// The simulated SSD: page timing over units, channels and the link.
#include "dev/ssd.hpp"

#include <algorithm>
#include <climits>
#include <new>

#include "block/blk_mq.hpp"
#include "block/request.hpp"

namespace iostack::dev {

// The driver data in rq->pdu.
struct SsdDriver::Cmd {
  core::Timer timer;
  SsdDriver* drv = nullptr;
  block::Request* rq = nullptr;
};

namespace {
constexpr std::uint64_t kPageSectors = PageStore::kPageSectors;
}  // namespace

SsdDriver::SsdDriver(const SsdConfig& cfg, core::Clock* clock)
    : cfg_(cfg),
      clock_(clock),
      store_(cfg.size_bytes),
      units_(cfg.channels * cfg.dies * cfg.planes),
      page_xfer_(std::uint64_t{PageStore::kPageSize} * 1000 / cfg.channel_mbps),
      ftl_(cfg.size_bytes / PageStore::kPageSize, cfg.channels * cfg.dies * cfg.planes,
           cfg.pages_per_block, cfg.op_percent),
      unit_busy_(units_, 0),
      chan_busy_(cfg.channels, 0) {
  slc_pages_ = slc_free_ = cfg.slc_bytes / PageStore::kPageSize;
  buf_out_.assign(cfg.buffer_bytes / PageStore::kPageSize, 0);
}

SsdDriver::~SsdDriver() { drain(); }

std::size_t SsdDriver::cmd_size() const {
  constexpr std::size_t a = alignof(std::max_align_t);
  return (sizeof(Cmd) + a - 1) / a * a;
}

block::QueueLimits SsdDriver::limits() const {
  block::QueueLimits lim;
  lim.logical_block_size = block::kSectorSize;
  lim.physical_block_size = PageStore::kPageSize;
  lim.io_min = PageStore::kPageSize;
  lim.max_hw_sectors = cfg_.max_sectors ? cfg_.max_sectors : 2048;  // a 1 MiB transfer limit
  lim.max_discard_sectors = UINT_MAX >> block::kSectorShift;
  lim.max_discard_segments = 1;
  lim.discard_granularity = PageStore::kPageSize;
  lim.rotational = false;
  return lim;
}

block::TagSetConfig SsdDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = cfg_.hw_queues;
  set.queue_depth = cfg_.queue_depth;
  return set;
}

// While every unit is idle the controller folds SLC pages into the main
// array at its full program rate, freeing SLC room.
void SsdDriver::refill_slc(core::Nanos now) {
  if (slc_free_ == slc_pages_) return;
  core::Nanos idle = fold_until_;
  for (core::Nanos b : unit_busy_) idle = std::max(idle, b);
  if (now <= idle) return;
  const std::uint64_t can = (now - idle) * units_ / cfg_.t_prog;
  const std::uint64_t add = std::min(can, slc_pages_ - slc_free_);
  slc_free_ += add;
  stats_.folded += add;
  ftl_.count_folded(add);
  fold_until_ = now;
}

core::Nanos SsdDriver::schedule(block::Request* rq, core::Nanos now) {
  const std::uint64_t s = block::blk_rq_pos(rq), e = block::blk_rq_end_sector(rq);
  const std::uint64_t bytes = block::blk_rq_bytes(rq);
  const core::Nanos start = now + cfg_.overhead;
  const core::Nanos link = bytes * 1000 / cfg_.iface_mbps;
  core::Nanos done = start;
  switch (block::req_op(rq)) {
    case block::REQ_OP_READ:
      ++stats_.reads;
      for (std::uint64_t lpn = s / kPageSectors; lpn * kPageSectors < e; ++lpn) {
        const int u = ftl_.unit_of(lpn);
        if (u < 0) continue;  // unmapped: zeros without touching the flash
        const auto c = static_cast<std::size_t>(u) % cfg_.channels;
        core::Nanos& ub = unit_busy_[static_cast<std::size_t>(u)];
        ub = std::max(start, ub) + cfg_.t_read;
        chan_busy_[c] = std::max(ub, chan_busy_[c]) + page_xfer_;
        done = std::max(done, chan_busy_[c]);
      }
      link_busy_ = std::max(done, link_busy_) + link;
      return link_busy_;
    case block::REQ_OP_WRITE: {
      ++stats_.writes;
      refill_slc(now);
      link_busy_ = std::max(start, link_busy_) + link;
      const core::Nanos at = link_busy_;
      done = at;
      core::Nanos buffered = at;  // when the last page is in the buffer
      for (std::uint64_t lpn = s / kPageSectors; lpn * kPageSectors < e; ++lpn) {
        // With a buffer, a page waits there for room, then for the flash.
        core::Nanos ready = at;
        core::Nanos* slot = nullptr;
        if (!buf_out_.empty()) {
          slot = &buf_out_[buf_count_++ % buf_out_.size()];
          ready = std::max(at, *slot);
          buffered = std::max(buffered, ready);
        }
        const SsdFtl::Write w = ftl_.write(lpn);
        const auto c = w.unit % cfg_.channels;
        core::Nanos& ub = unit_busy_[w.unit];
        if (w.moved || w.erased) {  // collection runs on the unit first
          ub = std::max(ub, now) + w.moved * (cfg_.t_read + cfg_.t_prog) + w.erased * cfg_.t_erase;
          stats_.erases += w.erased;
        }
        chan_busy_[c] = std::max(ready, chan_busy_[c]) + page_xfer_;
        core::Nanos prog = cfg_.t_prog;
        if (slc_free_) {
          --slc_free_;
          ++stats_.slc_writes;
          prog = cfg_.t_slc_prog;
        }
        ub = std::max(chan_busy_[c], ub) + prog;
        done = std::max(done, ub);
        if (slot) *slot = ub;
      }
      return buf_out_.empty() ? done : buffered;
    }
    default:  // DISCARD: whole pages leave the map
      ++stats_.discards;
      for (const block::Bio* b = rq->bio; b; b = b->bi_next) {
        const std::uint64_t bs = b->bi_iter.bi_sector, be = bs + (b->bi_iter.bi_size >> 9);
        for (std::uint64_t lpn = (bs + kPageSectors - 1) / kPageSectors;
             (lpn + 1) * kPageSectors <= be; ++lpn)
          ftl_.trim(lpn);
      }
      return done;
  }
}

block::BlkStatus SsdDriver::queue_rq(block::HwCtx* /*hctx*/, block::Request* rq, bool /*last*/) {
  const auto op = block::req_op(rq);
  if (op != block::REQ_OP_READ && op != block::REQ_OP_WRITE && op != block::REQ_OP_DISCARD)
    return block::BlkStatus::NOTSUPP;
  if (block::blk_rq_end_sector(rq) > capacity_sectors()) return block::BlkStatus::IOERR;
  if (!rq->pdu) return block::BlkStatus::IOERR;  // every data request has driver data
  core::Nanos end;
  {
    core::LockGuard lock(mu_);
    // The map entry, the store's page and its address translation are most
    // likely far from the CPU: start them together, so that their misses
    // overlap rather than follow one another.
    if (op != block::REQ_OP_DISCARD) {
      ftl_.prefetch(block::blk_rq_pos(rq) / kPageSectors);
      store_.prefetch(rq, 1);
    }
    end = schedule(rq, clock_->now());
  }
  Cmd* cmd = new (rq->pdu) Cmd{};
  cmd->drv = this;
  cmd->rq = rq;
  cmd->timer.fn = &SsdDriver::timer_fn;
  cmd->timer.priv = cmd;
  inflight_.fetch_add(1, std::memory_order_acq_rel);
  if (op != block::REQ_OP_DISCARD) store_.prefetch(rq);
  clock_->arm(&cmd->timer, end);
  return block::BlkStatus::OK;
}

void SsdDriver::timer_fn(core::Timer* t) {
  auto* cmd = static_cast<Cmd*>(t->priv);
  SsdDriver* drv = cmd->drv;
  block::Request* rq = cmd->rq;
  block::BlkStatus st = block::BlkStatus::OK;
  switch (block::req_op(rq)) {
    case block::REQ_OP_READ:
    case block::REQ_OP_WRITE:
      if (!drv->store_.transfer(rq, block::blk_rq_bytes(rq))) st = block::BlkStatus::IOERR;
      break;
    default:
      for (const block::Bio* b = rq->bio; b; b = b->bi_next)
        drv->store_.discard(b->bi_iter.bi_sector << block::kSectorShift, b->bi_iter.bi_size);
      break;
  }
  block::blk_mq_end_request(rq, st);
  drv->inflight_.fetch_sub(1, std::memory_order_acq_rel);
}

void SsdDriver::drain() {
  while (inflight() > 0) {
    if (!clock_->pause(100 * core::kNsPerUs)) break;  // nothing can end them
  }
}

SsdStats SsdDriver::stats() const {
  core::LockGuard lock(mu_);
  SsdStats s = stats_;
  s.ftl = ftl_.stats();
  return s;
}

}  // namespace iostack::dev
