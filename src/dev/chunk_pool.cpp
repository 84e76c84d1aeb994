// The process-wide pool of 2 MiB chunks behind the page stores.
#include "dev/chunk_pool.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <new>

namespace iostack::dev {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

ChunkPool& ChunkPool::instance() {
  // Never destroyed: stores that outlive static destruction still return
  // their chunks.
  static ChunkPool* pool = new ChunkPool;
  return *pool;
}

bool ChunkPool::map_region() {
  constexpr std::size_t kBytes = kRegionChunks * kChunkBytes;
  void* m = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  region_next_ = static_cast<unsigned char*>(m);
  region_end_ = region_next_ + kBytes;
  return true;
}

bool ChunkPool::populate(unsigned char* base) {
  if (::madvise(base, kChunkBytes, MADV_POPULATE_WRITE) == 0) return true;
  if (errno != EINVAL) return false;  // out of memory
  // Kernels before 5.14: a write fault per page (the bytes are zero already).
  for (std::size_t off = 0; off < kChunkBytes; off += 4096)
    reinterpret_cast<volatile unsigned char*>(base)[off] = 0;
  return true;
}

void ChunkPool::release(unsigned char* base) { ::madvise(base, kChunkBytes, MADV_DONTNEED); }

ChunkPool::Chunk ChunkPool::get() {
  unsigned char* base = nullptr;
  {
    core::LockGuard lock(mu_);
    if (!idle_.empty()) {
      base = idle_.back();
      idle_.pop_back();
      return {base, false};
    }
    if (!fresh_.empty()) {
      base = fresh_.back();
      fresh_.pop_back();
    } else {
      if (region_next_ == region_end_ && !map_region()) return {};
      base = region_next_;
      region_next_ += kChunkBytes;
    }
  }
  if (populate(base)) return {base, true};
  put_fresh(base);
  return {};
}

void ChunkPool::put(unsigned char* base) {
  {
    core::LockGuard lock(mu_);
    if (idle_.size() < kMaxIdleBytes / kChunkBytes) {
      try {
        idle_.push_back(base);
        return;
      } catch (const std::bad_alloc&) {
      }
    }
  }
  put_fresh(base);
}

void ChunkPool::put_fresh(unsigned char* base) {
  release(base);
  core::LockGuard lock(mu_);
  try {
    fresh_.push_back(base);
  } catch (const std::bad_alloc&) {
    // Its address space stays reserved, unused.
  }
}

void ChunkPool::trim() {
  std::vector<unsigned char*> idle;
  {
    core::LockGuard lock(mu_);
    idle.swap(idle_);
  }
  for (unsigned char* base : idle) put_fresh(base);
}

void ChunkPool::reserve(std::size_t bytes) {
  std::vector<unsigned char*> taken;
  const std::size_t want = std::min(bytes, kMaxIdleBytes) / kChunkBytes;
  try {
    taken.reserve(want);
  } catch (const std::bad_alloc&) {
    return;
  }
  while (taken.size() < want) {
    const Chunk c = get();
    if (!c.base) break;
    taken.push_back(c.base);
  }
  for (unsigned char* base : taken) put(base);
}

std::size_t ChunkPool::idle_chunks() const {
  core::LockGuard lock(mu_);
  return idle_.size();
}

}  // namespace iostack::dev
