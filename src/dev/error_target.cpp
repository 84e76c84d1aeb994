// error: selective failure of I/O with a chosen status.
#include "dev/error_target.hpp"

#include <strings.h>

#include <string>

#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

namespace {

struct StatusName {
  const char* errno_name;
  const char* sts_name;
  block::BlkStatus status;
};

constexpr StatusName kStatuses[] = {
    {"EOPNOTSUPP", "NOTSUPP", block::BlkStatus::NOTSUPP},
    {"ETIMEDOUT", "TIMEOUT", block::BlkStatus::TIMEOUT},
    {"ENOSPC", "NOSPC", block::BlkStatus::NOSPC},
    {"ENOLINK", "TRANSPORT", block::BlkStatus::TRANSPORT},
    {"EREMOTEIO", "TARGET", block::BlkStatus::TARGET},
    {"EBADE", "RESV_CONFLICT", block::BlkStatus::RESV_CONFLICT},
    {"ENODATA", "MEDIUM", block::BlkStatus::MEDIUM},
    {"EILSEQ", "PROTECTION", block::BlkStatus::PROTECTION},
    {"ENOMEM", "RESOURCE", block::BlkStatus::RESOURCE},
    {"EIO", "IOERR", block::BlkStatus::IOERR},
    {"EAGAIN", "AGAIN", block::BlkStatus::AGAIN},
    {"EBUSY", "DEV_RESOURCE", block::BlkStatus::DEV_RESOURCE},
    {"ENODEV", "OFFLINE", block::BlkStatus::OFFLINE},
    {"EINVAL", "INVAL", block::BlkStatus::INVAL},
};

}  // namespace

bool parse_blk_status(std::string_view s, block::BlkStatus* out) {
  const std::string v(s);
  for (const auto& n : kStatuses) {
    if (strcasecmp(v.c_str(), n.errno_name) == 0 || strcasecmp(v.c_str(), n.sts_name) == 0) {
      *out = n.status;
      return true;
    }
  }
  return false;
}

ErrorTarget::ErrorTarget(const ErrorConfig& cfg, std::unique_ptr<BlockDevice> lower,
                         core::Clock* clock)
    : TargetDriver(std::move(lower), clock), cfg_(cfg), rng_(cfg.seed) {}

TargetDriver::Map ErrorTarget::map(TargetIo* io, block::BlkStatus* status) {
  block::Request* rq = io->rq;
  const std::uint32_t op = block::req_op(rq);
  int kind;
  if (op == block::REQ_OP_READ) {
    kind = 0;
  } else if (op == block::REQ_OP_WRITE) {
    kind = 1;
  } else if (op == block::REQ_OP_FLUSH) {
    kind = 2;
  } else {
    kind = 3;
  }
  if (!(cfg_.ops & (1u << kind))) return Map::kRemap;
  if (cfg_.has_range && kind != 2 &&
      (block::blk_rq_end_sector(rq) <= cfg_.start || block::blk_rq_pos(rq) > cfg_.end)) {
    return Map::kRemap;
  }
  if (cfg_.probability < 1000000000 && !rng_.chance(cfg_.probability)) return Map::kRemap;
  errors_[kind].fetch_add(1, std::memory_order_relaxed);
  *status = cfg_.status;
  return Map::kKill;
}

Counters ErrorTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  return {{"error_read_errors", n(errors_[0])},
          {"error_write_errors", n(errors_[1])},
          {"error_flush_errors", n(errors_[2])},
          {"error_discard_errors", n(errors_[3])}};
}

}  // namespace iostack::dev
