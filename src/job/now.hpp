// Wall time for latency measurement, from the source fio's clocksource=
// names: the CPU's invariant TSC scaled to CLOCK_MONOTONIC's nanoseconds
// ("cpu", fio's default where the TSC is invariant: a job reads the time
// twice per I/O and the vDSO's clock_gettime costs several times a TSC
// read; the scale is core/tsc.hpp's, which the block layer's clock shares),
// clock_gettime(CLOCK_MONOTONIC), or gettimeofday.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "core/tsc.hpp"

namespace iostack::job {

enum class ClockSource : std::uint8_t { kClockGettime, kGettimeofday, kCpu };

// Whether the TSC ticks at a constant rate through frequency changes and
// idle states (CPUID 0x80000007 EDX bit 8), fio's condition for "cpu".
inline bool cpu_clock_reliable() { return core::tsc_invariant(); }
// Picks the source for the whole process (fio's clock is process-wide);
// kCpu calibrates the TSC against CLOCK_MONOTONIC, once (about 10 ms).
// Call before jobs start. Returns false (and keeps the source) if kCpu is
// asked for where the TSC is not reliable.
bool set_clock_source(ClockSource s);
ClockSource clock_source();
// "cpu", "clock_gettime", "gettimeofday" -> the source; false otherwise.
bool parse_clock_source(std::string_view name, ClockSource* out);

namespace detail {
extern std::atomic<ClockSource> g_clock_source;
std::uint64_t slow_now_ns(ClockSource s);
}  // namespace detail

inline std::uint64_t now_ns() {
  const ClockSource s = detail::g_clock_source.load(std::memory_order_acquire);
#if defined(__x86_64__)
  if (s == ClockSource::kCpu) return core::tsc_now_ns();
#endif
  return detail::slow_now_ns(s);
}

}  // namespace iostack::job
