// The flash translation layer of a simulated SSD: a page-mapped table over
// independent units (die-planes), one open block per unit written in page
// order, and greedy garbage collection (the unit's full block with the
// fewest valid pages) that keeps two free blocks per unit in reserve. Pure
// bookkeeping: the device (ssd.cpp) turns the work into time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace iostack::dev {

struct SsdFtlStats {
  std::uint64_t host_pages = 0;  // pages written by the host
  std::uint64_t nand_pages = 0;  // pages programmed (host + moved + folded)
  std::uint64_t gc_runs = 0;     // blocks reclaimed
  std::uint64_t pages_moved = 0;
  std::uint64_t trimmed_pages = 0;
  double write_amplification() const {
    return host_pages ? static_cast<double>(nand_pages) / static_cast<double>(host_pages) : 0.0;
  }
};

class SsdFtl {
 public:
  static constexpr std::uint32_t kUnmapped = ~std::uint32_t{0};

  // `logical_pages` user pages over `units`, with op_percent % more
  // physical pages (rounded up to whole blocks), plus the three blocks per
  // unit that are never spare room (the open block and the GC reserve).
  SsdFtl(std::uint64_t logical_pages, unsigned units, unsigned pages_per_block,
         unsigned op_percent);

  // Where one host page write went and the collection it set off there.
  struct Write {
    unsigned unit = 0;
    std::uint32_t moved = 0;   // valid pages copied by GC
    std::uint32_t erased = 0;  // blocks erased by GC
  };
  // Maps `lpn` to a fresh page on the next unit in turn; the old copy
  // becomes invalid.
  Write write(std::uint64_t lpn);
  // The unit holding `lpn`, or -1 when it is unmapped (never written or trimmed).
  int unit_of(std::uint64_t lpn) const;
  // A hint that `lpn` is looked up or written soon: starts loading its map
  // entry. Changes nothing.
  void prefetch(std::uint64_t lpn) const {
    const auto& chunk = l2p_[lpn / kChunk];
    if (chunk) __builtin_prefetch(&chunk[lpn % kChunk]);
  }
  // Unmaps `lpn`: its page is garbage, and collection moves it no more.
  void trim(std::uint64_t lpn);

  std::uint64_t logical_pages() const { return logical_; }
  std::uint32_t blocks_per_unit() const { return blocks_per_unit_; }
  std::uint64_t physical_pages() const { return std::uint64_t{blocks_per_unit_} * units_ * ppb_; }
  std::uint64_t valid_pages() const { return valid_total_; }
  void count_folded(std::uint64_t pages) { stats_.nand_pages += pages; }
  const SsdFtlStats& stats() const { return stats_; }

 private:
  static constexpr std::uint32_t kChunk = 4096;  // table entries allocated together
  struct Block {
    std::uint32_t valid = 0;
    std::uint32_t written = 0;
    std::unique_ptr<std::uint32_t[]> p2l;  // allocated when first opened
  };
  struct Unit {
    std::vector<std::uint32_t> free;  // block numbers
    std::int64_t active = -1;
  };

  std::uint32_t l2p(std::uint64_t lpn) const;
  void set_l2p(std::uint64_t lpn, std::uint32_t ppn);
  void invalidate(std::uint32_t ppn);
  std::uint32_t program(unsigned u, std::uint64_t lpn);
  void collect(unsigned u, Write* w);

  std::uint64_t logical_;
  unsigned units_;
  std::uint32_t ppb_;
  std::uint32_t blocks_per_unit_;
  std::vector<std::unique_ptr<std::uint32_t[]>> l2p_;
  std::vector<Block> blocks_;  // unit u owns [u * blocks_per_unit_, (u + 1) * ...)
  std::vector<Unit> unit_;
  unsigned next_unit_ = 0;
  std::uint64_t valid_total_ = 0;
  SsdFtlStats stats_;
};

}  // namespace iostack::dev
