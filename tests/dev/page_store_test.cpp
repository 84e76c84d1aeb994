// The sparse page store.
#include "dev/page_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "dev/chunk_pool.hpp"

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

// Random writes, reads, discards and write-zeroes at random offsets and
// sizes (partial pages, page-spanning, whole pages) read back as a flat
// image says. Each round's store is made after the last one went away, so
// it takes the pool's chunks with the last store's data still in them:
// none of that may show through a partial first write of a page, nor
// where nothing was written.
TEST(PageStore, RandomOperationsMatchAFlatImageAcrossReusedChunks) {
  constexpr std::uint64_t kCap = 8u << 20;  // 2048 pages, several chunks
  std::mt19937_64 rng(13);
  for (int round = 0; round < 4; ++round) {
    PageStore s(kCap);
    std::vector<unsigned char> image(kCap, 0);
    std::vector<unsigned char> buf;
    for (int i = 0; i < 3000; ++i) {
      const unsigned kind = rng() % 16;
      const std::uint64_t pos = rng() % kCap;
      // Mostly within a few pages; a byte to 5 pages.
      const std::uint64_t len =
          std::min<std::uint64_t>(kCap - pos, 1 + rng() % (kind < 8 ? 5 * kPage : 2 * kPage));
      if (kind < 9) {
        buf.resize(len);
        for (auto& b : buf) b = static_cast<unsigned char>(rng() | 1);  // never zero
        ASSERT_TRUE(s.write(pos, buf.data(), len));
        std::copy(buf.begin(), buf.end(), image.begin() + static_cast<std::ptrdiff_t>(pos));
      } else if (kind < 11) {
        s.discard(pos, len);
        std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pos), len, 0);
      } else if (kind < 12) {
        s.zero_range(pos, len, /*unmap=*/false);
        std::fill_n(image.begin() + static_cast<std::ptrdiff_t>(pos), len, 0);
      } else {
        buf.assign(len, 0xEE);
        s.read(pos, buf.data(), len);
        ASSERT_TRUE(
            std::equal(buf.begin(), buf.end(), image.begin() + static_cast<std::ptrdiff_t>(pos)))
            << "round " << round << " op " << i << " at " << pos << " +" << len;
      }
    }
    std::vector<unsigned char> all(kCap, 0xEE);
    s.read(0, all.data(), kCap);
    ASSERT_TRUE(all == image) << "round " << round;
  }
}

// A first write of part of a page into memory a store before this one
// filled: the rest of the page reads as zeros.
TEST(PageStore, PartialFirstWriteOnReusedMemoryReadsZerosAround) {
  {
    PageStore old(1 << 22);
    std::vector<unsigned char> ff(1 << 22, 0xFF);
    ASSERT_TRUE(old.write(0, ff.data(), ff.size()));
  }  // its chunk goes back to the pool, full of 0xFF
  ASSERT_GT(ChunkPool::instance().idle_chunks(), 0u);
  PageStore s(1 << 22);
  const unsigned char x[3] = {1, 2, 3};
  for (std::uint64_t p = 0; p < 64; ++p) ASSERT_TRUE(s.write(p * kPage + 1000, x, 3));
  std::vector<unsigned char> out(64 * kPage);
  s.read(0, out.data(), out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t off = i % kPage;
    const unsigned char want = off >= 1000 && off < 1003 ? x[off - 1000] : 0;
    ASSERT_EQ(out[i], want) << i;
  }
}

}  // namespace
}  // namespace iostack::dev
