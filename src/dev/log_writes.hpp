// dm-log-writes (drivers/md/dm-log-writes.c): passes all I/O to the device
// below and records every write, discard, FLUSH and FUA in a log file, in the
// kernel's order: a completed write waits on a list until the next flush is
// issued; when that flush completes, the writes that had completed before it
// was issued are logged, then the flush. FUA writes are logged as they
// complete (so, as in the kernel, ahead of an older write to the same sectors
// still waiting for a flush); discards are treated as writes. The "mark NAME"
// message logs a mark at once. The target always advertises a write cache
// with FUA (the kernel's flush_supported), so flushes reach it whatever lies
// below. On teardown the unflushed writes are logged and a
// "dm-log-writes-end" mark closes the log. Each logged write costs one copy
// of its data.
#pragma once

#include <mutex>
#include <vector>

#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

// struct log_writes_c (drivers/md/dm-log-writes.c).
class LogWritesTarget final : public TargetDriver {
 public:
  // Opens (truncating) the log file; null with *err set when it cannot.
  static std::unique_ptr<LogWritesTarget> create(const LogWritesConfig& cfg,
                                                 std::unique_ptr<BlockDevice> lower,
                                                 core::Clock* clock, std::string* err);
  ~LogWritesTarget() override;
  const char* name() const override { return "log-writes"; }
  int message(const std::vector<std::string>& argv, std::string* result) override;
  Counters counters() const override;
  // The status line: <logged entries> <highest allocated sector>.
  std::uint64_t logged_entries() const;

  struct Pending;

 private:
  LogWritesTarget(const LogWritesConfig& cfg, std::unique_ptr<BlockDevice> lower,
                  core::Clock* clock, int fd);
  Map map(TargetIo* io, block::BlkStatus* status) override;
  void end_io(TargetIo* io, block::BlkStatus* status) override;
  void adjust_limits(block::QueueLimits* lim) const override;
  // Writes blocks to the log in order; frees them. Under mu_.
  void log_blocks(std::vector<Pending*>* blocks);
  bool write_at(std::uint64_t byte, const void* data, std::size_t len);
  void write_super();

  LogWritesConfig cfg_;
  int fd_;
  std::uint32_t sectorsize_;
  unsigned shift_;  // sectorsize_ in 512-byte sectors, as a shift
  bool supports_discard_ = true;
  mutable std::mutex mu_;
  std::vector<Pending*> unflushed_;
  std::uint64_t next_sector_;  // in 512-byte sectors
  std::uint64_t logged_ = 0;
  bool logging_enabled_ = true;
  std::atomic<std::uint64_t> writes_{0}, flushes_{0}, fuas_{0}, discards_{0}, marks_{0}, bytes_{0};
};

}  // namespace iostack::dev
