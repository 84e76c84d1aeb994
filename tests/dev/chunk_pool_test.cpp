// The process-wide pool of chunks behind the page stores.
#include "dev/chunk_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace iostack::dev {
namespace {

constexpr std::size_t kChunk = ChunkPool::kChunkBytes;

bool all_zero(const unsigned char* p) {
  return std::all_of(p, p + kChunk, [](unsigned char b) { return b == 0; });
}

// A chunk put back is handed out again as it was left; once trimmed, the
// pool hands out zeroed memory and says so.
TEST(ChunkPool, ReusesIdleChunksAndTrimGivesZeros) {
  ChunkPool& pool = ChunkPool::instance();
  pool.trim();
  ASSERT_EQ(pool.idle_chunks(), 0u);
  ChunkPool::Chunk c = pool.get();
  ASSERT_NE(c.base, nullptr);
  EXPECT_TRUE(c.zero);
  EXPECT_TRUE(all_zero(c.base));
  std::memset(c.base, 0x5A, kChunk);
  pool.put(c.base);
  EXPECT_EQ(pool.idle_chunks(), 1u);

  ChunkPool::Chunk again = pool.get();
  EXPECT_EQ(again.base, c.base);
  EXPECT_FALSE(again.zero);
  EXPECT_EQ(again.base[kChunk - 1], 0x5A);
  pool.put(again.base);

  pool.trim();
  EXPECT_EQ(pool.idle_chunks(), 0u);
  ChunkPool::Chunk fresh = pool.get();
  ASSERT_NE(fresh.base, nullptr);
  EXPECT_TRUE(fresh.zero);
  EXPECT_TRUE(all_zero(fresh.base));
  pool.put(fresh.base);
}

TEST(ChunkPool, ReserveFaultsInIdleChunks) {
  ChunkPool& pool = ChunkPool::instance();
  pool.trim();
  pool.reserve(8 * kChunk + 1);
  EXPECT_EQ(pool.idle_chunks(), 8u);
  pool.reserve(4 * kChunk);  // already there: nothing more
  EXPECT_EQ(pool.idle_chunks(), 8u);
  pool.trim();
}

}  // namespace
}  // namespace iostack::dev
