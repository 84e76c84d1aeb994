// What the next I/O is: its direction (rwmixread), block size (bs, bsrange,
// bssplit) and offset (sequential per direction, or random with fio's
// random map so that each block is touched once per pass unless
// norandommap is set).
#pragma once

#include <cstdint>
#include <vector>

#include "job/job_options.hpp"
#include "job/rand.hpp"

namespace iostack::job {

class IoGen {
 public:
  // I/O falls in [start, start + len) of the device.
  IoGen(const JobOptions& o, std::uint64_t start, std::uint64_t len, std::uint64_t seed);

  int next_ddir();
  std::uint32_t next_bs(int ddir);
  // False when the random map has no free block left (a pass is complete).
  bool next_offset(int ddir, std::uint32_t bs, std::uint64_t* off);
  // Starts a new pass: sequential streams back to the start, map cleared.
  void reset();

  std::uint64_t start() const { return start_; }
  std::uint64_t len() const { return len_; }

 private:
  bool random_offset(std::uint32_t bs, std::uint64_t* off);
  void mark(std::uint64_t block, std::uint64_t nblocks);

  const JobOptions& o_;
  std::uint64_t start_, len_;
  std::uint32_t unit_;  // offset granularity: the smallest block size
  std::uint64_t nblocks_;
  Rand rand_dir_, rand_bs_, rand_off_;
  std::uint64_t seq_pos_[kRwDirs] = {0, 0, 0};
  std::vector<std::uint64_t> map_;  // one bit per unit-sized block
  std::uint64_t map_used_ = 0;
};

}  // namespace iostack::job
