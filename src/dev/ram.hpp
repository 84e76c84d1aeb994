// The RAM disk driver, after brd (drivers/block/brd.c): data lives in sparse
// pages allocated on first write; every request completes inside queue_rq.
// brd is bio-based in the kernel; here it sits behind blk-mq so that the
// block layer's plugging, merging and scheduling apply to it.
#pragma once

#include <cstdint>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "dev/page_store.hpp"

namespace iostack::dev {

struct RamConfig {
  std::uint64_t size_bytes = 4096 * 1024;  // CONFIG_BLK_DEV_RAM_SIZE: 4096 KiB
  unsigned hw_queues = 1;
  unsigned queue_depth = 64;
  // Largest request in sectors; 0 keeps what brd ends up with
  // (BLK_SAFE_MAX_SECTORS, as blk_validate_limits fills it in).
  std::uint32_t max_sectors = 0;
};

// struct brd_device (drivers/block/brd.c).
class RamDriver final : public block::BlockDriver {
 public:
  explicit RamDriver(const RamConfig& cfg);

  const char* name() const override { return "brd"; }
  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) override;

  // The limits brd_alloc gives its disk, plus write-zeroes (see ram.cpp),
  // before blk_validate_limits fills in the derived fields.
  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const { return cfg_.size_bytes >> block::kSectorShift; }

  PageStore& store() { return store_; }
  const RamConfig& config() const { return cfg_; }

 private:
  block::BlkStatus handle(block::Request* rq);

  RamConfig cfg_;
  PageStore store_;
};

}  // namespace iostack::dev
