// Device spec parsing and its error lines.
#include "dev/device_spec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace iostack::dev {
namespace {

DeviceSpec parse_ok(const std::string& text) {
  DeviceSpec s;
  std::string err;
  EXPECT_TRUE(parse_device_spec(text, &s, &err)) << text << ": " << err;
  return s;
}

TEST(DeviceSpec, RamWithSize) {
  const auto s = parse_ok("ram:64M");
  EXPECT_EQ(s.kind, DeviceKind::kRam);
  EXPECT_EQ(s.ram.size_bytes, 64ull << 20);
  EXPECT_EQ(s.ram.hw_queues, 1u);
}

TEST(DeviceSpec, DefaultsAreTheKernels) {
  const auto r = parse_ok("ram");
  EXPECT_EQ(r.ram.size_bytes, 4096ull * 1024);  // CONFIG_BLK_DEV_RAM_SIZE
  const auto n = parse_ok("null");
  EXPECT_EQ(n.kind, DeviceKind::kNull);
  EXPECT_EQ(n.null.size_bytes, 250ull << 30);
  EXPECT_EQ(n.null.irqmode, NullIrqMode::kSoftirq);
  EXPECT_EQ(n.null.completion_nsec, 10000u);
  EXPECT_EQ(n.null.queue_depth, 64u);
  EXPECT_EQ(n.null.block_size, 512u);
  EXPECT_FALSE(n.null.memory_backed);
}

TEST(DeviceSpec, NullWithOptions) {
  const auto s = parse_ok(
      "null:1G,irqmode=timer,completion_nsec=10000,memory_backed=1,hw_queues=2,queue_depth=64,"
      "bs=4096");
  EXPECT_EQ(s.kind, DeviceKind::kNull);
  EXPECT_EQ(s.null.size_bytes, 1ull << 30);
  EXPECT_EQ(s.null.irqmode, NullIrqMode::kTimer);
  EXPECT_EQ(s.null.completion_nsec, 10000u);
  EXPECT_TRUE(s.null.memory_backed);
  EXPECT_EQ(s.null.hw_queues, 2u);
  EXPECT_EQ(s.null.queue_depth, 64u);
  EXPECT_EQ(s.null.block_size, 4096u);
}

TEST(DeviceSpec, SuffixesAliasesAndFaults) {
  EXPECT_EQ(parse_ok("ram:512K").ram.size_bytes, 512ull << 10);
  EXPECT_EQ(parse_ok("ram:2t").ram.size_bytes, 2ull << 40);
  EXPECT_EQ(parse_ok("ram:4096").ram.size_bytes, 4096u);
  EXPECT_EQ(parse_ok("ram,size=1G").ram.size_bytes, 1ull << 30);
  const auto s = parse_ok(
      "null:1G,submit_queues=4,hw_queue_depth=8,blocksize=1024,irqmode=0,write_cache=on,"
      "fua=no,badblocks=10-19,badblocks=30,badblocks_once=y,busy=5,busy_delay_nsec=100");
  EXPECT_EQ(s.null.hw_queues, 4u);
  EXPECT_EQ(s.null.queue_depth, 8u);
  EXPECT_EQ(s.null.block_size, 1024u);
  EXPECT_EQ(s.null.irqmode, NullIrqMode::kNone);
  EXPECT_TRUE(s.null.write_cache);
  EXPECT_FALSE(s.null.fua);
  ASSERT_EQ(s.null.badblocks.size(), 2u);
  EXPECT_EQ(s.null.badblocks[0].start, 10u);
  EXPECT_EQ(s.null.badblocks[0].end, 19u);
  EXPECT_EQ(s.null.badblocks[1].start, 30u);
  EXPECT_EQ(s.null.badblocks[1].end, 30u);
  EXPECT_TRUE(s.null.badblocks_once);
  EXPECT_EQ(s.null.busy, 5u);
  EXPECT_EQ(s.null.busy_delay_nsec, 100u);
}

struct Bad {
  const char* text;
  const char* must_mention;
};

class DeviceSpecBad : public ::testing::TestWithParam<Bad> {};

TEST_P(DeviceSpecBad, OneClearError) {
  DeviceSpec s;
  s.ram.size_bytes = 12345;  // must be left alone
  std::string err;
  EXPECT_FALSE(parse_device_spec(GetParam().text, &s, &err));
  EXPECT_EQ(s.ram.size_bytes, 12345u);
  EXPECT_NE(err.find(GetParam().must_mention), std::string::npos) << err;
  EXPECT_NE(err.find(std::string("\"") + GetParam().text + "\""), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, DeviceSpecBad,
    ::testing::Values(
        Bad{"", "unknown device type"}, Bad{"disk:1G", "unknown device type \"disk\""},
        Bad{"ram:", "nothing after"}, Bad{"ram:64X", "size: expected"},
        Bad{"ram:0", "size: expected a non-zero"},
        Bad{"ram:1000", "size: expected a non-zero multiple of 512"},
        Bad{"ram:99999999999T", "size: expected"}, Bad{"ram:64M,", "trailing comma"},
        Bad{"ram:64M,,hw_queues=1", "empty option"}, Bad{"ram:64M,1G", "expected option=value"},
        Bad{"ram:64M,irqmode=timer", "unknown option \"irqmode\" for a ram"},
        Bad{"null:1G,foo=1", "unknown option \"foo\""}, Bad{"null:1G,=1", "missing option name"},
        Bad{"null:1G,irqmode=fast", "irqmode: expected none, softirq, timer"},
        Bad{"null:1G,irqmode=", "irqmode: expected"},
        Bad{"null:1G,bs=1000", "bs: expected a power of two"},
        Bad{"null:1G,bs=8192", "bs: expected a power of two"},
        Bad{"null:1000,bs=4096", "size: expected a non-zero multiple of the block size"},
        Bad{"null:1G,hw_queues=0", "hw_queues: expected 1 to 1024"},
        Bad{"null:1G,queue_depth=abc", "queue_depth: expected an unsigned number"},
        Bad{"null:1G,queue_depth=-1", "queue_depth: expected an unsigned number"},
        Bad{"null:1G,queue_depth=20000", "queue_depth: expected 1 to 10240"},
        Bad{"null:1G,memory_backed=2", "memory_backed: expected a boolean"},
        Bad{"null:1G,discard=1", "discard: requires memory_backed=1"},
        Bad{"null:1G,badblocks=10-5", "badblocks: range 10-5"},
        Bad{"null:1G,badblocks=x", "badblocks: expected START"},
        Bad{"null:1G,max_sectors=4", "max_sectors: expected 0"},
        Bad{"null:1G,completion_nsec=1e3", "completion_nsec: expected"}));

}  // namespace
}  // namespace iostack::dev
