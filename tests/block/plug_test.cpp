// Plugging rules (block/blk-core.c, blk-mq.c), as Linux 6.12+ applies them.
#include "block_fixture.hpp"
#include "core/clock.hpp"
#include "core/tsc.hpp"

namespace iostack::block::test {
namespace {

class PlugTest : public BlockTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(PlugTest, ThirtyTwoSequential4KWritesBecomeOne128KRequest) {
  make(GetParam());
  BlkPlug plug;
  blk_start_plug(&plug);
  for (int i = 0; i < 32; ++i) submit(REQ_OP_WRITE, 8 * i, 4096);
  EXPECT_TRUE(drv.issued.empty()) << "nothing reaches the driver while plugged";
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(drv.issued[0].sector, 0u);
  EXPECT_EQ(drv.issued[0].bytes, 128u * 1024);
  EXPECT_EQ(drv.issued[0].bios, 32u);
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
  const auto s = stats();
  EXPECT_EQ(s.write.ios, 1u);
  EXPECT_EQ(s.write.merges, 31u);
  EXPECT_EQ(s.write.sectors, 256u);
}

TEST_P(PlugTest, AlternatingPriorityClassesDoNotMerge) {
  make(GetParam());
  BlkPlug plug;
  blk_start_plug(&plug);
  for (int i = 0; i < 32; ++i) submit(REQ_OP_WRITE, 8 * i, 4096, i % 2 ? kPrioIdle : kPrioBe);
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.issued.size(), 32u);
  for (const auto& r : drv.issued) EXPECT_EQ(r.bytes, 4096u);
  EXPECT_EQ(stats().write.merges, 0u);
}

TEST_P(PlugTest, FlushesBeforeTheThirtyThirdRequest) {
  make(GetParam());
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug(&plug);
  // Scattered writes: nothing merges.
  for (int i = 0; i < 32; ++i) submit(REQ_OP_WRITE, 1000 * i, 4096);
  EXPECT_EQ(drv.issued.size(), 0u);
  submit(REQ_OP_WRITE, 1000 * 32, 4096);
  EXPECT_EQ(drv.issued.size(), 32u) << "the 33rd request flushes the 32 before it";
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 33u);
}

TEST_P(PlugTest, FlushesWhenTheHeadRequestReaches128K) {
  make(GetParam());
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 128 * 1024);
  submit(REQ_OP_WRITE, 5000, 4096);
  ASSERT_EQ(drv.issued.size(), 1u) << "adding behind a 128 KiB request flushes first";
  EXPECT_EQ(drv.issued[0].bytes, 128u * 1024);
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 2u);
}

TEST_P(PlugTest, SizeRuleIsOffWithNomerges2) {
  make(GetParam());
  ASSERT_EQ(q->attr_store("nomerges", "2"), 0);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 128 * 1024);
  submit(REQ_OP_WRITE, 5000, 4096);
  EXPECT_EQ(drv.issued.size(), 0u);
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 2u);
}

TEST_P(PlugTest, NestedPlugsAreIgnored) {
  make(GetParam());
  BlkPlug outer, inner;
  blk_start_plug(&outer);
  blk_start_plug(&inner);
  EXPECT_EQ(current_plug(), &outer);
  submit(REQ_OP_WRITE, 0, 4096);
  blk_finish_plug(&inner);
  EXPECT_TRUE(drv.issued.empty()) << "finishing the inner plug does nothing";
  blk_finish_plug(&outer);
  EXPECT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(current_plug(), nullptr);
}

TEST_P(PlugTest, SleepingFlushesThePlug) {
  make(GetParam());
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 4096);
  blk_flush_current_plug_before_sleep();
  EXPECT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(current_plug(), &plug) << "the plug stays active after an implicit flush";
  submit(REQ_OP_WRITE, 100, 4096);
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 2u);
}

