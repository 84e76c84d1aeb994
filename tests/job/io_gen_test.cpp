// Offsets, sizes and directions of generated I/O.
#include "job/io_gen.hpp"

#include <gtest/gtest.h>

#include <set>

namespace iostack::job {
namespace {

TEST(IoGen, RandomMapTouchesEveryBlockOncePerPass) {
  JobOptions o;
  o.random = true;
  IoGen g(o, 1 << 20, 1 << 20, 7);  // 256 blocks of 4 KiB starting at 1 MiB
  std::set<std::uint64_t> seen;
  std::uint64_t off;
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE(g.next_offset(kRead, 4096, &off));
    EXPECT_EQ(off % 4096, 0u);
    EXPECT_GE(off, 1u << 20);
    EXPECT_LT(off, 2u << 20);
    EXPECT_TRUE(seen.insert(off).second) << "block " << off << " twice";
  }
  EXPECT_FALSE(g.next_offset(kRead, 4096, &off)) << "the pass is complete";
  g.reset();
  EXPECT_TRUE(g.next_offset(kRead, 4096, &off));
}

TEST(IoGen, NorandommapRepeatsBlocks) {
  JobOptions o;
  o.random = true;
  o.norandommap = true;
  IoGen g(o, 0, 64 * 4096, 3);
  std::set<std::uint64_t> seen;
  std::uint64_t off;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(g.next_offset(kRead, 4096, &off));
    seen.insert(off);
  }
  EXPECT_LE(seen.size(), 64u);
}

TEST(IoGen, SequentialStreamsPerDirection) {
  JobOptions o;
  o.dir_write = true;
  IoGen g(o, 0, 16384, 1);
  std::uint64_t off;
  ASSERT_TRUE(g.next_offset(kRead, 4096, &off));
  EXPECT_EQ(off, 0u);
  ASSERT_TRUE(g.next_offset(kRead, 4096, &off));
  EXPECT_EQ(off, 4096u);
  ASSERT_TRUE(g.next_offset(kWrite, 4096, &off));
  EXPECT_EQ(off, 0u);
}

TEST(IoGen, MixAndSplitFollowTheirWeights) {
  JobOptions o;
  o.dir_write = true;
  o.rwmixread = 70;
  o.bssplit[kRead] = {{4096, 10}, {65536, 90}};
  o.max_bs[kRead] = 65536;
  IoGen g(o, 0, 1 << 30, 11);
  int reads = 0, big = 0;
  for (int i = 0; i < 100000; ++i) {
    reads += g.next_ddir() == kRead;
    big += g.next_bs(kRead) == 65536;
  }
  EXPECT_NEAR(reads, 70000, 1000);
  EXPECT_NEAR(big, 90000, 1000);
  o.bssplit[kRead].clear();
  o.min_bs[kRead] = 4096;
  o.max_bs[kRead] = 16384;
  for (int i = 0; i < 1000; ++i) {
    const auto bs = g.next_bs(kRead);
    EXPECT_EQ(bs % 4096, 0u);
    EXPECT_GE(bs, 4096u);
    EXPECT_LE(bs, 16384u);
  }
}

}  // namespace
}  // namespace iostack::job
