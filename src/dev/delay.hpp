// dm-delay (drivers/md/dm-delay.c): holds each request back for a fixed time
// on the device's clock before passing it down: reads by the read delay,
// writes and discards by the write delay, flushes by the flush delay. A zero
// delay passes the request at once and is not counted. On a virtual clock
// the delay is a timer, never a sleep.
#pragma once

#include "dev/target.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

// struct delay_c (drivers/md/dm-delay.c).
class DelayTarget final : public TargetDriver {
 public:
  DelayTarget(const DelayConfig& cfg, std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  const char* name() const override { return "delay"; }
  Counters counters() const override;

 private:
  Map map(TargetIo* io, block::BlkStatus* status) override;
  static void expire(core::Timer* t);

  DelayConfig cfg_;
  // The status line's <read ops> <write ops> <flush ops>: delayed requests.
  std::atomic<std::uint64_t> reads_{0}, writes_{0}, flushes_{0};
};

}  // namespace iostack::dev
