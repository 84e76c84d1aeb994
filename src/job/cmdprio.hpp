// Per-command I/O priorities for the io_uring and libaio engines, as fio's
// engines/cmdprio.c decides them: cmdprio_percentage of a direction's I/Os
// (or, with cmdprio_bssplit, a percentage per block size) carry the
// priority cmdprio_class/cmdprio give, the rest the job's own.
#pragma once

#include <cstdint>
#include <vector>

#include "job/fio_rand.hpp"
#include "job/job_options.hpp"

namespace iostack::job {

class CmdPrio {
 public:
  // fio_cmdprio_init: the mode from the options; directions the job does
  // not do get nothing. `seed` seeds the choices (fio's prio_state, seed
  // slot FIO_RAND_PRIO_CMDS).
  void init(const JobOptions& o, std::uint64_t seed);
  bool active() const { return mode_ != Mode::kNone; }
  // fio_cmdprio_set_ioprio: true with *ioprio when this read or write of
  // `len` bytes is one of those to prioritise.
  bool pick(int ddir, std::uint32_t len, std::uint16_t* ioprio);

 private:
  enum class Mode { kNone, kPerc, kBssplit };
  struct Entry {
    std::uint32_t bs = 0;
    std::uint32_t perc = 0;
    std::uint16_t ioprio = 0;
  };
  Mode mode_ = Mode::kNone;
  unsigned perc_[2] = {0, 0};
  std::uint16_t prio_[2] = {0, 0};
  std::vector<Entry> split_[2];  // sorted by block size
  FioRand rand_;
};

}  // namespace iostack::job
