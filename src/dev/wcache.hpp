// wcache: a volatile write cache in front of any device, with a power switch.
// The disk shows a write cache with FUA. A plain write completes once its
// data is in the cache; reads see the cache (as it was when they were mapped)
// over the device below. Data becomes durable (reaches the device below) when
// a FLUSH completes (everything acknowledged before it was issued), when a
// FUA write completes (its own data; the cache is written back first so that
// nothing older can land over it), when a discard or write-zeroes passes
// (written back first, then sent down), or when the cache writes back by
// itself because it holds more than `size`. Write-backs run one at a time, so
// sectors reach the device below in the order they were written.
//
// A power cut (the "powercut" message, the powercut_ms / powercut_writes
// options, or the message "mark M" when powercut_mark is M) drops the cache: what reaches the
// device below is chosen by the order option (nothing; a prefix of the cached writes; any subset of
// them; any subset of their atomic units, torn at atomic_bytes) with a seeded random draw. From
// then on every request fails with EIO; the device below holds what survived.
#pragma once

#include <deque>
#include <unordered_map>

#include "core/mutex.hpp"
#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

class WcacheTarget final : public TargetDriver {
 public:
  WcacheTarget(const WcacheConfig& cfg, std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  ~WcacheTarget() override;
  const char* name() const override { return "wcache"; }
  // "powercut" (or "mark <powercut_mark>"): cut now and wait until what
  // survives is on the device below.
  int message(const std::vector<std::string>& argv, std::string* result) override;
  Counters counters() const override;
  // Starts a power cut (from any context); idempotent.
  void powercut();
  bool powered_off() const;
  // Bytes of written data not yet durable.
  std::uint64_t dirty_bytes() const;

  struct Entry {
    std::uint64_t seq;
    block::sector_t sector;
    std::string data;
  };
  struct Writeback;

 private:
  Map map(TargetIo* io, block::BlkStatus* status) override;
  void end_io(TargetIo* io, block::BlkStatus* status) override;
  void adjust_limits(block::QueueLimits* lim) const override;
  Map cache_write(TargetIo* io);
  // The cached data over a read, oldest first (later pieces over earlier
  // ones), to lay over what the device below returns; null when none.
  struct ReadOverlay {
    std::vector<std::pair<std::uint64_t, std::string>> pieces;  // byte offset in the read, data
  };
  ReadOverlay* overlay(block::Request* rq) const REQUIRES(mu_);
  void index_add(const Entry& e) REQUIRES(mu_);
  void index_remove_oldest(const Entry& e) REQUIRES(mu_);
  // Starts a write-back of everything cached (and of the waiters) unless one
  // runs; its bios are submitted once mu_ is released.
  Writeback* start_writeback() REQUIRES(mu_);
  void writeback_done(Writeback* wb);
  void writeback_finished(Writeback* wb);
  std::vector<block::Bio*> cut() REQUIRES(mu_);
  void submit_all(const std::vector<block::Bio*>& bios);
  // A write of `data` at `sector` to the device below, ending in bg_end_io
  // (wb: the write-back it belongs to, null for a power cut's survivors).
  block::Bio* background_write(Writeback* wb, block::sector_t sector, std::string data);
  static void bg_end_io(block::Bio* bio);
  static void timer_fired(core::Timer* t);

  WcacheConfig cfg_;
  std::uint32_t atomic_;
  TargetRandom rng_;
  core::Timer cut_timer_;
  mutable core::Mutex mu_;
  std::deque<Entry> cache_ GUARDED_BY(mu_);  // acknowledged writes, oldest first, seqs consecutive
  // 4 KiB page -> seqs of the cached entries over it, oldest first: reads
  // look only at the entries they overlap.
  static constexpr unsigned kPageShift = 3;
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> index_ GUARDED_BY(mu_);
  std::uint64_t seq_ GUARDED_BY(mu_) = 0;           // of the last cached write
  std::uint64_t cached_bytes_ GUARDED_BY(mu_) = 0;  // data in cache_
  // flush / FUA / discard waiting for a write-back
  std::vector<TargetIo*> waiters_ GUARDED_BY(mu_);
  Writeback* running_ GUARDED_BY(mu_) = nullptr;  // the write-back in flight
  bool off_ GUARDED_BY(mu_) = false;
  bool cut_deferred_ GUARDED_BY(mu_) = false;  // the cut waits for the write-back in flight
  std::atomic<std::uint64_t> bg_inflight_{0};  // write-back and cut bios
  std::uint64_t acked_writes_ GUARDED_BY(mu_) = 0;
  std::atomic<std::uint64_t> cached_writes_{0}, writebacks_{0}, written_back_bytes_{0},
      lost_writes_{0}, torn_writes_{0}, survived_bytes_{0}, cuts_{0}, failed_after_cut_{0};
};

}  // namespace iostack::dev
