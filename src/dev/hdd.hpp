// A simulated hard disk: one actuator serving a native command queue in
// shortest-positioning-time-first order, with read-ahead segments and a
// write-back cache, timed by HddModel on the device's clock. Each media
// operation arms one timer for its end, so under a virtual clock time jumps
// from service to service and under the real clock the device waits out its
// service times. Data lives in a PageStore: reads return what was written.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "core/thread_safety.hpp"
#include "dev/hdd_config.hpp"
#include "dev/hdd_model.hpp"
#include "dev/page_store.hpp"

namespace iostack::dev {

struct HddStats {
  std::uint64_t seeks = 0;           // media accesses that moved the arm
  std::uint64_t seek_cylinders = 0;  // cylinders crossed by them
  std::uint64_t read_hits = 0;       // served from a segment or dirty data
  std::uint64_t readahead_hits = 0;  // served while read-ahead was filling
  std::uint64_t read_misses = 0;     // went to the media
  std::uint64_t cached_writes = 0;   // completed into the write-back cache
  std::uint64_t media_writes = 0;    // write-through or FUA
  std::uint64_t destages = 0;        // dirty extents written back
  std::uint64_t flushes = 0;
  double avg_seek_distance() const {
    return seeks ? static_cast<double>(seek_cylinders) / static_cast<double>(seeks) : 0.0;
  }
};

class HddDriver final : public block::BlockDriver {
 public:
  HddDriver(const HddConfig& cfg, core::Clock* clock);
  ~HddDriver() override;

  const char* name() const override { return "sd"; }
  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) override;

  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const { return cfg_.size_bytes >> block::kSectorShift; }

  const HddConfig& config() const { return cfg_; }
  const HddModel& model() const { return model_; }
  PageStore& store() { return store_; }
  HddStats stats() const EXCLUDES(mu_);
  HddHead head() const EXCLUDES(mu_);
  // Sectors in the volatile cache not yet on the media.
  std::uint64_t dirty_sectors() const EXCLUDES(mu_);
  // True when no sector of the range is only in the volatile cache.
  bool durable(block::sector_t sector, std::uint32_t nr) const EXCLUDES(mu_);
  long inflight() const { return inflight_.load(std::memory_order_acquire); }
  // For tests: each write-back choice is also made by asking every dirty
  // extent; check_picks() returns how many were checked and how many of
  // them differed.
  void check_picks(bool on) EXCLUDES(mu_);
  std::pair<std::uint64_t, std::uint64_t> checked_picks() const EXCLUDES(mu_);
  // Waits for (or, on a virtual clock, runs) the requests in flight, then
  // stops the drive's background work: call before the queue goes away.
  void quiesce() EXCLUDES(mu_);

