// The simulated hard disk: command queue, caches and media timing.
#include "dev/hdd.hpp"

#include <algorithm>

#include "block/blk_mq.hpp"
#include "block/request.hpp"

namespace iostack::dev {

namespace {
constexpr std::size_t kMaxExtents = 256;       // write-back extents the drive tracks
constexpr std::uint64_t kDestageChunk = 2048;  // sectors written back at a time
constexpr core::Nanos kNever = ~core::Nanos{0} / 4;
constexpr std::int8_t kHitUnknown = 0, kHitNo = 1, kHitYes = 2;
constexpr std::uint32_t kNoSlot = ~std::uint32_t{0};
constexpr std::uint32_t kNoId = ~std::uint32_t{0};  // no dirty extent
}  // namespace

HddDriver::HddDriver(const HddConfig& cfg, core::Clock* clock)
    : cfg_(cfg), model_(cfg), clock_(clock), store_(cfg.size_bytes) {
  seg_sectors_ = (cfg.cache_bytes / 2 / cfg.cache_segments) >> block::kSectorShift;
  wc_sectors_ = (cfg.cache_bytes / 2) >> block::kSectorShift;
  // The tag set bounds what is queued; the queue's flush request comes on top.
  const std::uint32_t slots = cfg.queue_depth + 8;
  slots_.resize(slots);
  order_.reserve(slots);
  for (std::uint32_t i = slots; i-- > 0;) free_slots_.push_back(i);
  rot_.reserve(slots);
  rstart_.reserve(slots);
  segs_.resize(cfg.cache_segments);
  next_.resize(kMaxExtents + 2);
  prev_.resize(kMaxExtents + 2);
  ext_.resize(kMaxExtents + 2);
  rnext_.resize(kMaxExtents + 2);
  rprev_.resize(kMaxExtents + 2);
  rbucket_.assign(kRotBuckets, kNoId);
  dstart_.reserve(kMaxExtents + 2);
  for (std::uint32_t id = kMaxExtents + 2; id-- > 0;) free_ids_.push_back(id);
  timer_.fn = &HddDriver::timer_fn;
  timer_.priv = this;
}

HddDriver::~HddDriver() { quiesce(); }

block::QueueLimits HddDriver::limits() const {
  block::QueueLimits lim;
  lim.logical_block_size = block::kSectorSize;
  lim.physical_block_size = block::kSectorSize;
  lim.io_min = block::kSectorSize;
  lim.max_hw_sectors = cfg_.max_sectors ? cfg_.max_sectors : 65535;  // ATA_MAX_SECTORS_LBA48
  lim.rotational = true;
  lim.wc_feature = cfg_.write_cache;
  lim.fua_feature = cfg_.write_cache;  // NCQ writes carry FUA
  return lim;
}

block::TagSetConfig HddDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = cfg_.hw_queues;
  set.queue_depth = cfg_.queue_depth;
  return set;
}

core::Nanos HddDriver::xfer_ns(std::uint64_t bytes) const {
  return bytes * 1000 / cfg_.iface_mbps;  // MB/s is bytes per microsecond
}

