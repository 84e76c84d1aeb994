// wcache: a volatile write cache with a power switch, over any device.
#include "dev/wcache.hpp"

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

using block::Bio;
using block::BlkStatus;
using block::kSectorShift;
using block::sector_t;

namespace {

enum : std::uint32_t { kRead = 1, kWaiter = 2 };

// Copies `len` bytes of `src` into the request's data at byte `off`.
void copy_into(block::Request* rq, std::uint64_t off, const char* src, std::uint64_t len) {
  std::uint64_t pos = 0;
  block::rq_for_each_segment(rq, [&](void* data, std::uint32_t seg) {
    const std::uint64_t end = pos + seg;
    if (len && off < end && off + len > pos) {
      const std::uint64_t from = std::max(off, pos), to = std::min(off + len, end);
      std::memcpy(static_cast<char*>(data) + (from - pos), src + (from - off), to - from);
    }
    pos = end;
  });
}

// Later entries over earlier ones, per sector; the result as runs of
// consecutive sectors with their data.
std::vector<std::pair<sector_t, std::string>> materialize(
    const std::vector<const WcacheTarget::Entry*>& entries) {
  std::map<sector_t, const char*> img;
  for (const auto* e : entries) {
    const sector_t n = e->data.size() >> kSectorShift;
    for (sector_t i = 0; i < n; ++i) img[e->sector + i] = e->data.data() + (i << kSectorShift);
  }
  std::vector<std::pair<sector_t, std::string>> runs;
  for (const auto& [s, p] : img) {
    // Runs of at most 1 MiB: one bio each.
    if (runs.empty() || runs.back().first + (runs.back().second.size() >> kSectorShift) != s ||
        runs.back().second.size() >= (1u << 20))
      runs.emplace_back(s, std::string());
    runs.back().second.append(p, block::kSectorSize);
  }
  return runs;
}

}  // namespace

// One write-back: the data of every entry up to `upto`, then the ops of
// the requests that waited for it.
struct WcacheTarget::Writeback {
  std::uint64_t upto = 0;
  std::vector<TargetIo*> waiters;
  std::vector<Bio*> bios;
  std::atomic<int> data_left{1};     // bios plus a bias while launching
  std::atomic<int> waiters_left{1};  // waiters plus a bias
};

// A write-back or power-cut bio and the data it carries.
struct BgBio {
  WcacheTarget* t;
  WcacheTarget::Writeback* wb;  // null for the bios of a power cut
  std::string data;
};

Bio* WcacheTarget::background_write(Writeback* wb, block::sector_t sector, std::string data) {
  auto* h = new BgBio{this, wb, std::move(data)};
  Bio* bio = block::bio_alloc(lower()->disk(), 1, block::REQ_OP_WRITE);
  bio->bi_iter.bi_sector = sector;
  block::bio_add_vec(bio, h->data.data(), static_cast<std::uint32_t>(h->data.size()));
  bio->bi_iter.bi_size = static_cast<std::uint32_t>(h->data.size());
  bio->bi_end_io = &bg_end_io;
  bio->bi_private = h;
  return bio;
}

WcacheTarget::WcacheTarget(const WcacheConfig& cfg, std::unique_ptr<BlockDevice> lower,
                           core::Clock* clock)
    : TargetDriver(std::move(lower), clock), cfg_(cfg), rng_(cfg.seed) {
  atomic_ =
      cfg.atomic_bytes ? cfg.atomic_bytes : this->lower()->queue()->limits().logical_block_size;
  if (cfg_.powercut_ms) {
    cut_timer_.fn = &timer_fired;
    cut_timer_.priv = this;
    clock->arm(&cut_timer_, clock->now() + cfg_.powercut_ms * core::kNsPerMs);
  }
}

