// Page-mapped FTL with greedy garbage collection.
#include "dev/ssd_ftl.hpp"

#include <algorithm>

namespace iostack::dev {

SsdFtl::SsdFtl(std::uint64_t logical_pages, unsigned units, unsigned pages_per_block,
               unsigned op_percent)
    : logical_(logical_pages), units_(units), ppb_(pages_per_block) {
  const std::uint64_t physical = logical_pages * (100 + op_percent) / 100;
  const std::uint64_t per_unit = std::uint64_t{units} * ppb_;
  blocks_per_unit_ = static_cast<std::uint32_t>((physical + per_unit - 1) / per_unit + 3);
  l2p_.resize((logical_pages + kChunk - 1) / kChunk);
  blocks_.resize(std::uint64_t{blocks_per_unit_} * units);
  unit_.resize(units);
  for (unsigned u = 0; u < units; ++u) {
    unit_[u].free.reserve(blocks_per_unit_);
    // Popped from the back: the unit's blocks in ascending order.
    for (std::uint32_t b = blocks_per_unit_; b-- > 0;)
      unit_[u].free.push_back(u * blocks_per_unit_ + b);
  }
}

std::uint32_t SsdFtl::l2p(std::uint64_t lpn) const {
  const auto& chunk = l2p_[lpn / kChunk];
  return chunk ? chunk[lpn % kChunk] : kUnmapped;
}

void SsdFtl::set_l2p(std::uint64_t lpn, std::uint32_t ppn) {
  auto& chunk = l2p_[lpn / kChunk];
  if (!chunk) {
    chunk = std::make_unique<std::uint32_t[]>(kChunk);
    std::fill_n(chunk.get(), kChunk, kUnmapped);
  }
  chunk[lpn % kChunk] = ppn;
}

void SsdFtl::invalidate(std::uint32_t ppn) {
  Block& b = blocks_[ppn / ppb_];
  b.p2l[ppn % ppb_] = kUnmapped;
  --b.valid;
  --valid_total_;
}

// Programs `lpn` into unit u's open block, opening a free one when needed.
std::uint32_t SsdFtl::program(unsigned u, std::uint64_t lpn) {
  Unit& un = unit_[u];
  if (un.active < 0 || blocks_[static_cast<std::size_t>(un.active)].written == ppb_) {
    un.active = un.free.back();
    un.free.pop_back();
    Block& nb = blocks_[static_cast<std::size_t>(un.active)];
    if (!nb.p2l) nb.p2l = std::make_unique<std::uint32_t[]>(ppb_);
  }
  Block& b = blocks_[static_cast<std::size_t>(un.active)];
  const std::uint32_t ppn = static_cast<std::uint32_t>(un.active) * ppb_ + b.written;
  b.p2l[b.written++] = static_cast<std::uint32_t>(lpn);
  ++b.valid;
  ++valid_total_;
  set_l2p(lpn, ppn);
  ++stats_.nand_pages;
  return ppn;
}

// Greedy collection until the unit has three free blocks: two stay in
// reserve once the next one is opened.
void SsdFtl::collect(unsigned u, Write* w) {
  Unit& un = unit_[u];
  const std::uint32_t first = u * blocks_per_unit_;
  while (un.free.size() <= 2) {
    std::int64_t victim = -1;
    for (std::uint32_t b = first; b < first + blocks_per_unit_; ++b) {
      const Block& bl = blocks_[b];
      if (bl.written != ppb_ || static_cast<std::int64_t>(b) == un.active) continue;
      if (victim < 0 || bl.valid < blocks_[static_cast<std::size_t>(victim)].valid) victim = b;
    }
    if (victim < 0) return;
    Block& v = blocks_[static_cast<std::size_t>(victim)];
    if (v.valid == ppb_) return;  // nothing to gain here
    // The moved pages fit the open block's rest and one more block.
    if (un.free.empty()) return;
    for (std::uint32_t p = 0; p < ppb_ && v.valid; ++p) {
      const std::uint32_t lpn = v.p2l[p];
      if (lpn == kUnmapped) continue;
      invalidate(static_cast<std::uint32_t>(victim) * ppb_ + p);
      program(u, lpn);
      ++w->moved;
      ++stats_.pages_moved;
    }
    v.written = 0;
    un.free.push_back(static_cast<std::uint32_t>(victim));
    ++w->erased;
    ++stats_.gc_runs;
  }
}

SsdFtl::Write SsdFtl::write(std::uint64_t lpn) {
  Write w;
  const std::uint32_t old = l2p(lpn);
  if (old != kUnmapped) invalidate(old);
  // The next unit in turn; one whose blocks all hold valid data (skewed
  // rewrites can do that) passes its turn to the next.
  for (unsigned tries = 0; tries < units_; ++tries) {
    w.unit = next_unit_;
    next_unit_ = (next_unit_ + 1) % units_;
    Unit& un = unit_[w.unit];
    const bool needs_block =
        un.active < 0 || blocks_[static_cast<std::size_t>(un.active)].written == ppb_;
    if (!needs_block) break;
    if (un.free.size() <= 2) collect(w.unit, &w);
    if (un.free.size() >= 2) break;
  }
  program(w.unit, lpn);
  ++stats_.host_pages;
  return w;
}

int SsdFtl::unit_of(std::uint64_t lpn) const {
  const std::uint32_t ppn = l2p(lpn);
  return ppn == kUnmapped ? -1 : static_cast<int>(ppn / ppb_ / blocks_per_unit_);
}

void SsdFtl::trim(std::uint64_t lpn) {
  const std::uint32_t ppn = l2p(lpn);
  if (ppn == kUnmapped) return;
  invalidate(ppn);
  set_l2p(lpn, kUnmapped);
  ++stats_.trimmed_pages;
}

}  // namespace iostack::dev