 private:
  enum class Op { kIdle, kIdleWait, kRequest, kDestage };
  // What a queued command needs: the arm, the caches, or neither.
  enum class Kind : std::uint8_t { kRead, kCachedWrite, kMediaWrite, kFlush };
  struct Pending {
    block::Request* rq;
    core::Nanos arrival;
    HddPos pos;          // of its first sector
    std::uint64_t s, e;  // sectors, [s, e)
    Kind kind;
    // A read's read_hit(), kept between SPTF passes: 0 not known, 1 a miss,
    // 2 a hit. cache_grew()/cache_shrank() keep it true as the caches change.
    mutable std::int8_t hit = 0;
    std::uint64_t pass = 0;  // the last SPTF pass that found it needing the arm
    std::uint64_t seq = 0;   // arrival order
  };
  struct Range {
    std::uint64_t start = 0, end = 0;  // sectors, [start, end)
    std::uint64_t lru = 0;             // read segments
    HddPos pos;                        // dirty extents: of `start`
    std::uint32_t id = 0;              // dirty extents: key in ext_ and the indexes
  };
  // An entry of a rotational index: what waits for the media, by where
  // its first sector passes under the head (key: a slot in slots_ or a
  // dirty extent's id, which also orders equal offsets).
  struct RotKey {
    core::Nanos offset;
    std::uint64_t key;
  };
  // The first entry of an index at or after `offset`, and not before `k`.
  static std::size_t rot_first(const std::vector<RotKey>& v, std::uint64_t offset);
  static std::size_t rot_first(const std::vector<RotKey>& v, RotKey k);
  // How far `offset` is past the angle `ph`: (offset - ph) mod rev.
  static core::Nanos rot_dist(core::Nanos offset, core::Nanos ph, core::Nanos rev) {
    return offset >= ph ? offset - ph : offset + rev - ph;
  }
  // `hint`: where `k` probably goes (checked).
  static void rot_insert(std::vector<RotKey>* v, RotKey k, std::size_t hint = ~std::size_t{0});
  static void rot_erase(std::vector<RotKey>* v, RotKey k);
  // SPTF over the queue from head `h`: the slot of the first command (in
  // arrival order) with the lowest cost below kNever (kNoSlot if none), as
  // cost() over all of them would find, visiting the arm's candidates by
  // rotation.
  std::uint32_t sptf(core::Nanos now, const HddHead& h) REQUIRES(mu_);
  // Some queued read that needs the arm otherwise is within the read-ahead.
  bool ra_candidate() const REQUIRES(mu_);
  // The dirty extents change only through these, which keep the order and
  // the indexes in step. dirty_insert() puts `r` after extent `after` (first
  // if none); `hint`: where it probably goes in dstart_.
  void dirty_insert(std::uint32_t after, Range r, std::size_t hint = ~std::size_t{0}) REQUIRES(mu_);
  void dirty_erase(std::uint32_t id) REQUIRES(mu_);
  void dirty_set_start(std::uint32_t id, std::uint64_t start) REQUIRES(mu_);
  // The arc of a turn `offset` lies in, and an extent's entry there.
  std::size_t bucket_of(core::Nanos offset) const;
  void bucket_insert(std::uint32_t id) REQUIRES(mu_);
  void bucket_erase(std::uint32_t id) REQUIRES(mu_);
  // Extent `b` comes after extent `a` in the cache's order.
  bool dirty_before(std::uint32_t a, std::uint32_t b) const REQUIRES(mu_);
  // The first entry of dstart_ starting after `s`, and at or after it.
  std::size_t dstart_upper(std::uint64_t s) const REQUIRES(mu_);
  std::size_t dstart_lower(std::uint64_t s) const REQUIRES(mu_);
  // Some dirty extent holds all of [s, e).
  bool dirty_hit(std::uint64_t s, std::uint64_t e) const REQUIRES(mu_);
  static void timer_fn(core::Timer* t);
  void on_timer() EXCLUDES(mu_);
  void start_next(core::Nanos now) REQUIRES(mu_);
  // `bound`: only a cost below it matters (position_below()).
  core::Nanos cost(const Pending& p, core::Nanos now, const HddHead& h, core::Nanos bound) const
      REQUIRES(mu_);
  // `hit`: the request's Pending::hit (a read's read_hit(), if known).
  // `h`: ra_head(now), already known.
  core::Nanos serve(block::Request* rq, core::Nanos now, std::int8_t hit, const HddHead& h)
      REQUIRES(mu_);
  core::Nanos destage_one(core::Nanos now, const HddHead& h) REQUIRES(mu_);
  // The write-back's SPTF choice from head_ at `now`: the first extent (in
  // the cache's order) with the lowest positioning time. destage_pick()
  // finds it looking at few extents; destage_pick_all() asks every one.
  std::uint32_t destage_pick(core::Nanos now) const REQUIRES(mu_);
  std::uint32_t destage_pick_all(core::Nanos now) const REQUIRES(mu_);
  bool read_hit(std::uint64_t s, std::uint64_t e) const REQUIRES(mu_);
  // The cached data changed: [s, e) is now held as one range (a queued
  // read it covers hits), or something left (a queued hit must look again).
  void cache_grew(std::uint64_t s, std::uint64_t e) REQUIRES(mu_);
  void cache_shrank() REQUIRES(mu_);
  bool ra_covers(std::uint64_t s, std::uint64_t e) const REQUIRES(mu_);
  core::Nanos ra_ready(std::uint64_t e) const REQUIRES(mu_);
  HddHead ra_head(core::Nanos now) const REQUIRES(mu_);
  // Ends the read-ahead at `now`; `h` is ra_head(now).
  void settle_ra(core::Nanos now, const HddHead& h) REQUIRES(mu_);
  bool write_fits(std::uint64_t n) const REQUIRES(mu_);
  // Returns where a dirty extent starting at s probably goes in dstart_.
  std::size_t drop_dirty(std::uint64_t s, std::uint64_t e) REQUIRES(mu_);
  core::Nanos xfer_ns(std::uint64_t bytes) const;

  HddConfig cfg_;
  HddModel model_;
  core::Clock* clock_;
  PageStore store_;
  std::uint64_t seg_sectors_;  // read segment capacity
  std::uint64_t wc_sectors_;   // write-back capacity