block::BlkStatus HddDriver::queue_rq(block::HwCtx* /*hctx*/, block::Request* rq, bool /*last*/) {
  const auto op = block::req_op(rq);
  if (op != block::REQ_OP_READ && op != block::REQ_OP_WRITE && op != block::REQ_OP_FLUSH)
    return block::BlkStatus::NOTSUPP;
  if (op != block::REQ_OP_FLUSH && block::blk_rq_end_sector(rq) > capacity_sectors())
    return block::BlkStatus::IOERR;
  // Starts the walk to the store's page, which then overlaps the queueing
  // below (the lines themselves follow once it is queued).
  if (op != block::REQ_OP_FLUSH) store_.prefetch(rq, 1);
  core::LockGuard lock(mu_);
  if (free_slots_.empty()) return block::BlkStatus::DEV_RESOURCE;
  const core::Nanos now = clock_->now();
  inflight_.fetch_add(1, std::memory_order_acq_rel);
  const std::uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  Pending p{};
  p.rq = rq;
  p.arrival = now;
  p.seq = next_seq_++;
  if (op == block::REQ_OP_FLUSH) {
    p.kind = Kind::kFlush;
    p.pos = model_.locate(0);
    ++flushes_;
  } else {
    p.s = block::blk_rq_pos(rq);
    p.e = block::blk_rq_end_sector(rq);
    if (op == block::REQ_OP_READ) {
      p.kind = Kind::kRead;
    } else if (cfg_.write_cache && !(rq->cmd_flags & block::REQ_FUA) && p.e - p.s <= wc_sectors_) {
      p.kind = Kind::kCachedWrite;  // never waits for the arm
    } else {
      p.kind = Kind::kMediaWrite;
    }
    // A cached write never needs its position (cost() and serve() ask none).
    if (p.kind != Kind::kCachedWrite) {
      p.pos = model_.locate(p.s);
      rot_insert(&rot_, {p.pos.offset, slot});
    }
    if (p.kind == Kind::kCachedWrite) ++cached_writes_;
    if (p.kind == Kind::kRead) {
      rot_insert(&rstart_, {p.s, slot});
      // Known from the start: cache_grew()/cache_shrank() keep it true, as
      // they do once an SPTF pass has found it.
      p.hit = read_hit(p.s, p.e) ? kHitYes : kHitNo;
      if (p.hit == kHitYes) ++hits_;
    }
  }
  slots_[slot] = p;
  order_.push_back(slot);
  if (op != block::REQ_OP_FLUSH) store_.prefetch(rq);
  // A drive waiting to start its write-back takes the command instead (the
  // timer is re-armed for it).
  if (op_ == Op::kIdle || op_ == Op::kIdleWait) start_next(now);
  return block::BlkStatus::OK;
}

std::size_t HddDriver::rot_first(const std::vector<RotKey>& v, std::uint64_t offset) {
  return static_cast<std::size_t>(
      std::lower_bound(v.begin(), v.end(), offset,
                       [](const RotKey& a, std::uint64_t o) { return a.offset < o; }) -
      v.begin());
}

std::size_t HddDriver::rot_first(const std::vector<RotKey>& v, RotKey k) {
  // (offset, key) as one number: one comparison, no branch.
  __extension__ using u128 = unsigned __int128;
  const auto rank = [](const RotKey& r) { return u128{r.offset} << 64 | r.key; };
  return static_cast<std::size_t>(
      std::lower_bound(v.begin(), v.end(), k,
                       [&](const RotKey& a, const RotKey& b) { return rank(a) < rank(b); }) -
      v.begin());
}

void HddDriver::rot_insert(std::vector<RotKey>* v, RotKey k, std::size_t hint) {
  __extension__ using u128 = unsigned __int128;
  const auto rank = [](const RotKey& r) { return u128{r.offset} << 64 | r.key; };
  const bool at_hint = hint <= v->size() && (hint == 0 || rank((*v)[hint - 1]) < rank(k)) &&
                       (hint == v->size() || !(rank((*v)[hint]) < rank(k)));
  const std::size_t i = at_hint ? hint : rot_first(*v, k);
  v->insert(v->begin() + static_cast<std::ptrdiff_t>(i), k);
}

void HddDriver::rot_erase(std::vector<RotKey>* v, RotKey k) {
  const std::size_t i = rot_first(*v, k);
  if (i < v->size() && (*v)[i].key == k.key) v->erase(v->begin() + static_cast<std::ptrdiff_t>(i));
}

void HddDriver::dirty_insert(std::uint32_t after, Range r, std::size_t hint) {
  r.id = free_ids_.back();
  free_ids_.pop_back();
  ext_[r.id] = r;
  const std::uint32_t next = after == kNoId ? first_ : next_[after];
  prev_[r.id] = after;
  next_[r.id] = next;
  (after == kNoId ? first_ : next_[after]) = r.id;
  (next == kNoId ? last_ : prev_[next]) = r.id;
  ++ndirty_;
  bucket_insert(r.id);
  rot_insert(&dstart_, {r.start, r.id}, hint);
}

