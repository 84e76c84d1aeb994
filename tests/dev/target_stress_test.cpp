// Stacking targets on the real clock with several submitting threads and a
// device that completes on its own thread: nothing lost, nothing reordered
// within a sector, reads see their own thread's writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "dev/device.hpp"
#include "dev/log_replay.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::io;

constexpr int kThreads = 4;
constexpr int kBlocksEach = 64;  // 4 KiB blocks per thread

// Each thread writes its own blocks (sometimes FUA, sometimes followed by a
// flush), reading each back at once; returns the final image it expects.
std::vector<unsigned char> hammer(BlockDevice& d, std::uint64_t seed, bool fua = true) {
  std::vector<unsigned char> expect(kThreads * kBlocksEach * 4096, 0);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(seed * 31 + t));
      for (int i = 0; i < 300; ++i) {
        const int blk = t * kBlocksEach + static_cast<int>(rng() % kBlocksEach);
        auto data = test::random_bytes(rng, 4096);
        const std::uint32_t opf = REQ_OP_WRITE | (fua && rng() % 8 == 0 ? block::REQ_FUA : 0);
        if (io(d, opf, blk * 8ull, data.data(), 4096) != 0) ++bad;
        std::copy(data.begin(), data.end(), expect.begin() + blk * 4096);
        std::vector<unsigned char> back(4096);
        if (io(d, REQ_OP_READ, blk * 8ull, back.data(), 4096) != 0 || back != data) ++bad;
        if (rng() % 16 == 0 && io(d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0) != 0) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  return expect;
}

std::vector<unsigned char> image(BlockDevice& d) {
  std::vector<unsigned char> img(kThreads * kBlocksEach * 4096);
  EXPECT_EQ(io(d, REQ_OP_READ, 0, img.data(), static_cast<std::uint32_t>(img.size())), 0);
  return img;
}

const std::string kBelow = "null:4M,memory_backed=1,write_cache=1,irqmode=softirq";

TEST(TargetStress, WcacheWritesBackEverythingInOrder) {
  std::string err;
  auto d = create_device("wcache,size=256K:" + kBelow, nullptr, &err);
  ASSERT_TRUE(d) << err;
  const auto expect = hammer(*d, 1);
  ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0), 0);
  EXPECT_TRUE(image(*d->lower()) == expect);
}

// A read passes below while a write-back of the block it reads lands there
// and drops the block from the cache: the device below orders nothing
// between the two, so the read takes the cache's data when it is mapped.
TEST(TargetStress, WcacheReadsSeeTheirWriteWhileAWriteBackLands) {
  std::string err;
  auto d = create_device("wcache,size=256K:" + kBelow, nullptr, &err);
  ASSERT_TRUE(d) << err;
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread flusher([&] {
    while (!stop.load(std::memory_order_relaxed))
      if (io(*d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0) != 0) ++bad;
  });
  std::atomic<int> stale{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(7 + t));
      for (int i = 0; i < 1000; ++i) {
        const int blk = t * 4 + static_cast<int>(rng() % 4);
        auto data = test::random_bytes(rng, 4096);
        std::vector<unsigned char> back(4096);
        if (io(*d, REQ_OP_WRITE, blk * 8ull, data.data(), 4096) != 0 ||
            io(*d, REQ_OP_READ, blk * 8ull, back.data(), 4096) != 0)
          ++bad;
        else if (back != data)
          ++stale;
      }
    });
  }
  for (auto& th : readers) th.join();
  stop = true;
  flusher.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(bad.load(), 0);
}

TEST(TargetStress, FlakeyDelayAndErrorPassEverythingWhileUp) {
  std::string err;
  auto d = create_device("delay,read_ms=0,write_ms=1:flakey,up=3600,down=1:error,ops=d:" + kBelow,
                         nullptr, &err);
  ASSERT_TRUE(d) << err;
  const auto expect = hammer(*d, 2);
  EXPECT_TRUE(image(*d) == expect);
}

TEST(TargetStress, LogWritesReplaysToTheFinalImage) {
  char name[] = "/tmp/iostack-stress-log-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  close(fd);
  std::vector<unsigned char> expect;
  {
    std::string err;
    auto d = create_device(std::string("log-writes,log=") + name + ":" + kBelow, nullptr, &err);
    ASSERT_TRUE(d) << err;
    // No FUA: as in the kernel, a FUA write is logged when it completes,
    // ahead of an older write to the same block still waiting for a flush,
    // and a replay to the end would put the older data back on top.
    expect = hammer(*d, 3, false);
  }
  std::string err;
  auto fresh = create_device("ram:4M", nullptr, &err);
  ReplayLimit all;
  EXPECT_GT(replay_log_to_device(name, fresh.get(), all, &err), 0) << err;
  EXPECT_TRUE(image(*fresh) == expect);
  unlink(name);
}

}  // namespace
}  // namespace iostack::dev