TEST_P(PlugTest, PlugMergeTriesOnlyTheOldestRequest) {
  make(GetParam());
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 4096);    // oldest: [0, 8)
  submit(REQ_OP_WRITE, 100, 4096);  // [100, 108)
  submit(REQ_OP_WRITE, 108,
         4096);                   // would back-merge with the newest, but only the oldest is tried
  submit(REQ_OP_WRITE, 8, 4096);  // back-merges with the oldest
  blk_finish_plug(&plug);
  unsigned merged_bios = 0;
  for (const auto& r : drv.issued) merged_bios += r.bios - 1;
  EXPECT_GE(merged_bios, 1u);
  EXPECT_EQ(drv.issued[0].sector, 0u);
  EXPECT_EQ(drv.issued[0].bytes, 8192u);
}

// blk_time_get_ns: requests made under one plug share one clock reading,
// taken again once the plug is flushed. Seen in diskstats' time per I/O.
TEST_P(PlugTest, RequestsOfOnePlugShareTheirStartTime) {
  make(GetParam());
  drv.mode = RecordingDriver::Mode::kTimer;
  drv.latency_ns = 2 * core::kNsPerMs;
  clock.advance_by(core::kNsPerMs);  // a plug takes a zero reading as none
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 4096);
  clock.advance_by(5 * core::kNsPerMs);
  submit(REQ_OP_WRITE, 1000, 4096);
  blk_finish_plug(&plug);
  clock.run_until_idle();
  // Both started when the plug first read the clock, both ended 7 ms on.
  EXPECT_EQ(stats().write.ticks_ms, 7u + 7u);
  clock.advance_by(5 * core::kNsPerMs);
  submit(REQ_OP_WRITE, 2000, 4096);  // its own plug reads the clock anew
  clock.run_until_idle();
  EXPECT_EQ(stats().write.ticks_ms, 7u + 7u + 2u);
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
}

INSTANTIATE_TEST_SUITE_P(Schedulers, PlugTest, ::testing::Values("none", "mq-deadline"));

// blk_plug_stamp: the counter behind a plug's clock reading, kept only where
// the reading was asked for in order and the plug lives within one call
// (submit_bio's own), until the plug is flushed.
TEST(PlugStampTest, OnlyACallsOwnPlugKeepsAnOrderedReading) {
  const core::Clock* clock = &core::real_clock();
  // The time is the TSC's once its readings span the calibration.
  const std::uint64_t deadline = core::clock_ns(CLOCK_MONOTONIC) + core::kNsPerSec;
  while (core::tsc_in_step() && !core::monotonic_uses_tsc() &&
         core::clock_ns(CLOCK_MONOTONIC) < deadline)
    (void)clock->now();
  if (!core::monotonic_uses_tsc()) GTEST_SKIP() << "the time is not the TSC's here";

  EXPECT_EQ(blk_plug_stamp(), 0u) << "no plug";
  BlkPlug call;
  blk_start_call_plug(&call);
  EXPECT_EQ(blk_plug_stamp(), 0u) << "nothing read yet";
  std::uint64_t before = 0;
  (void)clock->now_ordered(&before);
  const std::uint64_t t = blk_time_get_ns(clock, true);
  const std::uint64_t stamp = blk_plug_stamp();
  EXPECT_GT(stamp, before);
  EXPECT_EQ(blk_time_get_ns(clock, true), t);
  EXPECT_EQ(blk_plug_stamp(), stamp) << "one reading per plug";
  blk_finish_plug(&call);
  EXPECT_EQ(blk_plug_stamp(), 0u);

  // Read without order first: the plug's reading is that one.
  blk_start_call_plug(&call);
  (void)blk_time_get_ns(clock);
  (void)blk_time_get_ns(clock, true);
  EXPECT_EQ(blk_plug_stamp(), 0u);
  blk_finish_plug(&call);

  // Under the caller's plug, which may outlive the call.
  BlkPlug outer;
  blk_start_plug(&outer);
  blk_start_call_plug(&call);
  (void)blk_time_get_ns(clock, true);
  EXPECT_EQ(blk_plug_stamp(), 0u);
  blk_finish_plug(&call);
  blk_finish_plug(&outer);
}

}  // namespace
}  // namespace iostack::block::test