void HddDriver::dirty_erase(std::uint32_t id) {
  const Range& d = ext_[id];
  bucket_erase(d.id);
  rot_erase(&dstart_, {d.start, d.id});
  free_ids_.push_back(d.id);
  const std::uint32_t prev = prev_[id], next = next_[id];
  (prev == kNoId ? first_ : next_[prev]) = next;
  (next == kNoId ? last_ : prev_[next]) = prev;
  --ndirty_;
}

std::size_t HddDriver::bucket_of(core::Nanos offset) const {
  return static_cast<std::size_t>(offset * kRotBuckets / model_.rev_ns());
}

void HddDriver::bucket_insert(std::uint32_t id) {
  std::uint32_t& head = rbucket_[bucket_of(ext_[id].pos.offset)];
  rprev_[id] = kNoId;
  rnext_[id] = head;
  if (head != kNoId) rprev_[head] = id;
  head = id;
}

void HddDriver::bucket_erase(std::uint32_t id) {
  const std::uint32_t prev = rprev_[id], next = rnext_[id];
  (prev == kNoId ? rbucket_[bucket_of(ext_[id].pos.offset)] : rnext_[prev]) = next;
  if (next != kNoId) rprev_[next] = prev;
}

bool HddDriver::dirty_before(std::uint32_t a, std::uint32_t b) const {
  for (std::uint32_t id = next_[a]; id != kNoId; id = next_[id])
    if (id == b) return true;
  return false;
}

void HddDriver::dirty_set_start(std::uint32_t id, std::uint64_t start) {
  Range& d = ext_[id];
  bucket_erase(d.id);
  rot_erase(&dstart_, {d.start, d.id});
  d.start = start;
  d.pos = model_.locate(start);
  bucket_insert(d.id);
  rot_insert(&dstart_, {d.start, d.id});
}

void HddDriver::cache_grew(std::uint64_t s, std::uint64_t e) {
  // Only reads have a hit state; those starting in [s, e].
  for (auto k = rstart_.begin() + static_cast<std::ptrdiff_t>(rot_first(rstart_, s));
       k != rstart_.end() && k->offset <= e; ++k) {
    const Pending& p = slots_[k->key];
    if (p.hit == kHitNo && p.e <= e) {
      p.hit = kHitYes;
      ++hits_;
    }
  }
}

void HddDriver::cache_shrank() {
  if (!hits_) return;
  unknown_ += hits_;
  hits_ = 0;
  for (const RotKey& k : rstart_) {
    const Pending& p = slots_[k.key];
    if (p.hit == kHitYes) p.hit = kHitUnknown;
  }
}

bool HddDriver::read_hit(std::uint64_t s, std::uint64_t e) const {
  for (const Range& g : segs_)
    if (g.end > g.start && s >= g.start && e <= g.end) return true;
  if (dirty_hit(s, e)) return true;
  return destaging_.end > destaging_.start && s >= destaging_.start && e <= destaging_.end;
}

bool HddDriver::ra_covers(std::uint64_t s, std::uint64_t e) const {
  return ra_seg_ >= 0 && s >= segs_[static_cast<std::size_t>(ra_seg_)].start && e <= ra_limit_;
}

core::Nanos HddDriver::ra_ready(std::uint64_t e) const {
  if (e <= ra_lba_) return ra_time_;
  return ra_time_ + (e - ra_lba_) * model_.rev_ns() / ra_spt_;
}

HddHead HddDriver::ra_head(core::Nanos now) const {
  if (ra_seg_ < 0 || now <= ra_time_) return head_;
  const std::uint64_t read = (now - ra_time_) * ra_spt_ / model_.rev_ns();
  const std::uint64_t at = std::min(ra_limit_, ra_lba_ + read);
  if (at == ra_lba_) return head_;
  const HddPos p = model_.locate(at - 1);
  return HddHead{p.cyl, p.head};
}

// Read-ahead stops where the media has got to by `now`; the arm is there.
void HddDriver::settle_ra(core::Nanos now, const HddHead& h) {
  if (ra_seg_ < 0) return;
  Range& g = segs_[static_cast<std::size_t>(ra_seg_)];
  const std::uint64_t read = now > ra_time_ ? (now - ra_time_) * ra_spt_ / model_.rev_ns() : 0;
  g.end = std::min(ra_limit_, ra_lba_ + read);
  if (g.end - g.start > seg_sectors_) g.start = g.end - seg_sectors_;  // the segment is a ring
  cache_shrank();
  cache_grew(g.start, g.end);
  head_ = h;
  ra_seg_ = -1;
}

