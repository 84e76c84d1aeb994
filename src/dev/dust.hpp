// dm-dust (drivers/md/dm-dust.c): a list of bad blocks of `block_size`
// bytes. While enabled, a read of a bad block fails with EIO; a write to it
// fails while the block's write-fail count lasts (each failure uses one),
// then succeeds and takes the block off the list. Requests never cross a
// block (the kernel's max_io_len), so the first block decides. As in the
// kernel, a flush is a write at sector 0. Messages (dmsetup message):
// addbadblock B [WRITE_FAILS], removebadblock B, queryblock B,
// countbadblocks, clearbadblocks, listbadblocks, enable, disable, quiet.
#pragma once

#include <map>
#include <mutex>

#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

// struct dust_device (drivers/md/dm-dust.c).
class DustTarget final : public TargetDriver {
 public:
  DustTarget(const DustConfig& cfg, std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  const char* name() const override { return "dust"; }
  int message(const std::vector<std::string>& argv, std::string* result) override;
  Counters counters() const override;
  bool enabled() const;

 private:
  Map map(TargetIo* io, block::BlkStatus* status) override;
  void adjust_limits(block::QueueLimits* lim) const override;
  int add_block(std::uint64_t block, unsigned write_fails);

  DustConfig cfg_;
  unsigned sect_per_block_shift_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, unsigned> bad_;  // block -> write fails left
  bool fail_read_on_bb_;
  bool quiet_;
  std::atomic<std::uint64_t> read_errors_{0}, write_errors_{0}, cleared_{0};
};

}  // namespace iostack::dev
