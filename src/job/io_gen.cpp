// The offset, size and direction of each next I/O.
#include "job/io_gen.hpp"

#include <algorithm>

namespace iostack::job {

IoGen::IoGen(const JobOptions& o, std::uint64_t start, std::uint64_t len, std::uint64_t seed)
    : o_(o),
      start_(start),
      len_(len),
      rand_dir_(seed),
      rand_bs_(seed * 3 + 1),
      rand_off_(seed * 7 + 2) {
  unit_ = 0;
  for (int d = kRead; d <= kWrite; ++d) {
    const bool on = d == kRead ? o.dir_read : o.dir_write;
    if (on) unit_ = unit_ ? std::min(unit_, o.min_bs[d]) : o.min_bs[d];
  }
  if (!unit_) unit_ = 512;
  nblocks_ = len_ / unit_;
  if (o.random && !o.norandommap) map_.assign((nblocks_ + 63) / 64, 0);
}

void IoGen::reset() {
  for (auto& p : seq_pos_) p = 0;
  std::fill(map_.begin(), map_.end(), 0);
  map_used_ = 0;
}

int IoGen::next_ddir() {
  if (!o_.dir_write) return kRead;
  if (!o_.dir_read) return kWrite;
  return rand_dir_.below(100) < o_.rwmixread ? kRead : kWrite;
}

std::uint32_t IoGen::next_bs(int ddir) {
  const auto& split = o_.bssplit[ddir];
  if (!split.empty()) {
    std::uint64_t r = rand_bs_.below(100);
    for (const auto& e : split) {
      if (r < e.perc) return e.bs;
      r -= e.perc;
    }
    return split.back().bs;
  }
  const std::uint32_t lo = o_.min_bs[ddir], hi = o_.max_bs[ddir];
  if (lo == hi) return lo;
  // A size in [lo, hi], rounded down to a multiple of lo as fio does.
  const std::uint64_t v = lo + rand_bs_.below(hi - lo + 1);
  return static_cast<std::uint32_t>(v - v % lo);
}

void IoGen::mark(std::uint64_t block, std::uint64_t n) {
  for (std::uint64_t b = block; b < block + n && b < nblocks_; ++b) {
    std::uint64_t& w = map_[b / 64];
    const std::uint64_t bit = 1ull << (b % 64);
    if (!(w & bit)) {
      w |= bit;
      ++map_used_;
    }
  }
}

bool IoGen::random_offset(std::uint32_t bs, std::uint64_t* off) {
  const std::uint64_t last = (len_ - bs) / unit_;  // highest block an I/O of bs may start at
  std::uint64_t b = rand_off_.below(nblocks_);
  if (!map_.empty()) {
    if (map_used_ >= nblocks_) return false;
    // Taken: the next free block after it, wrapping (axmap_next_free).
    std::uint64_t tries = 0;
    while (map_[b / 64] & (1ull << (b % 64))) {
      if ((b % 64) == 0 && map_[b / 64] == ~0ull)
        b += 64;
      else
        ++b;
      if (b >= nblocks_) b = 0;
      if (++tries > nblocks_ + 64) return false;
    }
  }
  if (b > last) b = last;
  if (!map_.empty()) mark(b, (bs + unit_ - 1) / unit_);
  *off = start_ + b * unit_;
  return true;
}

bool IoGen::next_offset(int ddir, std::uint32_t bs, std::uint64_t* off) {
  if (o_.random) return random_offset(bs, off);
  std::uint64_t& pos = seq_pos_[ddir];
  if (pos + bs > len_) pos = 0;  // wrap: only time_based or io_size runs get here
  *off = start_ + pos;
  pos += bs;
  return true;
}

}  // namespace iostack::job
