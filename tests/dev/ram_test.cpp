// The RAM disk: data, discard, limits.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "block/plug.hpp"
#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_DISCARD;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using block::REQ_OP_WRITE_ZEROES;
using test::io;

std::unique_ptr<BlockDevice> make(const std::string& spec) {
  std::string err;
  auto dev = create_device(spec, nullptr, &err);
  EXPECT_TRUE(dev) << err;
  return dev;
}

TEST(Ram, UnwrittenSectorsReadZeros) {
  auto dev = make("ram:8M");
  std::vector<unsigned char> buf(64 * 1024, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 100, buf.data(), buf.size()), 0);
  for (auto b : buf) ASSERT_EQ(b, 0);
  EXPECT_EQ(dev->ram()->store().nr_pages(), 0u);
}

TEST(Ram, WriteAcrossPageBoundaryReadsBack) {
  auto dev = make("ram:8M");
  std::mt19937 rng(1);
  auto data = test::random_bytes(rng, 3 * 1024);
  // Sector 7 is the last sector of page 0: the write spans pages 0 and 1.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 7, data.data(), data.size()), 0);
  EXPECT_EQ(dev->ram()->store().nr_pages(), 2u);
  std::vector<unsigned char> out(4 * 1024 + 512, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 6, out.data(), out.size()), 0);
  for (int i = 0; i < 512; ++i) ASSERT_EQ(out[i], 0);
  EXPECT_EQ(std::memcmp(out.data() + 512, data.data(), data.size()), 0);
  for (std::size_t i = 512 + data.size(); i < out.size(); ++i) ASSERT_EQ(out[i], 0);
}

TEST(Ram, DiscardZeroesRangeAndFreesWholePages) {
  auto dev = make("ram:8M");
  std::vector<unsigned char> ones(64 * 1024, 1);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, ones.data(), ones.size()), 0);
  ASSERT_EQ(dev->ram()->store().nr_pages(), 16u);
  // Sectors 4..123: half of page 0, pages 1-14, half of page 15.
  ASSERT_EQ(io(*dev, REQ_OP_DISCARD, 4, nullptr, 120 * 512), 0);
  EXPECT_EQ(dev->ram()->store().nr_pages(), 2u);
  std::vector<unsigned char> out(ones.size(), 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, out.data(), out.size()), 0);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool gone = i >= 4 * 512 && i < 124 * 512;
    ASSERT_EQ(out[i], gone ? 0 : 1) << i;
  }
}

TEST(Ram, WriteZeroesWithAndWithoutUnmap) {
  auto dev = make("ram:8M");
  std::vector<unsigned char> ones(32 * 1024, 1);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, ones.data(), ones.size()), 0);
  ASSERT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE_ZEROES} | block::REQ_NOUNMAP, 0, nullptr, 16 * 512),
            0);
  EXPECT_EQ(dev->ram()->store().nr_pages(), 8u);  // NOUNMAP keeps the pages
  ASSERT_EQ(io(*dev, REQ_OP_WRITE_ZEROES, 16, nullptr, 16 * 512), 0);
  EXPECT_EQ(dev->ram()->store().nr_pages(), 6u);
  std::vector<unsigned char> out(ones.size(), 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, out.data(), out.size()), 0);
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i < 16 * 1024 ? 0 : 1) << i;
}

TEST(Ram, EmptyFlushSucceeds) {
  auto dev = make("ram:8M");
  EXPECT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_PREFLUSH, 0, nullptr, 0), 0);
}

TEST(Ram, LimitsAreBrds) {
  auto dev = make("ram:8M");
  const auto& lim = dev->queue()->limits();
  EXPECT_EQ(lim.logical_block_size, 512u);
  EXPECT_EQ(lim.physical_block_size, 4096u);
  EXPECT_EQ(lim.max_hw_sectors, 255u);
  EXPECT_EQ(lim.discard_granularity, 4096u);
  EXPECT_EQ(lim.max_discard_sectors, UINT_MAX >> 9);
  EXPECT_EQ(lim.max_discard_segments, 1u);
  EXPECT_FALSE(lim.rotational);
  EXPECT_FALSE(lim.write_cache);
  EXPECT_EQ(dev->disk()->capacity(), 8u * 1024 * 1024 / 512);
}

// Random writes, reads and discards of random sizes at random offsets,
// checked against a shadow copy, through each scheduler.
class RamRandom : public ::testing::TestWithParam<const char*> {};

