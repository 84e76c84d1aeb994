// dm-delay: a fixed delay per kind of I/O before it reaches the device.
#include "dev/delay.hpp"

#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

DelayTarget::DelayTarget(const DelayConfig& cfg, std::unique_ptr<BlockDevice> lower,
                         core::Clock* clock)
    : TargetDriver(std::move(lower), clock), cfg_(cfg) {}

TargetDriver::Map DelayTarget::map(TargetIo* io, block::BlkStatus* /*status*/) {
  const std::uint32_t flags = io->rq->cmd_flags;
  std::uint64_t ms;
  std::atomic<std::uint64_t>* ops;
  if (block::req_op(flags) == block::REQ_OP_FLUSH) {
    ms = cfg_.flush_ms;
    ops = &flushes_;
  } else if (target_is_write(flags)) {
    ms = cfg_.write_ms;
    ops = &writes_;
  } else {
    ms = cfg_.read_ms;
    ops = &reads_;
  }
  if (!ms) return Map::kRemap;
  ops->fetch_add(1, std::memory_order_relaxed);
  io->timer.fn = &expire;
  io->timer.priv = io;
  clock()->arm(&io->timer, clock()->now() + ms * core::kNsPerMs);
  return Map::kSubmitted;
}

void DelayTarget::expire(core::Timer* t) {
  auto* io = static_cast<TargetIo*>(t->priv);
  static_cast<DelayTarget*>(io->drv)->submit_lower(io);
}

Counters DelayTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  return {{"delay_reads", n(reads_)}, {"delay_writes", n(writes_)}, {"delay_flushes", n(flushes_)}};
}

}  // namespace iostack::dev