bool HddDriver::write_fits(std::uint64_t n) const {
  return dirty_sectors_ + n <= wc_sectors_ && ndirty_ + 2 <= kMaxExtents;
}

std::size_t HddDriver::dstart_upper(std::uint64_t s) const {
  return rot_first(dstart_, s + 1);  // sectors are far below 2^64
}

std::size_t HddDriver::dstart_lower(std::uint64_t s) const { return rot_first(dstart_, s); }

bool HddDriver::dirty_hit(std::uint64_t s, std::uint64_t e) const {
  if (e > s) {
    // Non-empty extents are disjoint: only the last one starting at or
    // before s can hold [s, e).
    for (std::size_t k = dstart_upper(s); k-- > 0;) {
      const Range& d = ext_[dstart_[k].key];
      if (d.end > d.start) return e <= d.end;
    }
    return false;
  }
  for (std::uint32_t id = first_; id != kNoId; id = next_[id])
    if (s >= ext_[id].start && e <= ext_[id].end) return true;
  return false;
}

// Newer data for [s, e) supersedes what the cache still holds of it.
std::size_t HddDriver::drop_dirty(std::uint64_t s, std::uint64_t e) {
  if (e > s) {
    // The extents it overlaps: the last non-empty one starting before s,
    // and those starting in [s, e). Each is cut on its own, so the order
    // does not matter. What starts before s stays where it is.
    const std::size_t at_s = dstart_lower(s);
    std::size_t k = at_s;
    for (std::size_t j = k; j-- > 0;) {
      const Range& d = ext_[dstart_[j].key];
      if (d.end == d.start) continue;
      if (d.end > s) k = j;
      break;
    }
    while (k < dstart_.size() && dstart_[k].offset < e) {
      const auto id = static_cast<std::uint32_t>(dstart_[k].key);
      Range& d = ext_[id];
      if (d.end <= s) {
        ++k;
        continue;
      }
      cache_shrank();
      if (d.start >= s && d.end <= e) {
        dirty_sectors_ -= d.end - d.start;
        dirty_erase(id);  // the next one moves to k
      } else if (d.start < s && d.end > e) {
        const Range tail{e, d.end, 0, model_.locate(e)};
        dirty_sectors_ -= e - s;
        d.end = s;
        dirty_insert(id, tail);  // starts at e: not visited
        ++k;
      } else if (d.start < s) {
        dirty_sectors_ -= d.end - s;
        d.end = s;
        ++k;
      } else {
        dirty_sectors_ -= e - d.start;
        dirty_set_start(id, e);  // moves past the range; the next one is at k
      }
    }
    return at_s;
  }
  // In the cache's order; a tail cut off goes after its extent, unvisited.
  for (std::uint32_t id = first_, next; id != kNoId; id = next) {
    next = next_[id];
    Range& d = ext_[id];
    if (d.end <= s || d.start >= e) continue;
    cache_shrank();
    if (d.start >= s && d.end <= e) {
      dirty_sectors_ -= d.end - d.start;
      dirty_erase(id);
    } else if (d.start < s && d.end > e) {
      const Range tail{e, d.end, 0, model_.locate(e)};
      dirty_sectors_ -= e - s;
      d.end = s;
      dirty_insert(id, tail);
    } else if (d.start < s) {
      dirty_sectors_ -= d.end - s;
      d.end = s;
    } else {
      dirty_sectors_ -= e - d.start;
      dirty_set_start(id, e);
    }
  }
  return ~std::size_t{0};
}

