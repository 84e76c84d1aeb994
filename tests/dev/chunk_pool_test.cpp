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

// A chunk from an emptied pool: fresh memory, zero, and said to be.
unsigned char* get_fresh(ChunkPool& pool) {
  pool.trim();
  EXPECT_EQ(pool.idle_chunks(), 0u);
  const ChunkPool::Chunk c = pool.get();
  EXPECT_NE(c.base, nullptr);
  EXPECT_TRUE(c.zero);
  EXPECT_TRUE(c.base && all_zero(c.base));
  return c.base;
}

// A chunk put back is handed out again as it was left; once trimmed, the
// pool hands out zeroed memory and says so.
TEST(ChunkPool, ReusesIdleChunksAndTrimGivesZeros) {
  ChunkPool& pool = ChunkPool::instance();
  unsigned char* base = get_fresh(pool);
  ASSERT_NE(base, nullptr);
  std::memset(base, 0x5A, kChunk);
  pool.put(base);
  EXPECT_EQ(pool.idle_chunks(), 1u);

  ChunkPool::Chunk again = pool.get();
  EXPECT_EQ(again.base, base);
  EXPECT_FALSE(again.zero);
  EXPECT_EQ(again.base[kChunk - 1], 0x5A);
  pool.put(again.base);

  unsigned char* fresh = get_fresh(pool);
  ASSERT_NE(fresh, nullptr);
  pool.put(fresh);
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
