// Process-wide pool of 2 MiB memory chunks from which the page stores
// take their data pages, so that memory faulted in once is reused by the
// next device rather than given back to the kernel and faulted in again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/mutex.hpp"

namespace iostack::dev {

class ChunkPool {
 public:
  // 64 store pages, faulted in with one call. Not huge pages: in this
  // virtual machine a fresh 2 MiB page is one the hypervisor took back
  // (free page reporting) and costs several times as much per 4 KiB.
  static constexpr std::size_t kChunkBytes = std::size_t{256} << 10;
  // Idle chunks kept for reuse beyond this go back to the kernel.
  static constexpr std::size_t kMaxIdleBytes = std::size_t{2} << 30;

  struct Chunk {
    unsigned char* base = nullptr;  // null: out of memory
    bool zero = false;              // every byte is zero (fresh from the kernel)
  };

  static ChunkPool& instance();

  // A chunk whose memory is faulted in: an idle one first (its bytes are
  // what its last store left), else fresh zeroed memory.
  Chunk get() EXCLUDES(mu_);
  // Back from a store that goes away; its contents are no longer needed.
  void put(unsigned char* base) EXCLUDES(mu_);
  // Gives every idle chunk's memory back to the kernel (they stay in the
  // pool, to be faulted in again as zeros): for benchmarks that measure
  // stores on memory the process has not touched yet.
  void trim() EXCLUDES(mu_);
  // Faults in chunks until at least `bytes` (up to kMaxIdleBytes) are
  // idle: for benchmarks that measure stores on memory the process has.
  void reserve(std::size_t bytes) EXCLUDES(mu_);
  std::size_t idle_chunks() const EXCLUDES(mu_);

 private:
  ChunkPool() = default;
  // Address space for chunks comes in regions of kRegionChunks (64 MiB).
  static constexpr std::size_t kRegionChunks = 256;
  bool map_region() REQUIRES(mu_);
  // Faults a chunk's memory in, in one call rather than a fault per page.
  static bool populate(unsigned char* base);
  static void release(unsigned char* base);
  // Gives a chunk's memory back and keeps its address space as fresh.
  void put_fresh(unsigned char* base) EXCLUDES(mu_);

  mutable core::SpinLock mu_;
  std::vector<unsigned char*> idle_ GUARDED_BY(mu_);   // faulted in, contents left over
  std::vector<unsigned char*> fresh_ GUARDED_BY(mu_);  // not faulted in: zero
  unsigned char* region_next_ GUARDED_BY(mu_) = nullptr;
  unsigned char* region_end_ GUARDED_BY(mu_) = nullptr;
};

}  // namespace iostack::dev
