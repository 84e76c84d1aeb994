// null_blk: completion modes, memory backing, bad blocks, busy.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "block/hctx.hpp"
#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_DISCARD;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::io;

std::unique_ptr<BlockDevice> make(const std::string& spec, core::Clock* clock = nullptr) {
  std::string err;
  auto dev = create_device(spec, clock, &err);
  EXPECT_TRUE(dev) << err;
  return dev;
}

TEST(NullBlk, InlineModeNeedsNoTimeToPass) {
  core::VirtualClock clock(1000);
  auto dev = make("null:1G,irqmode=none", &clock);
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 1000u);
  EXPECT_EQ(dev->null_blk()->inflight(), 0);
}

TEST(NullBlk, SoftirqModeCompletesOnTheCompletionThread) {
  auto dev = make("null:1G,irqmode=softirq");
  std::vector<unsigned char> buf(4096);
  test::IoResult r;
  test::submit(*dev, REQ_OP_READ, 8, buf.data(), buf.size(), &r);
  ASSERT_TRUE(test::wait(r));
  EXPECT_EQ(r.err.load(), 0);
  EXPECT_NE(r.thread, std::this_thread::get_id());
  // The device counts the request down after its completion returned (so
  // that a drain waits for it too): the end can be seen first.
  for (int i = 0; i < 10000000 && dev->null_blk()->inflight() != 0; ++i) std::this_thread::yield();
  EXPECT_EQ(dev->null_blk()->inflight(), 0);
}

TEST(NullBlk, SoftirqModeOnVirtualClockIsDeferredNotDelayed) {
  core::VirtualClock clock(500);
  auto dev = make("null:1G,irqmode=softirq", &clock);
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 500u);
}

TEST(NullBlk, TimerModeCompletesOnlyAfterCompletionNsec) {
  core::VirtualClock clock(0);
  auto dev = make("null:1G,irqmode=timer,completion_nsec=10000", &clock);
  std::vector<unsigned char> buf(4096);
  test::IoResult r;
  test::submit(*dev, REQ_OP_WRITE, 0, buf.data(), buf.size(), &r);
  clock.advance_to(9999);
  EXPECT_FALSE(r.done.load());
  EXPECT_EQ(dev->null_blk()->inflight(), 1);
  clock.advance_to(10000);
  ASSERT_TRUE(r.done.load());
  EXPECT_EQ(r.err.load(), 0);
  EXPECT_EQ(dev->null_blk()->inflight(), 0);
}

TEST(NullBlk, TimerModeOnRealClockWaitsAtLeastCompletionNsec) {
  auto dev = make("null:1G,irqmode=timer,completion_nsec=2000000");
  std::vector<unsigned char> buf(4096);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, buf.data(), buf.size()), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2));
}

TEST(NullBlk, WithoutMemoryBackingReadsLeaveTheBufferAlone) {
  auto dev = make("null:1G,irqmode=none");
  std::vector<unsigned char> data(4096, 0x5A), out(4096, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, data.data(), data.size()), 0);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, out.data(), out.size()), 0);
  for (auto b : out) ASSERT_EQ(b, 0xAA);
  EXPECT_EQ(dev->null_blk()->store(), nullptr);
}

// Memory-backed data reads back, whatever the completion mode.
class NullMemory : public ::testing::TestWithParam<const char*> {};

TEST_P(NullMemory, RandomWritesReadBack) {
  core::VirtualClock vclock(0);
  const std::string mode = GetParam();
  core::VirtualClock* vc = mode == "timer" ? &vclock : nullptr;
  auto dev = make("null:8M,bs=4096,memory_backed=1,discard=1,irqmode=" + mode, vc);
  const std::size_t size = 8 << 20;
  std::vector<unsigned char> shadow(size, 0);
  std::mt19937 rng(3);
  for (int iter = 0; iter < 300; ++iter) {
    const std::uint32_t blocks = 1 + rng() % 64;
    const block::sector_t block = rng() % (size / 4096 - blocks);
    const std::size_t off = block * 4096, len = blocks * 4096;
    const block::sector_t sector = block * 8;
    const unsigned what = rng() % 10;
    if (what < 5) {
      auto data = test::random_bytes(rng, len);
      ASSERT_EQ(io(*dev, REQ_OP_WRITE, sector, data.data(), len, vc), 0);
      std::memcpy(&shadow[off], data.data(), len);
    } else if (what < 9) {
      std::vector<unsigned char> out(len, 0xAA);
      ASSERT_EQ(io(*dev, REQ_OP_READ, sector, out.data(), len, vc), 0);
      ASSERT_EQ(std::memcmp(out.data(), &shadow[off], len), 0) << "iter " << iter;
    } else {
      ASSERT_EQ(io(*dev, REQ_OP_DISCARD, sector, nullptr, len, vc), 0);
      std::memset(&shadow[off], 0, len);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, NullMemory, ::testing::Values("none", "softirq", "timer"));

TEST(NullBlk, BadRangeFailsWithEio) {
  auto dev = make("null:1G,irqmode=none,memory_backed=1,badblocks=100-107");
  std::vector<unsigned char> buf(4096, 1);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 96, buf.data(), 4096), -EIO);  // 96..103 overlaps
  EXPECT_EQ(io(*dev, REQ_OP_READ, 107, buf.data(), 512), -EIO);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 92, buf.data(), 4096), 0);  // 92..99 does not
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 0, buf.data(), 4096), 0);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 108, buf.data(), 4096), 0);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 100, buf.data(), 4096), -EIO);  // still bad
}

