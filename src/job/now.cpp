// fio's clock sources for the job's timestamps: TSC calibration and the
// system calls' sources.
#include "job/now.hpp"

#include <sys/time.h>

#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace iostack::job {

namespace detail {
std::atomic<ClockSource> g_clock_source{ClockSource::kClockGettime};
TscScale g_tsc{};

std::uint64_t slow_now_ns(ClockSource s) {
  if (s == ClockSource::kGettimeofday) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return static_cast<std::uint64_t>(tv.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(tv.tv_usec) * 1000ull;
  }
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace detail

namespace {

#if defined(__x86_64__)
// One (TSC, CLOCK_MONOTONIC) pair: the TSC as the midpoint of two reads
// around the clock's, from the tightest of a few tries, so that a thread
// preempted in between does not skew the scale.
void sample(std::uint64_t* tsc, std::uint64_t* ns) {
  std::uint64_t best = ~0ull;
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t a = __rdtsc();
    const std::uint64_t n = detail::slow_now_ns(ClockSource::kClockGettime);
    const std::uint64_t b = __rdtsc();
    if (b - a < best) {
      best = b - a;
      *tsc = a + (b - a) / 2;
      *ns = n;
    }
  }
}

detail::TscScale calibrate() {
  constexpr std::uint64_t kSpanNs = 10'000'000;
  detail::TscScale s{};
  sample(&s.tsc0, &s.ns0);
  std::uint64_t tsc1 = 0, ns1 = 0;
  do sample(&tsc1, &ns1);
  while (ns1 - s.ns0 < kSpanNs || tsc1 <= s.tsc0);
  s.mult =
      static_cast<std::uint64_t>((static_cast<detail::u128>(ns1 - s.ns0) << 32) / (tsc1 - s.tsc0));
  return s;
}
#endif

}  // namespace

bool cpu_clock_reliable() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  return __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#else
  return false;
#endif
}

bool set_clock_source(ClockSource s) {
#if defined(__x86_64__)
  if (s == ClockSource::kCpu) {
    if (!cpu_clock_reliable()) return false;
    // Once per process: a reader that saw kCpu may be reading the scale.
    static std::once_flag once;
    std::call_once(once, [] { detail::g_tsc = calibrate(); });
  }
#else
  if (s == ClockSource::kCpu) return false;
#endif
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