WcacheTarget::~WcacheTarget() {
  if (cfg_.powercut_ms) clock()->cancel(&cut_timer_);
  drain();
  // A clean shutdown writes the cache back, as a device being removed does.
  Writeback* wb;
  {
    core::LockGuard lock(mu_);
    wb = start_writeback();
  }
  if (wb) {
    submit_all(wb->bios);
    if (wb->data_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_done(wb);
  }
  wait_for([this] {
    core::LockGuard lock(mu_);
    return !running_ && bg_inflight_.load(std::memory_order_acquire) == 0;
  });
}

void WcacheTarget::adjust_limits(block::QueueLimits* lim) const {
  lim->wc_feature = true;
  lim->fua_feature = true;
}

void WcacheTarget::timer_fired(core::Timer* t) { static_cast<WcacheTarget*>(t->priv)->powercut(); }

bool WcacheTarget::powered_off() const {
  core::LockGuard lock(mu_);
  return off_;
}

std::uint64_t WcacheTarget::dirty_bytes() const {
  core::LockGuard lock(mu_);
  return cached_bytes_;
}

TargetDriver::Map WcacheTarget::map(TargetIo* io, BlkStatus* status) {
  block::Request* rq = io->rq;
  const std::uint32_t op = block::req_op(rq);
  core::UniqueLock lock(mu_);
  if (off_) {
    failed_after_cut_.fetch_add(1, std::memory_order_relaxed);
    *status = BlkStatus::IOERR;
    return Map::kKill;
  }
  if (op == block::REQ_OP_READ) {
    // What the cache holds over the read is taken now, as dm-writecache
    // decides at map time: a write-back may land below and drop its entries
    // before the read below completes (the device below orders nothing
    // between requests in flight together), and the read would miss both.
    io->flags |= kRead;
    io->priv = overlay(rq);
    return Map::kRemap;
  }
  if (op == block::REQ_OP_WRITE && !(rq->cmd_flags & block::REQ_FUA) && block::blk_rq_bytes(rq)) {
    Entry e{++seq_, block::blk_rq_pos(rq), {}};
    e.data.reserve(block::blk_rq_bytes(rq));
    block::rq_for_each_segment(rq, [&](void* data, std::uint32_t len) {
      e.data.append(static_cast<const char*>(data), len);
    });
    cached_bytes_ += e.data.size();
    index_add(e);
    cache_.push_back(std::move(e));
    cached_writes_.fetch_add(1, std::memory_order_relaxed);
    Writeback* wb = cached_bytes_ > cfg_.size_bytes ? start_writeback() : nullptr;
    lock.unlock();
    if (wb) {
      submit_all(wb->bios);
      if (wb->data_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_done(wb);
    }
    return Map::kDone;
  }
  // FLUSH, FUA, discard, write-zeroes: after a write-back of what is cached.
  io->flags |= kWaiter;
  waiters_.push_back(io);
  Writeback* wb = start_writeback();
  lock.unlock();
  if (wb) {
    submit_all(wb->bios);
    if (wb->data_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_done(wb);
  }
  return Map::kSubmitted;
}

WcacheTarget::Writeback* WcacheTarget::start_writeback() {
  if (running_ || off_ || (cache_.empty() && waiters_.empty())) return nullptr;
  auto* wb = new Writeback;
  wb->upto = seq_;
  wb->waiters.swap(waiters_);
  std::vector<const Entry*> all;
  for (const Entry& e : cache_) all.push_back(&e);
  for (auto& [sector, data] : materialize(all)) {
    written_back_bytes_.fetch_add(data.size(), std::memory_order_relaxed);
    wb->bios.push_back(background_write(wb, sector, std::move(data)));
  }
  wb->data_left.store(static_cast<int>(wb->bios.size()) + 1, std::memory_order_relaxed);
  if (!cache_.empty()) writebacks_.fetch_add(1, std::memory_order_relaxed);
  running_ = wb;
  return wb;
}

void WcacheTarget::submit_all(const std::vector<Bio*>& bios) {
  bg_inflight_.fetch_add(bios.size(), std::memory_order_relaxed);
  for (Bio* b : bios) block::submit_bio(b);
}

void WcacheTarget::bg_end_io(Bio* bio) {
  auto* h = static_cast<BgBio*>(bio->bi_private);
  WcacheTarget* t = h->t;
  Writeback* wb = h->wb;
  delete h;
  block::bio_put(bio);
  // The data is on the device below: the entries it covered go when the
  // last bio of the write-back is in.
  if (wb && wb->data_left.fetch_sub(1, std::memory_order_acq_rel) == 1) t->writeback_done(wb);
  t->bg_inflight_.fetch_sub(1, std::memory_order_release);
}

// The data phase is done: drop the written-back entries, then send each
// waiter's own operation down (a flush for a FLUSH; the write itself with
// FUA; the discard or write-zeroes).
void WcacheTarget::writeback_done(Writeback* wb) {
  std::vector<TargetIo*> waiters;
  bool off;
  {
    core::LockGuard lock(mu_);
    while (!cache_.empty() && cache_.front().seq <= wb->upto) {
      cached_bytes_ -= cache_.front().data.size();
      index_remove_oldest(cache_.front());
      cache_.pop_front();
    }
    waiters.swap(wb->waiters);
    off = off_;
    wb->waiters_left.store(static_cast<int>(waiters.size()) + 1, std::memory_order_relaxed);
  }
  for (TargetIo* io : waiters) {
    io->priv = wb;
    if (off) {
      complete(io, BlkStatus::IOERR);  // the power went while it waited
    } else {
      submit_lower(io);
    }
  }
  if (wb->waiters_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_finished(wb);
}

// Everything of this write-back is below: the next may start.
void WcacheTarget::writeback_finished(Writeback* wb) {
  std::vector<Bio*> cut_bios;
  Writeback* next = nullptr;
  {
    core::LockGuard lock(mu_);
    running_ = nullptr;
    if (cut_deferred_) {
      cut_deferred_ = false;
      cut_bios = cut();
    } else if (!waiters_.empty() || cached_bytes_ > cfg_.size_bytes) {
      next = start_writeback();
    }
  }
  delete wb;
  submit_all(cut_bios);
  if (next) {
    submit_all(next->bios);
    if (next->data_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_done(next);
  }
}

void WcacheTarget::end_io(TargetIo* io, BlkStatus* status) {
  block::Request* rq = io->rq;
  if (io->flags & kRead) {
    auto* ov = static_cast<ReadOverlay*>(io->priv);
    io->priv = nullptr;
    if (ov && *status == BlkStatus::OK) {
      for (const auto& [off, data] : ov->pieces) copy_into(rq, off, data.data(), data.size());
    }
    delete ov;
  }
  if ((io->flags & kWaiter) && io->priv) {
    auto* wb = static_cast<Writeback*>(io->priv);
    io->priv = nullptr;
    // writeback_done holds a bias while it sends the waiters down, so this
    // is the last one only once that loop is over.
    if (wb->waiters_left.fetch_sub(1, std::memory_order_acq_rel) == 1) writeback_finished(wb);
  }
  if (*status == BlkStatus::OK && block::req_op(rq) == block::REQ_OP_WRITE &&
      cfg_.powercut_writes) {
    bool cut;
    {
      core::LockGuard lock(mu_);
      cut = ++acked_writes_ == cfg_.powercut_writes;
    }
    if (cut) powercut();  // right after the acknowledgement, before the caller sees it
  }
}

void WcacheTarget::index_add(const Entry& e) {
  const sector_t end = e.sector + (e.data.size() >> kSectorShift);
  for (sector_t page = e.sector >> kPageShift; page <= (end - 1) >> kPageShift; ++page)
    index_[page].push_back(e.seq);
}

// Entries leave oldest first, so each is the first of its pages' lists.
void WcacheTarget::index_remove_oldest(const Entry& e) {
  const sector_t end = e.sector + (e.data.size() >> kSectorShift);
  for (sector_t page = e.sector >> kPageShift; page <= (end - 1) >> kPageShift; ++page) {
    auto it = index_.find(page);
    if (it == index_.end()) continue;
    auto& v = it->second;
    if (!v.empty() && v.front() == e.seq) v.erase(v.begin());
    if (v.empty()) index_.erase(it);
  }
}

WcacheTarget::ReadOverlay* WcacheTarget::overlay(block::Request* rq) const {
  const sector_t start = block::blk_rq_pos(rq), end = block::blk_rq_end_sector(rq);
  if (cache_.empty() || end <= start) return nullptr;
  // The entries over the pages read, oldest first (seq - first seq is the
  // entry's place in cache_).
  std::vector<std::uint64_t> seqs;
  for (sector_t page = start >> kPageShift; page <= (end - 1) >> kPageShift; ++page) {
    auto it = index_.find(page);
    if (it != index_.end()) seqs.insert(seqs.end(), it->second.begin(), it->second.end());
  }
  if (seqs.empty()) return nullptr;
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  auto* ov = new ReadOverlay;
  const std::uint64_t first = cache_.front().seq;
  for (std::uint64_t seq : seqs) {
    const Entry& e = cache_[seq - first];
    const sector_t es = e.sector, ee = e.sector + (e.data.size() >> kSectorShift);
    if (ee <= start || es >= end) continue;
    const sector_t from = std::max(es, start), to = std::min(ee, end);
    ov->pieces.emplace_back(
        (from - start) << kSectorShift,
        e.data.substr((from - es) << kSectorShift, (to - from) << kSectorShift));
  }
  if (ov->pieces.empty()) {
    delete ov;
    return nullptr;
  }
  return ov;
}

void WcacheTarget::powercut() {
  std::vector<TargetIo*> waiting;
  std::vector<Bio*> bios;
  {
    core::LockGuard lock(mu_);
    if (off_) return;
    off_ = true;
    cuts_.fetch_add(1, std::memory_order_relaxed);
    waiting.swap(waiters_);
    if (running_) {
      cut_deferred_ = true;  // its bios are in flight: land the survivors after them
    } else {
      bios = cut();
    }
  }
  for (TargetIo* io : waiting) complete(io, BlkStatus::IOERR);
  submit_all(bios);
}

// Chooses what of the cache reaches the media and builds its bios; the
// cache is empty afterwards.
std::vector<Bio*> WcacheTarget::cut() {
  const std::uint64_t in_flight = running_ ? running_->upto : 0;
  std::vector<Entry> survivors;
  std::vector<Entry> candidates;
  for (Entry& e : cache_)
    if (e.seq > in_flight) candidates.push_back(std::move(e));
  cache_.clear();
  index_.clear();
  cached_bytes_ = 0;
  const std::uint64_t n = candidates.size();
  std::uint64_t keep_prefix = 0;
  if (cfg_.order == CutOrder::kFifo) keep_prefix = n ? rng_.next() % (n + 1) : 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    Entry& e = candidates[i];
    if (cfg_.order == CutOrder::kTorn) {
      // Units aligned in the device's address space, each kept or not.
      const sector_t unit = atomic_ >> kSectorShift,
                     end = e.sector + (e.data.size() >> kSectorShift);
      bool some = false, all = true;
      for (sector_t s = e.sector; s < end;) {
        const sector_t next = std::min<sector_t>((s / unit + 1) * unit, end);
        if (rng_.next() & 1) {
          survivors.push_back(Entry{
              e.seq, s, e.data.substr((s - e.sector) << kSectorShift, (next - s) << kSectorShift)});
          some = true;
        } else {
          all = false;
        }
        s = next;
      }
      if (some && !all) torn_writes_.fetch_add(1, std::memory_order_relaxed);
      if (!some) lost_writes_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const bool keep = cfg_.order == CutOrder::kFifo  ? i < keep_prefix
                      : cfg_.order == CutOrder::kAny ? (rng_.next() & 1) != 0
                                                     : false;
    if (keep) {
      survivors.push_back(std::move(e));
    } else {
      lost_writes_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::vector<const Entry*> ptrs;
  for (const Entry& e : survivors) {
    ptrs.push_back(&e);
    survived_bytes_.fetch_add(e.data.size(), std::memory_order_relaxed);
  }
  std::vector<Bio*> bios;
  for (auto& [sector, data] : materialize(ptrs)) {
    bios.push_back(background_write(nullptr, sector, std::move(data)));
  }
  return bios;
}

int WcacheTarget::message(const std::vector<std::string>& argv, std::string* /*result*/) {
  if (argv.empty()) return -ENOTTY;
  const bool mark = strcasecmp(argv[0].c_str(), "mark") == 0;
  if (!mark && strcasecmp(argv[0].c_str(), "powercut") != 0) return -ENOTTY;
  if (argv.size() != (mark ? 2u : 1u)) return -EINVAL;
  if (mark && (cfg_.powercut_mark.empty() || argv[1] != cfg_.powercut_mark)) return 0;
  powercut();
  wait_for([this] {
    core::LockGuard lock(mu_);
    return !running_ && !cut_deferred_ && bg_inflight_.load(std::memory_order_acquire) == 0;
  });
  return 0;
}

Counters WcacheTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  return {{"wcache_cached_writes", n(cached_writes_)},
          {"wcache_writebacks", n(writebacks_)},
          {"wcache_written_back_bytes", n(written_back_bytes_)},
          {"wcache_dirty_bytes", static_cast<double>(dirty_bytes())},
          {"wcache_powercuts", n(cuts_)},
          {"wcache_lost_writes", n(lost_writes_)},
          {"wcache_torn_writes", n(torn_writes_)},
          {"wcache_survived_bytes", n(survived_bytes_)},
          {"wcache_failed_after_cut", n(failed_after_cut_)}};
}

}  // namespace iostack::dev
