// What the next I/O is: its direction (rwmixread, trims), block size (bs,
// bsrange, bssplit) and offset, the way fio's io_u.c picks them, with
// fio's generators and seeds so that a job file issues the same offsets as
// under fio: sequential streams per direction with rw=<mode>:<n> holes or
// repeats (rw_sequencer), random blocks through the random map (each block
// once per pass unless norandommap) or fio's LFSR, percentage_random, the zipf, pareto,
// normal, zoned and zoned_abs distributions, and zonemode=strided.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "job/fio_rand.hpp"
#include "job/job_options.hpp"
#include "job/rand_dist.hpp"

namespace iostack::job {

class IoGen {
 public:
  // I/O falls in [start, start + len) of the device. `seed` seeds every
  // generator when the job is not repeatable (randrepeat=0, no randseed).
  IoGen(const JobOptions& o, std::uint64_t start, std::uint64_t len, std::uint64_t seed);

  // fio's seeding for job thread `thread_number` (1-based, fio's
  // td->thread_number) on `filename` of `dev_size` bytes.
  void seed_fio(int thread_number, std::string_view filename, std::uint64_t dev_size);

  int next_ddir();
  // The next I/O of `ddir`: its offset, then its size (fio's order). False
  // when no offset is left: a random pass is complete (the random map is
  // full), or a sequential stream ran past the job's range.
  bool next(int ddir, std::uint32_t* bs, std::uint64_t* off);
  // After next() failed: the offset fio's io_u was left holding (relative
  // when it lay beyond the job's range, as fio's get_next_offset leaves it)
  // into *off; nothing when no offset had been drawn.
  void refused_offset(std::uint64_t* off) const {
    if (refused_ != ~0ull) *off = refused_;
  }
  // The two halves alone: a size drawn as if at the range's start, and the
  // offset of an I/O of `bs` bytes.
  std::uint32_t next_bs(int ddir);
  bool next_offset(int ddir, std::uint32_t bs, std::uint64_t* off);
  // Starts a new pass (fio_file_reset): streams back to the start, map
  // cleared; a new loop (io_size beyond size) also reseeds, as fio does,
  // and the direction of the I/O that ended the pass is to be drawn again.
  void reset(bool new_loop = false);

  // fio's file_randommap(): the job keeps a random map (for zoned
  // distributions too, though offsets are drawn without it). Writes are
  // then verified in the order written, else by offset.
  bool random_map() const {
    return o_.random && !o_.norandommap && !use_lfsr_ &&
           (o_.random_distribution == RandDist::kRandom ||
            o_.random_distribution == RandDist::kZoned ||
            o_.random_distribution == RandDist::kZonedAbs);
  }

  std::uint64_t start() const { return start_; }
  std::uint64_t len() const { return len_; }

 private:
  void seed_all(int thread_number, std::string_view filename, bool repeatable);
  bool seq_offset(int ddir, std::uint64_t* rel);
  bool rand_block(int ddir, std::uint64_t* b);
  bool uniform_block(int ddir, std::uint64_t lastb, std::uint64_t* b);
  std::uint64_t last_block(int ddir) const;
  bool map_free(std::uint64_t b) const;
  bool map_next_free(std::uint64_t b, std::uint64_t* out) const;
  void mark(std::uint64_t block, std::uint64_t nblocks);
  void strided_zone(int ddir);
  bool pick_offset(int ddir, bool* marks, std::uint64_t* at);
  std::uint32_t pick_bs(int ddir, std::uint64_t at);
  bool finish(int ddir, bool marks, std::uint64_t at, std::uint32_t* bs);

  const JobOptions& o_;
  std::uint64_t start_, len_;
  std::uint64_t seed_;
  std::uint64_t dev_size_;
  int tn_ = 1;
  std::string filename_;
  std::uint64_t file_offset_;  // fio's f->file_offset: moves in strided zones
  std::uint32_t unit_;         // rw_min_bs: the random map's block
  std::uint32_t ba_[kRwDirs];  // random offsets are multiples of this
  std::uint64_t nblocks_;
  bool use_map_ = false;

  FioRand rand_mix_, rand_off_, rand_zone_;
  FioRand rand_bs_[kRwDirs], rand_seq_[kRwDirs];
  std::vector<BsSplitEntry> bssplit_[kRwDirs];  // by ascending weight
  DistGen dist_;
  FioLfsr lfsr_;
  bool use_lfsr_ = false;
  std::uint64_t lfsr_seed_ = 0;
  std::uint64_t issues_[kRwDirs] = {0, 0, 0};
  int mix_ddir_ = kRead;
  int last_ddir_ = kRead;
  std::uint64_t mix_issues_ = 0;
  unsigned seq_nr_left_ = 1;
  std::uint64_t last_pos_[kRwDirs] = {0, 0, 0};  // absolute, end of the last I/O
  std::uint64_t last_start_[kRwDirs] = {~0ull, ~0ull, ~0ull};
  std::uint64_t zone_bytes_ = 0;
  std::uint64_t refused_ = ~0ull;
  // zoned distributions: for each of the 100 access percentiles, the
  // zone's [prev, end) in percent (zoned) or bytes (zoned_abs).
  struct ZoneIndex {
    std::uint64_t prev = 0, end = 0;
  };
  std::vector<ZoneIndex> zone_index_[kRwDirs];

  std::vector<std::uint64_t> map_;  // one bit per unit-sized block
  std::uint64_t map_used_ = 0;
};

}  // namespace iostack::job