// Positioning time of a queued command from head `h`: what SPTF minimises.
core::Nanos HddDriver::cost(const Pending& p, core::Nanos now, const HddHead& h,
                            core::Nanos bound) const {
  const block::Request* rq = p.rq;
  const std::uint64_t s = block::blk_rq_pos(rq), e = block::blk_rq_end_sector(rq);
  switch (block::req_op(rq)) {
    case block::REQ_OP_READ:
      if (p.hit == kHitUnknown) {
        p.hit = read_hit(s, e) ? kHitYes : kHitNo;
        if (p.hit == kHitYes) ++hits_;
        --unknown_;
      }
      if (p.hit == kHitYes) return 0;
      if (ra_covers(s, e)) return ra_ready(e) > now ? ra_ready(e) - now : 0;
      break;
    case block::REQ_OP_WRITE:
      if (cfg_.write_cache && !(rq->cmd_flags & block::REQ_FUA) && e - s <= wc_sectors_)
        return write_fits(e - s) ? 0 : kNever;
      break;
    default:
      return 0;
  }
  return model_.position_below(h, now + cfg_.overhead, p.pos, bound);
}

core::Nanos HddDriver::serve(block::Request* rq, core::Nanos now, std::int8_t hit,
                             const HddHead& h) {
  const std::uint64_t s = block::blk_rq_pos(rq), e = block::blk_rq_end_sector(rq);
  const std::uint32_t n = static_cast<std::uint32_t>(e - s);
  const core::Nanos xfer = xfer_ns(block::blk_rq_bytes(rq));
  const block::sector_t cap = capacity_sectors();
  std::uint32_t dist = 0;
  core::Nanos t;
  switch (block::req_op(rq)) {
    case block::REQ_OP_READ:
      if (hit == kHitYes || (hit == kHitUnknown && read_hit(s, e))) {
        ++stats_.read_hits;
        return now + cfg_.overhead + xfer;
      }
      if (ra_covers(s, e)) {
        // Already read ahead by now: a plain hit; else served as it arrives.
        ++(ra_ready(e) <= now ? stats_.read_hits : stats_.readahead_hits);
        // A sequential stream keeps the read-ahead going.
        ra_limit_ = std::min<std::uint64_t>(cap, std::max(ra_limit_, e + seg_sectors_));
        segs_[static_cast<std::size_t>(ra_seg_)].lru = ++lru_clock_;
        return std::max(now + cfg_.overhead + xfer, ra_ready(e));
      }
      ++stats_.read_misses;
      settle_ra(now, h);
      t = model_.access(&head_, now + cfg_.overhead, s, n, &dist);
      {
        std::size_t v = 0;  // the least recently used segment
        for (std::size_t i = 1; i < segs_.size(); ++i)
          if (segs_[i].lru < segs_[v].lru) v = i;
        // The segment keeps what fits of the request (nothing without a cache).
        segs_[v] = Range{e - std::min<std::uint64_t>(n, seg_sectors_), e, ++lru_clock_, {}};
        cache_shrank();
        cache_grew(segs_[v].start, segs_[v].end);
        ra_lba_ = e;
        ra_limit_ = std::min<std::uint64_t>(cap, e + (seg_sectors_ > n ? seg_sectors_ - n : 0));
        ra_time_ = t;
        ra_spt_ = model_.spt_at(e < cap ? e : s);
        ra_seg_ = ra_limit_ > ra_lba_ ? static_cast<int>(v) : -1;
      }
      break;
    case block::REQ_OP_WRITE:
      if (const std::size_t at = drop_dirty(s, e);
          cfg_.write_cache && !(rq->cmd_flags & block::REQ_FUA) && n <= wc_sectors_) {
        ++stats_.cached_writes;
        if (last_ != kNoId && ext_[last_].end == s)
          ext_[last_].end = e;
        else
          dirty_insert(last_, Range{s, e, 0, model_.locate(s)}, at);
        cache_grew(ext_[last_].start, ext_[last_].end);
        dirty_sectors_ += n;
        return now + cfg_.overhead + xfer;
      }
      ++stats_.media_writes;
      settle_ra(now, h);
      t = model_.access(&head_, now + cfg_.overhead, s, n, &dist);
      break;
    default:  // FLUSH: only chosen once nothing is dirty
      ++stats_.flushes;
      return now + cfg_.overhead;
  }
  if (dist) {
    ++stats_.seeks;
    stats_.seek_cylinders += dist;
  }
  return t;
}

