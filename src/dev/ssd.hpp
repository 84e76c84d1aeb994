// A simulated flash SSD: requests are cut into 4 KiB pages that reserve
// time on their die-plane, channel and the host link in arrival order
// (first come, first served per resource, so units work in parallel), with
// the FTL's garbage collection charged to the unit it runs on. Written
// pages are striped over the units in turn, so a unit busy collecting holds
// up the writes striped to it: the latency spikes of foreground GC. Each request
// ends by a timer at its computed time on the device's clock. No volatile
// cache: a write is durable when it completes (into the power-protected
// buffer, when there is one). Data lives in a PageStore.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "core/thread_safety.hpp"
#include "dev/page_store.hpp"
#include "dev/ssd_config.hpp"
#include "dev/ssd_ftl.hpp"

namespace iostack::dev {

struct SsdStats {
  SsdFtlStats ftl;
  std::uint64_t erases = 0;
  std::uint64_t slc_writes = 0;  // host pages that went to the SLC cache
  std::uint64_t folded = 0;      // SLC pages rewritten to the main array
  std::uint64_t reads = 0, writes = 0, discards = 0;
};

class SsdDriver final : public block::BlockDriver {
 public:
  SsdDriver(const SsdConfig& cfg, core::Clock* clock);
  ~SsdDriver() override;

  const char* name() const override { return "nvme"; }
  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) override;
  std::size_t cmd_size() const override;

  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const { return cfg_.size_bytes >> block::kSectorShift; }

  const SsdConfig& config() const { return cfg_; }
  PageStore& store() { return store_; }
  SsdStats stats() const EXCLUDES(mu_);
  unsigned units() const { return units_; }
  long inflight() const { return inflight_.load(std::memory_order_acquire); }
  // Waits for (or, on a virtual clock, runs) the requests in flight.
  void drain();

 private:
  struct Cmd;
  static void timer_fn(core::Timer* t);
  core::Nanos schedule(block::Request* rq, core::Nanos now) REQUIRES(mu_);
  void refill_slc(core::Nanos now) REQUIRES(mu_);

  SsdConfig cfg_;
  core::Clock* clock_;
  PageStore store_;
  unsigned units_;
  core::Nanos page_xfer_;  // one page over a channel

  mutable core::Mutex mu_;
  SsdFtl ftl_ GUARDED_BY(mu_);
  std::vector<core::Nanos> unit_busy_ GUARDED_BY(mu_);  // when each die-plane is next free
  std::vector<core::Nanos> chan_busy_ GUARDED_BY(mu_);
  core::Nanos link_busy_ GUARDED_BY(mu_) = 0;
  std::uint64_t slc_pages_ GUARDED_BY(mu_) = 0;  // SLC capacity in pages
  std::uint64_t slc_free_ GUARDED_BY(mu_) = 0;
  core::Nanos fold_until_ GUARDED_BY(mu_) = 0;
  // The write buffer as a ring of the times its pages leave it (are
  // programmed): a new page takes the slot of the one buffer-size earlier.
  std::vector<core::Nanos> buf_out_ GUARDED_BY(mu_);
  std::uint64_t buf_count_ GUARDED_BY(mu_) = 0;  // idle time before this is spent on folding
  SsdStats stats_ GUARDED_BY(mu_);
  std::atomic<long> inflight_{0};
};

}  // namespace iostack::dev
