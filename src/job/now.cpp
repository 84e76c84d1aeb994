// fio's clock sources for the job's timestamps: the choice and the system
// calls' sources (the TSC's scale is core/tsc.cpp's).
#include "job/now.hpp"

#include <sys/time.h>

namespace iostack::job {

namespace detail {
std::atomic<ClockSource> g_clock_source{ClockSource::kClockGettime};

std::uint64_t slow_now_ns(ClockSource s) {
  if (s == ClockSource::kGettimeofday) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return static_cast<std::uint64_t>(tv.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(tv.tv_usec) * 1000ull;
  }
  return core::clock_ns(CLOCK_MONOTONIC);
}
}  // namespace detail

bool set_clock_source(ClockSource s) {
  if (s == ClockSource::kCpu && !core::tsc_start()) return false;
  detail::g_clock_source.store(s, std::memory_order_release);
  return true;
}

ClockSource clock_source() { return detail::g_clock_source.load(std::memory_order_acquire); }

bool parse_clock_source(std::string_view name, ClockSource* out) {
  if (name == "cpu")
    *out = ClockSource::kCpu;
  else if (name == "clock_gettime")
    *out = ClockSource::kClockGettime;
  else if (name == "gettimeofday")
    *out = ClockSource::kGettimeofday;
  else
    return false;
  return true;
}

}  // namespace iostack::job