std::uint32_t HddDriver::destage_pick(core::Nanos now) const {
  // An extent the arm reaches before its first sector comes round (move <=
  // r) costs r, less than a turn; any other costs more than a turn. So the
  // best within reach wins when there is one. On another cylinder an
  // extent is within reach only from r >= seek_ns(1) on: this cylinder's
  // extents (by start sector) are looked at first, then the others by
  // rotation from there, bucket by bucket, up to the best so far.
  const core::Nanos rev = model_.rev_ns(), ph = now % rev;
  std::uint32_t best = kNoId;
  core::Nanos best_r = kNever;
  auto consider = [&](std::uint32_t id, core::Nanos r) REQUIRES(mu_) {
    if (r > best_r || model_.move_ns(head_, ext_[id].pos) > r) return;
    if (r < best_r || dirty_before(id, best)) best_r = r, best = id;
  };
  const std::uint64_t lo = model_.cylinder_start(head_.cyl),
                      hi = model_.cylinder_start(head_.cyl + 1);
  for (std::size_t k = dstart_lower(lo); k < dstart_.size() && dstart_[k].offset < hi; ++k) {
    const auto id = static_cast<std::uint32_t>(dstart_[k].key);
    consider(id, rot_dist(ext_[id].pos.offset, ph, rev));
  }
  const core::Nanos m0 = model_.seek_ns(1);
  if (m0 < rev) {
    // Bucket b starts at ceil(b * rev / K), and each is at least w wide.
    // From the one holding ph + m0, the i-th next holds only extents at
    // r > m0 + (i - 1) * w (or below m0, on another cylinder out of reach).
    const std::size_t b0 = bucket_of(ph + m0 < rev ? ph + m0 : ph + m0 - rev);
    const core::Nanos w = rev / kRotBuckets;
    for (std::size_t i = 0; i < kRotBuckets; ++i) {
      if (i > 0 && m0 + (i - 1) * w >= best_r) break;
      for (std::uint32_t id = rbucket_[(b0 + i) % kRotBuckets]; id != kNoId; id = rnext_[id])
        consider(id, rot_dist(ext_[id].pos.offset, ph, rev));
    }
  }
  return best != kNoId ? best : destage_pick_all(now);
}

std::uint32_t HddDriver::destage_pick_all(core::Nanos now) const {
  const core::Nanos rev = model_.rev_ns(), ph = now % rev;
  std::uint32_t best = kNoId;
  core::Nanos best_cost = kNever;
  for (std::uint32_t id = first_; id != kNoId; id = next_[id]) {
    const HddPos& pos = ext_[id].pos;
    const core::Nanos c =
        model_.position_from(model_.move_ns(head_, pos), rot_dist(pos.offset, ph, rev));
    if (c < best_cost) best_cost = c, best = id;
  }
  return best;
}

core::Nanos HddDriver::destage_one(core::Nanos now, const HddHead& h) {
  settle_ra(now, h);
  const std::uint32_t best = destage_pick(now);
  if (check_picks_) {
    ++checked_picks_;
    if (best != destage_pick_all(now)) ++wrong_picks_;
  }
  // In chunks, so that commands arriving meanwhile wait little.
  Range& d = ext_[best];
  destaging_ = Range{d.start, std::min(d.end, d.start + kDestageChunk), 0, d.pos};
  cache_grew(destaging_.start, destaging_.end);
  cache_shrank();  // the extent gives up what now destages
  if (destaging_.end == d.end) {
    dirty_erase(best);
  } else {
    dirty_set_start(best, destaging_.end);
  }
  std::uint32_t dist = 0;
  const core::Nanos t = model_.access(&head_, now, destaging_.start,
                                      static_cast<std::uint32_t>(destaging_.end - destaging_.start),
                                      &dist, &destaging_.pos);
  ++stats_.destages;
  if (dist) {
    ++stats_.seeks;
    stats_.seek_cylinders += dist;
  }
  return t;
}

bool HddDriver::ra_candidate() const {
  if (ra_seg_ < 0) return false;
  const std::uint64_t lo = segs_[static_cast<std::size_t>(ra_seg_)].start, hi = ra_limit_;
  for (auto k = rstart_.begin() + static_cast<std::ptrdiff_t>(rot_first(rstart_, lo));
       k != rstart_.end() && k->offset <= hi; ++k)
    if (slots_[k->key].e <= hi) return true;
  return false;
}

