// The offset, size and direction of each next I/O, as fio's io_u.c.
#include "job/io_gen.hpp"

#include <algorithm>

namespace iostack::job {
namespace {

bool randtrimwrite(const JobOptions& o) { return o.dir_trim && o.dir_write && o.random; }
bool trimwrite(const JobOptions& o) { return o.dir_trim && o.dir_write; }

}  // namespace

IoGen::IoGen(const JobOptions& o, std::uint64_t start, std::uint64_t len, std::uint64_t seed)
    : o_(o), start_(start), len_(len), seed_(seed), dev_size_(start + len), file_offset_(start) {
  // fio's rw_min_bs: the smallest block size of all three directions,
  // whether the job uses them or not.
  unit_ = std::min({o.min_bs[kRead], o.min_bs[kWrite], o.min_bs[kTrim]});
  if (!unit_) unit_ = 512;
  nblocks_ = (o.zone_strided && o.zone_range ? o.zone_range : len_) / unit_;
  // Any distribution but random goes without a map (fio sets
  // norandommap), and so does the LFSR, which gives each block once itself.
  use_lfsr_ = o.random && o.random_generator == RandGen::kLfsr;
  use_map_ = o.random && o.random_distribution == RandDist::kRandom && !o.norandommap && !use_lfsr_;
  if (use_map_) map_.assign((nblocks_ + 63) / 64, 0);
  // zoned: the zone of each access percentile (fio's zone_state_index).
  for (int d = 0; d < kRwDirs; ++d) {
    if (o.zone_split[d].empty()) continue;
    zone_index_[d].resize(100);
    unsigned aprev = 0;
    std::uint64_t sprev = 0;
    const bool abs = o.random_distribution == RandDist::kZonedAbs;
    for (const ZoneSplit& z : o.zone_split[d]) {
      const std::uint64_t ext = abs ? z.size : z.size_perc;
      for (unsigned j = aprev; j < aprev + z.access_perc && j < 100; ++j)
        zone_index_[d][j] = ZoneIndex{sprev, sprev + ext};
      aprev += z.access_perc;
      sprev += ext;
    }
  }
  for (int d = 0; d < kRwDirs; ++d) {
    // blockalign: random offsets in its units (only for random jobs).
    ba_[d] = o.ba[d] && o.random ? o.ba[d] : o.min_bs[d];
    last_pos_[d] = file_offset_;
    // fio walks bssplit entries by ascending weight.
    bssplit_[d] = o.bssplit[d];
    std::stable_sort(bssplit_[d].begin(), bssplit_[d].end(),
                     [](const auto& x, const auto& y) { return x.perc < y.perc; });
  }
  seed_fio(1, "", dev_size_);
}

void IoGen::seed_fio(int tn, std::string_view filename, std::uint64_t dev_size) {
  tn_ = tn;
  filename_ = filename;
  dev_size_ = std::max(dev_size, start_ + len_);
  const JobOptions& o = o_;
  // fio seeds before it lets randseed= override randrepeat, so with both
  // the block offsets still come from FIO_RANDSEED; neither: entropy.
  const bool repeat = o.randrepeat && !o.randseed_set;
  const bool seeded = o.randrepeat || o.randseed_set;
  auto slot = [&](int s) -> std::uint64_t {
    if (seeded) return fio_rand_seed(o.randseed, tn, s);
    return fio_hash_u64(seed_ + static_cast<std::uint64_t>(s) * 0x9e3779b97f4a7c15ull);
  };
  const bool use64 = o.random_generator == RandGen::kTausworthe64;
  std::uint64_t bs_seed[kRwDirs] = {slot(kSeedBs), slot(kSeedBs1), slot(kSeedBs2)};
  // Verifying jobs read back the sizes they wrote; trimwrite writes what it trimmed.
  if (o.verify != VerifyType::kNone) bs_seed[kWrite] = bs_seed[kRead];
  if (trimwrite(o)) bs_seed[kTrim] = bs_seed[kWrite];
  for (int d = 0; d < kRwDirs; ++d) {
    rand_bs_[d].seed(bs_seed[d], use64);
    rand_seq_[d].seed(slot(kSeedSeqRandRead), false);
  }
  rand_mix_.seed(slot(kSeedMix), false);
  rand_zone_.seed(slot(kSeedZone), false);
  const std::uint64_t block_seed =
      o.randrepeat ? kFioRandSeed * static_cast<std::uint64_t>(tn) : slot(kSeedBlock);
  rand_off_.seed(block_seed, use64);
  if (use_lfsr_) {
    lfsr_seed_ = block_seed;
    use_lfsr_ = lfsr_.init(nblocks_, lfsr_seed_);
  }
  const RandDist rd = o.random_distribution;
  if (rd == RandDist::kZipf || rd == RandDist::kPareto || rd == RandDist::kNormal) {
    // One range per smallest block; seeded from the file's name.
    const std::uint32_t range = std::min(o.min_bs[kRead], o.min_bs[kWrite]);
    const std::uint64_t fsize = std::min(dev_size_, len_);
    const std::uint32_t s = repeat ? fio_jhash(filename, 0) * static_cast<std::uint32_t>(tn)
                                   : static_cast<std::uint32_t>(block_seed);
    dist_.init(rd, (fsize + range - 1) / range, o.dist_param, o.dist_center, s);
  }
}

void IoGen::reset(bool new_loop) {
  // A new loop over the range (io_size beyond size) starts the repeatable
  // generators afresh, as fio's clear_io_state does.
  // The direction mix keeps its counts, less the I/O that found no offset:
  // fio draws that one's direction again.
  if (new_loop && issues_[last_ddir_]) --issues_[last_ddir_];
  if (new_loop && o_.randrepeat) seed_fio(tn_, filename_, dev_size_);
  file_offset_ = start_;
  zone_bytes_ = 0;
  for (int d = 0; d < kRwDirs; ++d) {
    last_pos_[d] = file_offset_;
    last_start_[d] = ~0ull;
  }
  std::fill(map_.begin(), map_.end(), 0);
  map_used_ = 0;
  if (use_lfsr_) lfsr_.reset(lfsr_seed_);
}

int IoGen::next_ddir() {
  const JobOptions& o = o_;
  int d;
  if (trimwrite(o)) {
    // A trim, then the write of the same blocks.
    d = last_start_[kWrite] == last_start_[kTrim] ? kTrim : kWrite;
  } else if (o.dir_read && o.dir_write) {
    // fio's get_rw_ddir: a direction is kept for a number of I/Os that
    // keeps the mix, then drawn again.
    if (issues_[mix_ddir_] >= mix_issues_) {
      const int nd = rand_mix_.between(1, 100) <= o.rwmixread ? kRead : kWrite;
      if (nd != mix_ddir_) {
        const unsigned other = mix_ddir_ == kRead ? 100 - o.rwmixread : o.rwmixread;
        mix_issues_ = issues_[mix_ddir_] * other / 100;
      }
      mix_ddir_ = nd;
    }
    d = mix_ddir_;
  } else if (o.dir_write) {
    d = kWrite;
  } else if (o.dir_trim) {
    d = kTrim;
  } else {
    d = kRead;
  }
  ++issues_[d];
  last_ddir_ = d;
  return d;
}

std::uint32_t IoGen::next_bs(int ddir) { return pick_bs(ddir, start_); }

std::uint64_t IoGen::last_block(int ddir) const {
  std::uint64_t max = std::min(len_, dev_size_);
  if (o_.zone_strided && o_.zone_range) max = o_.zone_range;
  if (o_.min_bs[ddir] > ba_[ddir]) max -= o_.min_bs[ddir] - ba_[ddir];
  return max / ba_[ddir];
}

bool IoGen::map_free(std::uint64_t b) const {
  return b >= nblocks_ || !(map_[b / 64] & (1ull << (b % 64)));
}

// axmap_next_free: the first free block after b, wrapping to the start.
bool IoGen::map_next_free(std::uint64_t b, std::uint64_t* out) const {
  if (b >= nblocks_ || map_used_ >= nblocks_) return false;
  std::uint64_t i = b + 1 == nblocks_ ? 0 : b + 1;
  for (std::uint64_t n = 0; n <= nblocks_ + 64; ++n) {
    const std::uint64_t w = map_[i / 64];
    if (w == ~0ull) {
      i = (i / 64 + 1) * 64;
    } else if (!(w & (1ull << (i % 64)))) {
      *out = i;
      return true;
    } else {
      ++i;
    }
    if (i >= nblocks_) i = 0;
  }
  return false;
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

bool IoGen::uniform_block(int /*ddir*/, std::uint64_t lastb, std::uint64_t* b) {
  if (use_lfsr_) return lfsr_.next(b);
  const double r = static_cast<double>(rand_off_.next());
  *b = static_cast<std::uint64_t>(static_cast<double>(lastb) *
                                  (r / (static_cast<double>(rand_off_.max()) + 1.0)));
  if (!use_map_ || map_free(*b)) return true;
  return map_next_free(*b, b);
}

bool IoGen::rand_block(int ddir, std::uint64_t* b) {
  const RandDist rd = o_.random_distribution;
  if (rd == RandDist::kZipf || rd == RandDist::kPareto || rd == RandDist::kNormal) {
    *b = dist_.next();
    return true;
  }
  const std::uint64_t lastb = last_block(ddir);
  if (!lastb) return false;
  if (zone_index_[ddir].empty()) return uniform_block(ddir, lastb, b);
  const ZoneIndex& z = zone_index_[ddir][rand_zone_.between(1, 100) - 1];
  if (rd == RandDist::kZoned) {
    const std::uint64_t off = z.prev * lastb / 100;
    if (!uniform_block(ddir, lastb * (z.end - z.prev) / 100, b)) return false;
    *b += off;
    return true;
  }
  const std::uint64_t ba = ba_[ddir];
  const std::uint64_t first = z.prev / ba, end = z.end / ba;
  if (end > lastb) return false;  // zoned_abs zones beyond the range (checked up front)
  if (!uniform_block(ddir, end - first, b)) return false;
  *b += first;
  return true;
}

// fio's get_next_seq_offset, quirks included: a backwards stream that
// reaches the start restarts from the end of the range, and holes that run
// past the device start again from the job's offset.
bool IoGen::seq_offset(int ddir, std::uint64_t* rel) {
  std::uint64_t& lp = last_pos_[ddir];
  if (lp >= len_ + start_ && o_.time_based) lp = file_offset_;
  if (lp >= dev_size_) return false;
  const std::uint64_t end = std::min(dev_size_, len_);
  if (lp == file_offset_ && file_offset_ && o_.seq_add < 0) lp = end;
  std::uint64_t pos = lp - file_offset_;
  if (pos && o_.seq_add) {
    pos += static_cast<std::uint64_t>(o_.seq_add);
    if (pos >= dev_size_)
      pos = o_.seq_add > 0 ? file_offset_ : end + static_cast<std::uint64_t>(o_.seq_add);
  }
  *rel = pos;
  return true;
}

// fio's setup_strided_zone_mode: zonesize bytes in each zone, then the
// next zone zonerange + zoneskip further on, wrapping at the device's end.
void IoGen::strided_zone(int ddir) {
  if (zone_bytes_ >= o_.zone_size) {
    zone_bytes_ = 0;
    file_offset_ += o_.zone_range + o_.zone_skip;
    if (file_offset_ >= dev_size_) file_offset_ = start_;
    last_pos_[ddir] = file_offset_;
  }
  if (last_pos_[ddir] >= file_offset_ + o_.zone_range) last_pos_[ddir] = file_offset_;
  if (zone_bytes_ % o_.zone_range == 0) {
    for (int d = 0; d < kRwDirs; ++d) {
      last_pos_[d] = file_offset_;
      last_start_[d] = ~0ull;
    }
    std::fill(map_.begin(), map_.end(), 0);
    map_used_ = 0;
  }
}

// fio's get_next_offset: where the next I/O of `ddir` starts (absolute);
// *marks when it was drawn at random and so takes blocks from the map.
bool IoGen::pick_offset(int ddir, bool* marks, std::uint64_t* at_out) {
  const JobOptions& o = o_;
  if (o.zone_strided && o.zone_size && o.zone_range) strided_zone(ddir);
  bool hit = false;
  if (o.seq_nr && !--seq_nr_left_) {
    hit = true;
    seq_nr_left_ = o.seq_nr;
  }
  std::uint64_t rel = ~0ull, b = ~0ull;
  bool ok;
  *marks = false;
  if (randtrimwrite(o) && ddir == kWrite) {
    rel = last_start_[kTrim] - file_offset_;
    ok = last_start_[kTrim] != ~0ull;
  } else if (hit) {
    if (o.random) {
      const unsigned p = o.perc_rand[ddir];
      if (p == 100 || rand_seq_[ddir].between(1, 100) <= p) {
        ok = rand_block(ddir, &b);
        *marks = true;
      } else {
        ok = seq_offset(ddir, &rel) || rand_block(ddir, &b);
      }
    } else {
      ok = seq_offset(ddir, &rel);
    }
  } else if (o.rw_seq == 0) {
    ok = seq_offset(ddir, &rel) || rand_block(ddir, &b);
  } else {
    rel = last_start_[ddir] != ~0ull ? last_start_[ddir] - file_offset_ : 0;
    ok = true;
  }
  if (!ok) return false;
  std::uint64_t at = rel != ~0ull ? rel : b * ba_[ddir];
  refused_ = at;
  if (at >= len_) return false;
  at += file_offset_;
  refused_ = at;
  if (at >= dev_size_) return false;
  // randtrimwrite: a new trim at the offset just trimmed and written must
  // still be followed by its write.
  if (randtrimwrite(o) && ddir == kTrim && last_start_[kTrim] == at) --last_start_[kWrite];
  *at_out = at;
  return true;
}

// fio's get_next_buflen: redrawn until the I/O fits in the job's range.
std::uint32_t IoGen::pick_bs(int ddir, std::uint64_t at) {
  if (randtrimwrite(o_) && ddir == kWrite && last_start_[kTrim] != ~0ull)
    return static_cast<std::uint32_t>(last_pos_[kTrim] - last_start_[kTrim]);
  const std::uint64_t lo = o_.min_bs[ddir], hi = o_.max_bs[ddir];
  if (lo == hi) return static_cast<std::uint32_t>(lo);
  auto fits = [&](std::uint64_t n) { return at + n <= len_ + start_; };
  if (!fits(lo)) return 0;
  FioRand& r = rand_bs_[ddir];
  std::uint64_t len;
  do {
    const std::uint64_t v = r.next();
    len = 0;
    if (bssplit_[ddir].empty()) {
      len = lo + static_cast<std::uint64_t>(static_cast<double>(hi) *
                                            (static_cast<double>(v) / (r.max() + 1.0)));
    } else {
      std::uint64_t perc = 0;
      for (const auto& e : bssplit_[ddir]) {
        len = e.bs;
        perc += e.perc;
        if (v / perc <= r.max() / 100 && fits(len)) break;
      }
    }
    if ((lo & (lo - 1)) == 0)
      len &= ~(lo - 1);
    else
      len -= len % lo;
    len = std::min(len, hi);
  } while (!fits(len));
  return static_cast<std::uint32_t>(len);
}

// The end of fill_io_u: the map takes the blocks (a run cut short at the
// first block already done shortens the I/O, as axmap_set_nr does), and
// the stream moves on.
bool IoGen::finish(int ddir, bool marks, std::uint64_t at, std::uint32_t* bs) {
  if (at + *bs > dev_size_) return false;
  if (marks && use_map_) {
    // In the direction's own block size, on a map of rw_min_bs blocks (a
    // fio quirk when the directions' sizes differ).
    const std::uint64_t mbs = o_.min_bs[ddir];
    const std::uint64_t first = (at - file_offset_) / mbs;
    const std::uint64_t n = (*bs + mbs - 1) / mbs;
    std::uint64_t set = 0;
    while (set < n && first + set < nblocks_ && map_free(first + set)) {
      mark(first + set, 1);
      ++set;
    }
    if (set && set * mbs < *bs) *bs = static_cast<std::uint32_t>(set * mbs);
  }
  last_start_[ddir] = at;
  last_pos_[ddir] = at + *bs;
  zone_bytes_ += *bs;
  return true;
}

bool IoGen::next(int ddir, std::uint32_t* bs, std::uint64_t* off) {
  bool marks;
  std::uint64_t at;
  refused_ = ~0ull;
  if (!pick_offset(ddir, &marks, &at)) return false;
  *bs = pick_bs(ddir, at);
  if (!*bs || !finish(ddir, marks, at, bs)) return false;
  *off = at;
  return true;
}

bool IoGen::next_offset(int ddir, std::uint32_t bs, std::uint64_t* off) {
  bool marks;
  std::uint64_t at;
  if (!pick_offset(ddir, &marks, &at) || !finish(ddir, marks, at, &bs)) return false;
  *off = at;
  return true;
}

}  // namespace iostack::job
