// error: fails chosen I/O with a chosen block status, like dm-error but
// selective: only the operations in `ops` (read, write, flush, discard and
// write-zeroes), only those touching the sector range when one is given
// (a flush has no sectors and is matched by `ops` alone), and each with the
// given probability (a seeded, repeatable draw per matching request). What
// is not failed passes through untouched. The caller sees the status as
// blk_status_to_errno maps it (EIO, ENOSPC, ETIMEDOUT, ...).
#pragma once

#include <string_view>

#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

class ErrorTarget final : public TargetDriver {
 public:
  ErrorTarget(const ErrorConfig& cfg, std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  const char* name() const override { return "error"; }
  Counters counters() const override;

 private:
  Map map(TargetIo* io, block::BlkStatus* status) override;

  ErrorConfig cfg_;
  TargetRandom rng_;
  std::atomic<std::uint64_t> errors_[4] = {};  // read, write, flush, discard
};

// "EIO", "ENOSPC", ... (the errno blk_status_to_errno gives) or the status
// name ("IOERR", "NOSPC", ...), case-insensitive.
bool parse_blk_status(std::string_view s, block::BlkStatus* out);

}  // namespace iostack::dev
