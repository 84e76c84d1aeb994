// The sparse page store.
#include "dev/page_store.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace iostack::dev {
namespace {

constexpr std::uint32_t kPage = PageStore::kPageSize;

TEST(PageStore, UnwrittenReadsZerosWithoutAllocating) {
  PageStore s(1 << 20);
  std::vector<unsigned char> buf(3 * kPage, 0xAA);
  s.read(kPage / 2, buf.data(), buf.size() - kPage);
  for (std::size_t i = 0; i < buf.size() - kPage; ++i) ASSERT_EQ(buf[i], 0) << i;
  EXPECT_EQ(s.nr_pages(), 0u);
}

TEST(PageStore, WriteSpanningPagesReadsBack) {
  PageStore s(1 << 20);
  std::vector<unsigned char> in(kPage + 1024);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i * 7 + 1);
  const std::uint64_t pos = 3 * kPage - 512;  // last sector of page 2 into page 4
  ASSERT_TRUE(s.write(pos, in.data(), in.size()));
  EXPECT_EQ(s.nr_pages(), 3u);
  std::vector<unsigned char> out(in.size() + 1024, 0xAA);
  s.read(pos - 512, out.data(), out.size());
  for (int i = 0; i < 512; ++i) ASSERT_EQ(out[i], 0);
  EXPECT_EQ(std::memcmp(out.data() + 512, in.data(), in.size()), 0);
  for (std::size_t i = 512 + in.size(); i < out.size(); ++i) ASSERT_EQ(out[i], 0);
}

TEST(PageStore, DiscardFreesWholePagesAndZeroesEdges) {
  PageStore s(1 << 20);
  std::vector<unsigned char> ones(8 * kPage, 1);
  ASSERT_TRUE(s.write(0, ones.data(), ones.size()));
  ASSERT_EQ(s.nr_pages(), 8u);
  s.discard(kPage + 512, 5 * kPage);  // partial page 1, whole pages 2-5, partial page 6
  EXPECT_EQ(s.nr_pages(), 4u);
  std::vector<unsigned char> out(ones.size());
  s.read(0, out.data(), out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool discarded = i >= kPage + 512 && i < 6 * kPage + 512;
    ASSERT_EQ(out[i], discarded ? 0 : 1) << i;
  }
}

TEST(PageStore, ZeroRangeNoUnmapKeepsPages) {
  PageStore s(1 << 20);
  std::vector<unsigned char> ones(4 * kPage, 1);
  ASSERT_TRUE(s.write(0, ones.data(), ones.size()));
  s.zero_range(0, 4 * kPage, /*unmap=*/false);
  EXPECT_EQ(s.nr_pages(), 4u);
  s.read(0, ones.data(), ones.size());
  for (auto b : ones) ASSERT_EQ(b, 0);
  s.zero_range(0, 4 * kPage, /*unmap=*/true);
  EXPECT_EQ(s.nr_pages(), 0u);
}

TEST(PageStore, LargeSparseCapacityUsesDeepTable) {
  PageStore s(1ull << 44);  // 16 TiB: four radix levels
  const std::uint64_t far = (1ull << 44) - kPage;
  const char msg[] = "far away";
  ASSERT_TRUE(s.write(far, msg, sizeof msg));
  char out[sizeof msg] = {};
  s.read(far, out, sizeof out);
  EXPECT_STREQ(out, msg);
  EXPECT_EQ(s.nr_pages(), 1u);
}

TEST(PageStore, ConcurrentFirstWritesToSamePages) {
  PageStore s(1 << 22);
  constexpr int kThreads = 4;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&s, t] {
      // Each thread owns one 512-byte slot of every page: all race to insert.
      std::vector<unsigned char> v(512, static_cast<unsigned char>(t + 1));
      for (std::uint64_t p = 0; p < 1024; ++p)
        ASSERT_TRUE(s.write(p * kPage + t * 512, v.data(), 512));
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(s.nr_pages(), 1024u);
  std::vector<unsigned char> page(kPage);
  for (std::uint64_t p = 0; p < 1024; ++p) {
    s.read(p * kPage, page.data(), kPage);
    for (int t = 0; t < kThreads; ++t) ASSERT_EQ(page[t * 512 + 17], t + 1);
  }
}

}  // namespace
}  // namespace iostack::dev
