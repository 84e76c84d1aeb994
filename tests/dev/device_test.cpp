// Devices made from specs: limits, schedulers, I/O.
#include "dev/device.hpp"

#include <gtest/gtest.h>

#include <string>

#include <vector>

#include "core/virtual_clock.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

std::string elevator_name(const BlockDevice& d) {
  const block::Elevator* e = d.queue()->elevator();
  return e ? e->name() : "none";
}

TEST(Device, NamesAndNumbersFollowTheKernel) {
  std::string err;
  auto r0 = create_device("ram:1M", nullptr, &err);
  auto r1 = create_device("ram:1M", nullptr, &err);
  auto n0 = create_device("null:1G,irqmode=none", nullptr, &err);
  ASSERT_TRUE(r0 && r1 && n0) << err;
  EXPECT_EQ(r0->name(), "ram0");
  EXPECT_EQ(r1->name(), "ram1");
  EXPECT_EQ(n0->name(), "nullb0");
  EXPECT_EQ(r1->disk()->major(), 1u);
  EXPECT_EQ(r1->disk()->minor(), 1u);
  EXPECT_EQ(n0->disk()->major(), kNullBlkMajor);
  EXPECT_EQ(n0->disk()->minor(), 0u);
  EXPECT_EQ(n0->disk()->capacity(), (1ull << 30) / 512);
  EXPECT_EQ(r0->queue()->disk(), r0->disk());
  // A freed index is handed out again, lowest first.
  r0.reset();
  auto again = create_device("ram:1M", nullptr, &err);
  ASSERT_TRUE(again) << err;
  EXPECT_EQ(again->name(), "ram0");
}

TEST(Device, KindAccessors) {
  std::string err;
  auto r = create_device("ram:1M", nullptr, &err);
  auto n = create_device("null:1M", nullptr, &err);
  ASSERT_TRUE(r && n) << err;
  EXPECT_NE(r->ram(), nullptr);
  EXPECT_EQ(r->null_blk(), nullptr);
  EXPECT_EQ(n->ram(), nullptr);
  EXPECT_NE(n->null_blk(), nullptr);
  EXPECT_EQ(n->driver(), n->null_blk());
  EXPECT_EQ(n->queue()->queue_depth(), 64u);
}

TEST(Device, DefaultElevatorIsMqDeadlineForOneQueueElseNone) {
  std::string err;
  auto one = create_device("null:1G,hw_queues=1", nullptr, &err);
  auto two = create_device("null:1G,hw_queues=2", nullptr, &err);
  ASSERT_TRUE(one && two) << err;
  EXPECT_EQ(elevator_name(*one), "mq-deadline");
  EXPECT_EQ(elevator_name(*two), "none");
}

TEST(Device, ErrorsComeBackAsOneLine) {
  std::string err;
  EXPECT_EQ(create_device("null:1G,irqmode=fast", nullptr, &err), nullptr);
  EXPECT_NE(err.find("irqmode"), std::string::npos) << err;
  DeviceSpec spec;
  spec.kind = DeviceKind::kNull;
  spec.null.hw_queues = 0;
  err.clear();
  EXPECT_EQ(create_device(spec, nullptr, &err), nullptr);
  EXPECT_NE(err.find("hw_queues"), std::string::npos) << err;
}

TEST(Device, TearDownWaitsForTimerCompletions) {
  core::VirtualClock clock(0);
  std::string err;
  auto dev = create_device("null:1G,irqmode=timer,completion_nsec=5000", &clock, &err);
  ASSERT_TRUE(dev) << err;
  std::vector<unsigned char> buf(4096);
  test::IoResult r;
  test::submit(*dev, block::REQ_OP_READ, 0, buf.data(), buf.size(), &r);
  EXPECT_FALSE(r.done.load());
  dev.reset();  // runs the clock until the request has ended
  EXPECT_TRUE(r.done.load());
  EXPECT_EQ(r.err.load(), 0);
  EXPECT_EQ(clock.now(), 5000u);
}

}  // namespace
}  // namespace iostack::dev
