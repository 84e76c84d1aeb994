// What a job replays (fio's io_piece list from read_iolog): each I/O with
// the time it is due, after replay_scale, replay_align, replay_skip and the
// speed are applied, and offsets moved onto the target device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "job/trace_io.hpp"

namespace iostack::job {

struct ReplayIo {
  std::uint64_t due_ns = 0;  // from the start of the replay
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  int ddir = kRead;  // kRead, kWrite, kTrim or kSync
};

struct ReplaySettings {
  bool no_stall = false;    // replay_no_stall, --afap: everything due at once, in order
  double speed = 1.0;       // --speed; replay_time_scale=N is N/100
  std::uint64_t scale = 0;  // replay_scale: offsets divided by this
  std::uint64_t align = 0;  // replay_align: offsets rounded down to this power of 2
  bool align_len = false;   // blktrace traces: lengths rounded up to replay_align (fio)
  unsigned skip = 0;        // replay_skip: bit (1 << ddir) drops that direction
};

// The I/Os of trace process `proc` (every process when proc < 0), in trace
// order. Due times are the trace's times divided by the speed, made
// non-decreasing so that order is kept.
std::vector<ReplayIo> make_schedule(const Trace& t, long proc, const ReplaySettings& s);

// Puts every I/O inside [start, start + size) of the device: an offset that
// would end beyond size wraps modulo size, rounded down to `align` (the
// logical block size), and moves back so the I/O fits. False with one line
// naming `what` when an I/O is larger than the device.
bool remap_offsets(std::vector<ReplayIo>* ios, std::uint64_t start, std::uint64_t size,
                   std::uint32_t align, const std::string& what, std::string* err);
// The same for one I/O of `len` <= size bytes at `offset`.
std::uint64_t remap_offset(std::uint64_t offset, std::uint32_t len, std::uint64_t start,
                           std::uint64_t size, std::uint32_t align);

// Largest length per direction (read, write, trim), for the I/O buffers.
void max_lengths(const std::vector<ReplayIo>& ios, std::uint32_t out[kRwDirs]);

}  // namespace iostack::job