std::uint32_t HddDriver::sptf(core::Nanos now, const HddHead& h) {
  std::uint32_t pick = kNoSlot;
  std::uint64_t pick_seq = ~std::uint64_t{0};
  core::Nanos best = kNever;
  bool arm = false;
  // When every queued command needs the arm (no cached writes, every read
  // a known miss outside the read-ahead), the pass below finds nothing.
  const bool all_arm = !cached_writes_ && !hits_ && !unknown_ && !ra_candidate();
  // Only cached writes, and no extent left for any: none can go.
  if (cached_writes_ == order_.size() && ndirty_ + 2 > kMaxExtents) return kNoSlot;
  if (all_arm) {
    arm = !rot_.empty();
  } else {
    ++pass_;
    // What ra_covers() accepts.
    const std::uint64_t ra_lo = ra_seg_ >= 0 ? segs_[static_cast<std::size_t>(ra_seg_)].start : 1,
                        ra_hi = ra_seg_ >= 0 ? ra_limit_ : 0;
    // Those served from the caches, in arrival order, as cost() sees them;
    // nothing after a cost of 0 can win.
    for (std::size_t j = 0; j < order_.size() && best > 0; ++j) {
      Pending& p = slots_[order_[j]];
      core::Nanos c = 0;
      if (p.kind == Kind::kCachedWrite) {
        c = write_fits(p.e - p.s) ? 0 : kNever;
      } else if (p.kind == Kind::kRead) {
        if (p.hit == kHitUnknown) {
          p.hit = read_hit(p.s, p.e) ? kHitYes : kHitNo;
          if (p.hit == kHitYes) ++hits_;
          --unknown_;
        }
        if (p.hit == kHitNo) {
          if (p.s < ra_lo || p.e > ra_hi) {
            p.pass = pass_;
            arm = true;
            continue;
          }
          c = ra_ready(p.e) > now ? ra_ready(p.e) - now : 0;
        }
      } else if (p.kind == Kind::kMediaWrite) {
        p.pass = pass_;
        arm = true;
        continue;
      }
      if (c < best) best = c, pick = order_[j], pick_seq = p.seq;
    }
  }
  if (!arm) return pick;
  // Those needing the arm, by rotation from the head's angle at the start
  // of positioning: a command costs at least its rotational distance r.
  const core::Nanos rev = model_.rev_ns(), ph = (now + cfg_.overhead) % rev;
  const std::size_t n = rot_.size();
  std::size_t k = rot_first(rot_, ph);
  for (std::size_t m = 0; m < n; ++m, ++k) {
    if (k == n) k = 0;
    const RotKey& key = rot_[k];
    const core::Nanos r = key.offset >= ph ? key.offset - ph : key.offset + rev - ph;
    if (r > best) break;
    const auto i = static_cast<std::uint32_t>(key.key);
    const Pending& p = slots_[i];
    if (!all_arm && p.pass != pass_) continue;  // served from a cache, or cannot win
    const core::Nanos c = model_.position_from(model_.move_ns(h, p.pos), r);
    if (c < best || (c == best && p.seq < pick_seq)) best = c, pick = i, pick_seq = p.seq;
  }
  return pick;
}

