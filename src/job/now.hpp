// Wall time for latency measurement: CLOCK_MONOTONIC in nanoseconds, the
// clock the devices' own statistics use.
#pragma once

#include <time.h>

#include <cstdint>

namespace iostack::job {

inline std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace iostack::job