TEST(NullBlk, BadRangeErrorSurfacesInTimerModeToo) {
  core::VirtualClock clock(0);
  auto dev = make("null:1G,irqmode=timer,badblocks=8", &clock);
  std::vector<unsigned char> buf(4096);
  EXPECT_EQ(io(*dev, REQ_OP_READ, 4, buf.data(), buf.size(), &clock), -EIO);  // 4..11
  EXPECT_EQ(io(*dev, REQ_OP_READ, 0, buf.data(), buf.size(), &clock), 0);     // 0..7
}

TEST(NullBlk, BadblocksOnceClearsAfterTheFirstFailure) {
  auto dev = make("null:1G,irqmode=none,badblocks=100-107,badblocks_once=1");
  std::vector<unsigned char> buf(4096, 1);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 100, buf.data(), 4096), -EIO);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 100, buf.data(), 4096), 0);
}

TEST(NullBlk, BadblocksPartialIoWritesTheGoodPrefix) {
  auto dev = make("null:1G,irqmode=none,memory_backed=1,badblocks=100-107,badblocks_partial_io=1");
  std::vector<unsigned char> ones(8 * 512, 1), out(8 * 512, 0xAA);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 96, ones.data(), ones.size()), -EIO);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 92, out.data(), out.size()), 0);
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i < 2048 ? 0 : 1) << i;
}

TEST(NullBlk, FlushIgnoresBadblocks) {
  auto dev = make("null:1G,irqmode=none,write_cache=1,badblocks=0-100");
  EXPECT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_PREFLUSH, 0, nullptr, 0), 0);
}

TEST(NullBlk, DevResourceIsRequeuedUntilItSucceedsOnVirtualClock) {
  core::VirtualClock clock(0);
  auto dev = make("null:1G,irqmode=none,memory_backed=1,busy=3,busy_delay_nsec=1000", &clock);
  std::mt19937 rng(5);
  auto data = test::random_bytes(rng, 8192);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 64, data.data(), data.size(), &clock), 0);
  EXPECT_EQ(dev->null_blk()->busy_returned(), 3u);
  std::uint64_t requeued = 0;
  for (unsigned i = 0; i < dev->queue()->nr_hw_queues(); ++i) {
    requeued += dev->queue()->hctx(i)->requeued();
  }
  EXPECT_GE(requeued, 3u);
  std::vector<unsigned char> out(8192);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 64, out.data(), out.size(), &clock), 0);
  EXPECT_EQ(out, data);
}

TEST(NullBlk, DevResourceIsRequeuedUntilItSucceedsOnRealClock) {
  auto dev = make("null:1G,irqmode=softirq,busy=2");
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, buf.data(), buf.size()), 0);
  EXPECT_EQ(dev->null_blk()->busy_returned(), 2u);
}

TEST(NullBlk, LimitsFollowTheConfiguration) {
  auto plain = make("null:1G");
  const auto& a = plain->queue()->limits();
  EXPECT_EQ(a.logical_block_size, 512u);
  EXPECT_EQ(a.max_hw_sectors, 255u);
  EXPECT_EQ(a.max_discard_sectors, 0u);
  EXPECT_FALSE(a.write_cache);
  EXPECT_FALSE(a.fua);

  auto tuned = make("null:1G,bs=4096,memory_backed=1,discard=1,write_cache=1,rotational=1");
  const auto& b = tuned->queue()->limits();
  EXPECT_EQ(b.logical_block_size, 4096u);
  EXPECT_EQ(b.physical_block_size, 4096u);
  EXPECT_EQ(b.max_discard_sectors, UINT_MAX >> 9);
  EXPECT_TRUE(b.write_cache);
  EXPECT_TRUE(b.fua);
  EXPECT_TRUE(b.rotational);

  auto nofua = make("null:1G,write_cache=1,fua=0,max_sectors=1024");
  EXPECT_TRUE(nofua->queue()->limits().write_cache);
  EXPECT_FALSE(nofua->queue()->limits().fua);
  EXPECT_EQ(nofua->queue()->limits().max_hw_sectors, 1024u);
}

TEST(NullBlk, TwoHardwareQueuesServeTwoThreads) {
  auto dev = make("null:1G,irqmode=softirq,hw_queues=2,queue_depth=16,memory_backed=1");
  EXPECT_EQ(dev->queue()->nr_hw_queues(), 2u);
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto data = test::random_bytes(rng, 64 * 4096);
      std::vector<test::IoResult> res(64);
      const block::sector_t base = t * 100000;
      for (int i = 0; i < 64; ++i) {
        test::submit(*dev, REQ_OP_WRITE, base + i * 8, &data[i * 4096], 4096, &res[i]);
      }
      for (auto& r : res) {
        ASSERT_TRUE(test::wait(r));
        ASSERT_EQ(r.err.load(), 0);
      }
      std::vector<unsigned char> out(data.size());
      for (int i = 0; i < 64; ++i) {
        ASSERT_EQ(io(*dev, REQ_OP_READ, base + i * 8, &out[i * 4096], 4096), 0);
      }
      ASSERT_EQ(out, data);
    });
  }
  for (auto& t : ts) t.join();
}

}  // namespace
}  // namespace iostack::dev