void HddDriver::start_next(core::Nanos now) {
  if (order_.empty()) {
    if (!ndirty_) {
      op_ = Op::kIdle;
      return;
    }
    // Write-back once the drive has been idle for a while.
    if (now < last_request_end_ + cfg_.idle_destage) {
      op_ = Op::kIdleWait;
      op_end_ = last_request_end_ + cfg_.idle_destage;
    } else {
      op_ = Op::kDestage;
      op_end_ = destage_one(now, ra_head(now));
    }
    clock_->arm(&timer_, op_end_);
    return;
  }
  std::uint32_t pick = kNoSlot;
  const HddHead h = ra_head(now);
  if (flushes_) {
    // FLUSH writes the whole cache back before it completes.
    if (!ndirty_) {
      std::size_t j = 0;
      while (slots_[order_[j]].kind != Kind::kFlush) ++j;
      pick = order_[j];
    }
  } else if (slots_[order_[0]].arrival + cfg_.max_wait <= now) {
    pick = order_[0];  // aged: no more reordering around it
    if (cost(slots_[pick], now, h, kNever) == kNever) pick = kNoSlot;
  } else {
    pick = sptf(now, h);
  }
  if (pick == kNoSlot) {  // a cached write waits for room
    op_ = Op::kDestage;
    op_end_ = destage_one(now, h);
  } else {
    const Pending& p = slots_[pick];
    if (p.kind == Kind::kFlush) {
      --flushes_;
    } else if (p.kind != Kind::kCachedWrite) {
      rot_erase(&rot_, {p.pos.offset, pick});
    } else {
      --cached_writes_;
    }
    if (p.kind == Kind::kRead) {
      rot_erase(&rstart_, {p.s, pick});
      if (p.hit == kHitYes) --hits_;
      if (p.hit == kHitUnknown) --unknown_;
    }
    cur_ = p.rq;
    const std::int8_t hit = p.hit;
    order_.erase(std::find(order_.begin(), order_.end(), pick));
    free_slots_.push_back(pick);
    op_ = Op::kRequest;
    op_end_ = serve(cur_, now, hit, h);
  }
  clock_->arm(&timer_, op_end_);
}

void HddDriver::timer_fn(core::Timer* t) { static_cast<HddDriver*>(t->priv)->on_timer(); }

void HddDriver::on_timer() {
  block::Request* done = nullptr;
  {
    core::LockGuard lock(mu_);
    const core::Nanos now = clock_->now();
    // A real-clock firing that lost the race with a re-arm: its op is not over.
    if (op_ == Op::kIdle || now < op_end_) return;
    if (op_ == Op::kRequest) {
      done = cur_;
      cur_ = nullptr;
      last_request_end_ = op_end_;
    } else if (op_ == Op::kDestage) {
      dirty_sectors_ -= destaging_.end - destaging_.start;
      destaging_ = Range{};
      cache_shrank();
    }
    op_ = Op::kIdle;
    start_next(now);
  }
  if (!done) return;
  block::BlkStatus st = block::BlkStatus::OK;
  const auto op = block::req_op(done);
  if ((op == block::REQ_OP_READ || op == block::REQ_OP_WRITE) &&
      !store_.transfer(done, block::blk_rq_bytes(done)))
    st = block::BlkStatus::IOERR;
  block::blk_mq_end_request(done, st);
  inflight_.fetch_sub(1, std::memory_order_acq_rel);
}

void HddDriver::quiesce() {
  while (inflight() > 0) {
    if (!clock_->pause(100 * core::kNsPerUs)) break;  // nothing can end them
  }
  clock_->cancel(&timer_);
  core::LockGuard lock(mu_);
  if (op_ == Op::kDestage) {  // the write-back stops where it is
    dirty_sectors_ -= destaging_.end - destaging_.start;
    destaging_ = Range{};
    cache_shrank();
  }
  op_ = Op::kIdle;
}

HddStats HddDriver::stats() const {
  core::LockGuard lock(mu_);
  return stats_;
}

void HddDriver::check_picks(bool on) {
  core::LockGuard lock(mu_);
  check_picks_ = on;
}

std::pair<std::uint64_t, std::uint64_t> HddDriver::checked_picks() const {
  core::LockGuard lock(mu_);
  return {checked_picks_, wrong_picks_};
}

HddHead HddDriver::head() const {
  core::LockGuard lock(mu_);
  return head_;
}

std::uint64_t HddDriver::dirty_sectors() const {
  core::LockGuard lock(mu_);
  return dirty_sectors_;
}

bool HddDriver::durable(block::sector_t sector, std::uint32_t nr) const {
  core::LockGuard lock(mu_);
  const std::uint64_t e = sector + nr;
  for (std::uint32_t id = first_; id != kNoId; id = next_[id])
    if (ext_[id].start < e && ext_[id].end > sector) return false;
  return !(destaging_.start < e && destaging_.end > sector);
}

}  // namespace iostack::dev