  mutable core::Mutex mu_;
  // The queued commands in slots that stay put while queued (indexes hold
  // them), and their slots in arrival order.
  std::vector<Pending> slots_ GUARDED_BY(mu_);
  std::vector<std::uint32_t> order_ GUARDED_BY(mu_);  // capacity fixed
  std::vector<std::uint32_t> free_slots_ GUARDED_BY(mu_);
  std::uint64_t next_seq_ GUARDED_BY(mu_) = 0;
  Op op_ GUARDED_BY(mu_) = Op::kIdle;
  block::Request* cur_ GUARDED_BY(mu_) = nullptr;
  core::Nanos op_end_ GUARDED_BY(mu_) = 0;
  core::Nanos last_request_end_ GUARDED_BY(mu_) = 0;  // idle write-back waits idle_destage after it
  core::Timer timer_;
  HddHead head_ GUARDED_BY(mu_);
  std::vector<Range> segs_ GUARDED_BY(mu_);
  std::uint64_t lru_clock_ GUARDED_BY(mu_) = 0;
  // Read-ahead in progress: segment ra_seg_ fills from ra_lba_ onwards,
  // starting at ra_time_, up to ra_limit_.
  int ra_seg_ GUARDED_BY(mu_) = -1;
  std::uint64_t ra_lba_ GUARDED_BY(mu_) = 0;
  std::uint64_t ra_limit_ GUARDED_BY(mu_) = 0;
  core::Nanos ra_time_ GUARDED_BY(mu_) = 0;
  std::uint32_t ra_spt_ GUARDED_BY(mu_) = 1;
  // Write-back extents by id, and their order (a list through next_ and
  // prev_, first_ to last_, so that inserting and erasing move nothing):
  // writes append, a cut-off tail follows its extent, and SPTF takes the
  // first among equals.
  std::vector<Range> ext_ GUARDED_BY(mu_);
  std::vector<std::uint32_t> next_ GUARDED_BY(mu_), prev_ GUARDED_BY(mu_);
  std::uint32_t first_ GUARDED_BY(mu_) = ~std::uint32_t{0};
  std::uint32_t last_ GUARDED_BY(mu_) = ~std::uint32_t{0};
  std::size_t ndirty_ GUARDED_BY(mu_) = 0;
  // Rotational index (sorted by offset, then key) of the queued reads and
  // media writes (key: slot): SPTF visits them from the head's angle
  // onwards and stops early (HddModel::position_from()).
  std::vector<RotKey> rot_ GUARDED_BY(mu_);
  // The queued reads by start sector (offset), then slot: those a cache
  // range or the read-ahead holds are found without a pass over the queue.
  std::vector<RotKey> rstart_ GUARDED_BY(mu_);
  // The dirty extents by start sector (RotKey::offset), then id: those a
  // write or a read touches are found without a pass over all of them.
  std::vector<RotKey> dstart_ GUARDED_BY(mu_);
  std::vector<std::uint32_t> free_ids_ GUARDED_BY(mu_);  // extent ids not in use
  // The dirty extents by rotational offset: kRotBuckets equal arcs of a
  // turn, each a list (rbucket_ its first id, then rnext_/rprev_), so that
  // an extent comes and goes without a search; the write-back visits the
  // arcs from the head's angle onwards.
  static constexpr std::size_t kRotBuckets = 128;
  std::vector<std::uint32_t> rbucket_ GUARDED_BY(mu_);
  std::vector<std::uint32_t> rnext_ GUARDED_BY(mu_), rprev_ GUARDED_BY(mu_);
  std::uint64_t pass_ GUARDED_BY(mu_) = 0;
  unsigned flushes_ GUARDED_BY(mu_) = 0;          // FLUSHes queued
  mutable unsigned hits_ GUARDED_BY(mu_) = 0;     // queued reads with hit == 2
  mutable unsigned unknown_ GUARDED_BY(mu_) = 0;  // queued reads with hit == 0
  unsigned cached_writes_ GUARDED_BY(mu_) = 0;    // queued kCachedWrite commands
  Range destaging_ GUARDED_BY(mu_);
  std::uint64_t dirty_sectors_ GUARDED_BY(mu_) = 0;
  HddStats stats_ GUARDED_BY(mu_);
  bool check_picks_ GUARDED_BY(mu_) = false;
  std::uint64_t checked_picks_ GUARDED_BY(mu_) = 0, wrong_picks_ GUARDED_BY(mu_) = 0;
  std::atomic<long> inflight_{0};
};

}  // namespace iostack::dev
