// Sparse backing memory of 4 KiB pages, the role of brd's brd_pages xarray
// (drivers/block/brd.c) and null_blk's data radix tree
// (drivers/block/null_blk/main.c). Pages appear on first write, the rest
// of the page zeroed, so never-written data reads as zeros.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <vector>

#include "block/blk_types.hpp"
#include "core/mutex.hpp"

namespace iostack::block {
struct Request;
}

namespace iostack::dev {

class PageStore {
 public:
  static constexpr unsigned kPageShift = 12;
  static constexpr std::uint32_t kPageSize = 1u << kPageShift;
  static constexpr std::uint32_t kPageSectors = kPageSize >> block::kSectorShift;

  explicit PageStore(std::uint64_t capacity_bytes);
  ~PageStore();
  PageStore(const PageStore&) = delete;
  PageStore& operator=(const PageStore&) = delete;

  std::uint64_t capacity() const { return capacity_; }
  // Pages currently allocated (brd's brd_nr_pages).
  std::uint64_t nr_pages() const { return nr_pages_.load(std::memory_order_relaxed); }

  // Copies between the store and the request's segments, starting at the
  // request's sector, for at most `max_bytes`. READ reads, any write op
  // writes. Returns false when a page could not be allocated.
  bool transfer(const block::Request* rq, std::uint64_t max_bytes);

  // A hint that the request's data is copied soon (at its completion, on a
  // simulated device): starts loading every cache line of its first 8 KiB
  // and their address translation, most likely far from the CPU, so that
  // the copy finds them near (a random page of a large store misses the
  // TLB and every cache). Changes nothing; a page freed meanwhile is still
  // mapped.
  // `max_bytes`: how much of the start to load (a first line only starts
  // the address translation, whose walk then overlaps the caller's work).
  void prefetch(const block::Request* rq, std::uint64_t max_bytes = 2 * kPageSize) const;

  // Byte-addressed copies; `pos + len` must lie within the capacity.
  void read(std::uint64_t pos, void* dst, std::size_t len) const;
  bool write(std::uint64_t pos, const void* src, std::size_t len);

  // Discard: frees the pages the range covers whole and zeroes the partial
  // ones at its edges, so the range reads back as zeros.
  void discard(std::uint64_t pos, std::uint64_t len);
  // Write-zeroes: like discard, but with `unmap` false (REQ_NOUNMAP) whole
  // pages stay allocated and are cleared in place.
  void zero_range(std::uint64_t pos, std::uint64_t len, bool unmap);

 private:
  static constexpr unsigned kNodeShift = 9;
  static constexpr unsigned kNodeSlots = 1u << kNodeShift;
  struct Node;

  // Page holding page index `idx`, or null. Caller holds mu_ (shared
  // suffices), or needs no page freed meanwhile.
  unsigned char* lookup(std::uint64_t idx) const;
  std::atomic<void*>* leaf_slot(std::uint64_t idx) const;
  // The leaf slot of `idx`, making the nodes to it; null when out of memory.
  std::atomic<void*>* leaf_slot_create(std::uint64_t idx);
  void read_nolock(std::uint64_t pos, void* dst, std::size_t len) const;
  bool write_nolock(std::uint64_t pos, const void* src, std::size_t len);
  // Writes `n` bytes at `off` of page `idx`; a new page is filled before
  // it is published, so no reader sees what its memory held before.
  bool write_page(std::uint64_t idx, std::uint32_t off, const unsigned char* in, std::size_t n);
  void clear_nolock(std::uint64_t pos, std::uint64_t len, bool unmap);
  void free_node(Node* n, unsigned level);
  // Pages come from ChunkPool's 2 MiB chunks, in order (no system call
  // or malloc per page); a freed page is kept for reuse until the store
  // goes away, when its chunks go back to the pool. `*zero`: the page
  // is known to hold zeros (memory fresh from the kernel); otherwise it
  // holds leftovers that a partial write must clear.
  unsigned char* alloc_page(bool* zero) EXCLUDES(pool_mu_);
  void free_page(void* p) EXCLUDES(pool_mu_);

  std::uint64_t capacity_;
  unsigned levels_;  // radix levels above the page pointers
  Node* root_;
  std::atomic<std::uint64_t> nr_pages_{0};
  // Shared for data copies (which may insert pages); exclusive for freeing
  // pages, so no copy can touch a page being freed (brd uses RCU for this).
  mutable std::shared_mutex mu_;
  core::SpinLock pool_mu_;
  std::vector<unsigned char*> chunks_ GUARDED_BY(pool_mu_);
  std::vector<void*> free_pages_ GUARDED_BY(pool_mu_);
  unsigned char* chunk_next_ GUARDED_BY(pool_mu_) = nullptr;
  unsigned char* chunk_end_ GUARDED_BY(pool_mu_) = nullptr;
  bool chunk_zero_ GUARDED_BY(pool_mu_) = false;
};

}  // namespace iostack::dev