TEST_P(RamRandom, ReadsBackWhatWasWritten) {
  auto dev = make("ram:4M");
  if (dev->queue()->set_elevator(GetParam()) != 0) GTEST_SKIP() << GetParam() << " missing";
  const std::size_t size = 4 << 20;
  std::vector<unsigned char> shadow(size, 0);
  std::mt19937 rng(42);
  for (int iter = 0; iter < 400; ++iter) {
    const std::uint32_t sectors = 1 + rng() % 600;  // often larger than max_sectors
    const block::sector_t sector = rng() % (size / 512 - sectors);
    const std::size_t off = sector * 512, len = sectors * 512;
    const unsigned what = rng() % 10;
    if (what < 6) {
      auto data = test::random_bytes(rng, len);
      ASSERT_EQ(io(*dev, REQ_OP_WRITE, sector, data.data(), len, nullptr, &rng), 0);
      std::memcpy(&shadow[off], data.data(), len);
    } else if (what < 9) {
      std::vector<unsigned char> out(len, 0xAA);
      ASSERT_EQ(io(*dev, REQ_OP_READ, sector, out.data(), len, nullptr, &rng), 0);
      ASSERT_EQ(std::memcmp(out.data(), &shadow[off], len), 0) << "iter " << iter;
    } else {
      ASSERT_EQ(io(*dev, REQ_OP_DISCARD, sector, nullptr, len), 0);
      std::memset(&shadow[off], 0, len);
    }
  }
  std::vector<unsigned char> all(size);
  for (std::size_t off = 0; off < size; off += 128 * 1024) {
    ASSERT_EQ(io(*dev, REQ_OP_READ, off / 512, &all[off], 128 * 1024), 0);
  }
  EXPECT_EQ(std::memcmp(all.data(), shadow.data(), size), 0);
}

INSTANTIATE_TEST_SUITE_P(Schedulers, RamRandom, ::testing::Values("none", "mq-deadline"));

// Plugged sequential 4 KiB writes merge on their way down; the data must
// still land where each bio said.
TEST(Ram, PluggedSequentialWritesReadBack) {
  auto dev = make("ram:8M");
  std::mt19937 rng(7);
  auto data = test::random_bytes(rng, 32 * 4096);
  std::vector<test::IoResult> res(32);
  block::BlkPlug plug;
  block::blk_start_plug(&plug);
  for (int i = 0; i < 32; ++i) {
    test::submit(*dev, REQ_OP_WRITE, 1000 + i * 8, &data[i * 4096], 4096, &res[i]);
  }
  block::blk_finish_plug(&plug);
  for (auto& r : res) {
    ASSERT_TRUE(test::wait(r));
    ASSERT_EQ(r.err.load(), 0);
  }
  std::vector<unsigned char> out(data.size());
  ASSERT_EQ(io(*dev, REQ_OP_READ, 1000, out.data(), out.size()), 0);
  EXPECT_EQ(out, data);
}

TEST(Ram, ConcurrentSubmittersOnSeparateRegions) {
  auto dev = make("ram:16M,hw_queues=2");
  constexpr int kThreads = 2;
  constexpr int kIos = 200;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      const block::sector_t base = t * (8 << 20) / 512;
      auto data = test::random_bytes(rng, 8 << 20);
      std::vector<test::IoResult> res(kIos);
      for (int i = 0; i < kIos; ++i) {
        const std::uint32_t len = 40 * 1024;
        test::submit(*dev, REQ_OP_WRITE, base + i * len / 512, &data[i * len], len, &res[i], &rng);
      }
      for (auto& r : res) {
        ASSERT_TRUE(test::wait(r));
        ASSERT_EQ(r.err.load(), 0);
      }
      std::vector<unsigned char> out(kIos * 40 * 1024);
      for (std::size_t off = 0; off < out.size(); off += 64 * 1024) {
        const auto len =
            static_cast<std::uint32_t>(std::min<std::size_t>(64 * 1024, out.size() - off));
        ASSERT_EQ(io(*dev, REQ_OP_READ, base + off / 512, &out[off], len), 0);
      }
      ASSERT_EQ(std::memcmp(out.data(), data.data(), out.size()), 0);
    });
  }
  for (auto& t : ts) t.join();
}

}  // namespace
}  // namespace iostack::dev
