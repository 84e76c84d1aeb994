// delay: dm-delay's per-kind delays, exact on a virtual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::counter;
using test::expect_bad_spec;
using test::io;
using test::make;

constexpr core::Nanos kMs = core::kNsPerMs;

const std::string kCached = ":null:1M,memory_backed=1,write_cache=1,irqmode=none";

TEST(Delay, EachKindWaitsItsOwnDelayOnTheVirtualClock) {
  core::VirtualClock clock(1000);
  auto d = make("delay,read_ms=5,write_ms=7,flush_ms=11" + kCached, &clock);
  std::vector<unsigned char> buf(4096, 3), back(4096);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 4096, &clock), 0);
  EXPECT_EQ(clock.now(), 1000 + 7 * kMs);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, back.data(), 4096, &clock), 0);
  EXPECT_EQ(clock.now(), 1000 + 12 * kMs);
  EXPECT_EQ(back, buf);
  ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
  EXPECT_EQ(clock.now(), 1000 + 23 * kMs);
  EXPECT_EQ(counter(*d, "delay_reads"), 1);
  EXPECT_EQ(counter(*d, "delay_writes"), 1);
  EXPECT_EQ(counter(*d, "delay_flushes"), 1);
}

TEST(Delay, MissingDelaysDefaultLikeTheKernelsTable) {
  core::VirtualClock clock(0);
  auto d = make("delay,read_ms=4" + kCached, &clock);  // writes and flushes 4 ms too
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 4096, &clock), 0);
  EXPECT_EQ(clock.now(), 4 * kMs);
  ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
  EXPECT_EQ(clock.now(), 8 * kMs);
  auto e = make("delay,read_ms=1,write_ms=6" + kCached, &clock);  // flush = write
  ASSERT_EQ(io(*e, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
  EXPECT_EQ(clock.now(), 14 * kMs);
}

TEST(Delay, ZeroDelayPassesAtOnceUncounted) {
  core::VirtualClock clock(0);
  auto d = make("delay,read_ms=0,write_ms=3:ram:1M", &clock);
  std::vector<unsigned char> buf(512);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, buf.data(), 512, &clock), 0);
  EXPECT_EQ(clock.now(), 0u);
  EXPECT_EQ(counter(*d, "delay_reads"), 0);
}

TEST(Delay, ConcurrentRequestsOverlapTheirDelays) {
  core::VirtualClock clock(0);
  auto d = make("delay,read_ms=10:ram:1M", &clock);
  std::vector<unsigned char> a(4096), b(4096);
  test::IoResult ra, rb;
  test::submit(*d, REQ_OP_READ, 0, a.data(), 4096, &ra);
  clock.advance_to(3 * kMs);
  test::submit(*d, REQ_OP_READ, 800, b.data(), 4096, &rb);
  ASSERT_TRUE(test::wait(ra, &clock));
  EXPECT_EQ(clock.now(), 10 * kMs);
  EXPECT_FALSE(rb.done.load());
  ASSERT_TRUE(test::wait(rb, &clock));
  EXPECT_EQ(clock.now(), 13 * kMs);
}

TEST(Delay, ComposesOverOtherTargets) {
  core::VirtualClock clock(0);
  auto d = make("delay,read_ms=2:flakey,up=1,down=1:ram:1M", &clock);
  std::vector<unsigned char> buf(512);
  clock.advance_to(core::kNsPerSec);
  EXPECT_EQ(io(*d, REQ_OP_READ, 0, buf.data(), 512, &clock), -EIO);  // flakey is down
  EXPECT_EQ(clock.now(), core::kNsPerSec + 2 * kMs);
  EXPECT_EQ(counter(*d, "delay_reads"), 1);
  EXPECT_EQ(counter(*d, "flakey_read_errors"), 1);
}

TEST(Delay, BadSpecsGetOneLine) {
  std::string err;
  DeviceSpec s;
  expect_bad_spec("delay,read_ms=-1:ram", "read_ms: expected milliseconds");
  EXPECT_FALSE(parse_device_spec("delay,read_ms=1:", &s, &err));
  EXPECT_FALSE(parse_device_spec("delay,read_ms=1,:ram", &s, &err));
  expect_bad_spec("delay,read_ms=1:floppy", "unknown device type \"floppy\"");
}

}  // namespace
}  // namespace iostack::dev
