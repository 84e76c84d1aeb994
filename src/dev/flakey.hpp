// dm-flakey (drivers/md/dm-flakey.c): the device below, except that during
// the down interval of each up+down cycle (whole seconds on the device's
// clock since creation) it misbehaves as configured:
//   no feature: reads and writes (flushes and discards count as writes) fail
//     with EIO;
//   error_reads: reads fail; drop_writes: writes complete without reaching
//     the device; error_writes: writes fail;
//   corrupt_bio_byte N r|w V F: byte N (from 1) of each read bio after it
//     completes, or of a copy of each write bio's data (the caller's buffer
//     stays intact), becomes V, for bios whose flags include all of F;
//   random_read_corrupt / random_write_corrupt P: one random byte of a bio
//     with probability P / 10^9.
#pragma once

#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

// struct flakey_c (drivers/md/dm-flakey.c).
class FlakeyTarget final : public TargetDriver {
 public:
  FlakeyTarget(const FlakeyConfig& cfg, std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  const char* name() const override { return "flakey"; }
  bool is_down() const;
  Counters counters() const override;
  const FlakeyConfig& config() const { return cfg_; }

 private:
  Map map(TargetIo* io, block::BlkStatus* status) override;
  void end_io(TargetIo* io, block::BlkStatus* status) override;
  void corrupt_write(TargetIo* io, bool fixed, bool random);

  FlakeyConfig cfg_;
  core::Nanos start_;
  TargetRandom rng_;
  std::atomic<std::uint64_t> down_ios_{0}, read_errors_{0}, write_errors_{0}, dropped_{0},
      corrupted_{0};
};

}  // namespace iostack::dev
