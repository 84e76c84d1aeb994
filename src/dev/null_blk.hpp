// The null block driver, after null_blk (drivers/block/null_blk/main.c):
// requests do nothing (or copy to sparse memory when memory_backed) and
// complete inline, on a completion thread, or after a delay on the clock.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "dev/completion_thread.hpp"
#include "dev/null_blk_config.hpp"
#include "dev/page_store.hpp"

namespace iostack::dev {

// struct nullb / nullb_device (drivers/block/null_blk/null_blk.h).
class NullBlkDriver final : public block::BlockDriver {
 public:
  // `cfg` must pass validate(); `clock` runs TIMER completions (and SOFTIRQ
  // ones under a virtual clock, where a thread would break determinism).
  NullBlkDriver(const NullBlkConfig& cfg, core::Clock* clock);
  ~NullBlkDriver() override;

  const char* name() const override { return "null_blk"; }
  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) override;
  std::size_t cmd_size() const override;

  // null_add_dev's queue_limits (before blk_validate_limits) and tag set.
  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const { return cfg_.size_bytes >> block::kSectorShift; }

  const NullBlkConfig& config() const { return cfg_; }
  // Null unless memory_backed.
  PageStore* store() { return store_.get(); }
  // Requests accepted and not yet ended (SOFTIRQ and TIMER modes).
  long inflight() const { return inflight_.load(std::memory_order_acquire); }
  // Waits (or, on a virtual clock, runs timers) until nothing is in flight.
  void drain();
  // drain(), then disarms the queue restart timer: call before the request
  // queue goes away.
  void quiesce();
  // DEV_RESOURCE answers given so far.
  std::uint64_t busy_returned() const { return busy_returned_.load(std::memory_order_relaxed); }

 private:
  struct Cmd;
  static void cmd_timer_fn(core::Timer* t);
  static void restart_timer_fn(core::Timer* t);
  static void softirq_end_fn(CompletionLink* link);
  static void complete(Cmd* cmd);

  bool take_busy();
  block::BlkStatus check_badblocks(block::sector_t sector, std::uint32_t* nr_sectors);
  block::BlkStatus process(block::Request* rq);

  NullBlkConfig cfg_;
  core::Clock* clock_;
  std::unique_ptr<PageStore> store_;
  std::unique_ptr<CompletionThread> softirq_;
  std::atomic<long> inflight_{0};
  // For a request without driver data (the queue's flush request): it is
  // issued once at a time per queue, so one spare command covers it.
  std::unique_ptr<Cmd> spare_cmd_;
  std::atomic<bool> spare_busy_{false};

  std::atomic<bool> has_badblocks_;
  std::mutex bb_mu_;  // protects cfg_.badblocks (badblocks_once edits it)

  std::atomic<std::uint64_t> busy_left_;
  std::atomic<std::uint64_t> busy_returned_{0};
  std::atomic<block::RequestQueue*> queue_{nullptr};
  core::Timer restart_timer_;
};

}  // namespace iostack::dev
