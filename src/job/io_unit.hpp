// One I/O in flight (fio's struct io_u): direction, place, buffer, the
// times its latencies are measured from, and its result.
#pragma once

#include <cstdint>

namespace iostack::job {

struct IoUnit {
  unsigned index = 0;  // slot in the job's array; engines key their state on it
  int ddir = 0;        // Ddir
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  std::uint8_t* buf = nullptr;  // at least max_bs bytes, 4 KiB aligned
  std::uint64_t start_ns = 0;   // picked (fio's start_time)
  std::uint64_t issue_ns = 0;   // handed to the engine (issue_time)
  int error = 0;                // 0 or a positive errno, as fio keeps it
  bool verify_read = false;     // a read of the verify phase
  bool datasync = false;        // a kSync from fdatasync= (fio's DDIR_DATASYNC)
  std::uint16_t ioprio = 0;     // the priority its command carried (0: the job's)
  IoUnit* next = nullptr;       // completion list link
};

}  // namespace iostack::job
