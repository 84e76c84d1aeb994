// The TSC's calibration against CLOCK_MONOTONIC and its periodic re-anchoring.
#include "core/tsc.hpp"

#include <fstream>
#include <mutex>
#include <string>

#include "core/mutex.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace iostack::core {

namespace detail {
TscState g_tsc;
std::atomic<int> g_monotonic{kUndecided};
}  // namespace detail

std::uint64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t tsc_mult(std::uint64_t ns, std::uint64_t cycles) {
  return static_cast<std::uint64_t>((static_cast<u128>(ns) << 32) / cycles);
}

TscScale tsc_reanchor(const TscScale& cur, std::uint64_t tsc, std::uint64_t mono,
                      std::uint64_t rate_mult, std::uint64_t period_ns) {
  const std::uint64_t now = tsc_scale_ns(cur, tsc);
  // Behind by more than a period (the process read no time for long, or the
  // rate was far off): step forward, which no reader can see as going back.
  if (mono > now + period_ns) return {tsc, mono, rate_mult};
  // Cover period_ns plus the error in the cycles of one period at the true
  // rate, so that the scale meets CLOCK_MONOTONIC at the period's end.
  const std::uint64_t cycles = tsc_mult(period_ns, rate_mult ? rate_mult : 1);
  std::uint64_t target =
      mono >= now ? period_ns + (mono - now) : period_ns - std::min(period_ns / 2, now - mono);
  if (target > 2 * period_ns) target = 2 * period_ns;
  return {tsc, now, cycles ? tsc_mult(target, cycles) : rate_mult};
}

bool tsc_invariant() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  return __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#else
  return false;
#endif
}

bool tsc_usable(bool invariant, std::string_view kernel_clocksource) {
  return invariant && kernel_clocksource == "tsc";
}

namespace {

constexpr std::uint64_t kPeriodNs = 100'000'000;
// The span of the calibration's two pairs.
constexpr std::uint64_t kCalibrationNs = 10'000'000;

#if defined(__x86_64__)
// What the re-anchoring thread keeps: the last (TSC, CLOCK_MONOTONIC) pair
// measured, from which the next one gives the counter's true rate. Before
// the scale is ready, the calibration's first pair.
struct Anchor {
  SpinLock lock;
  std::uint64_t tsc GUARDED_BY(lock) = 0;
  std::uint64_t mono GUARDED_BY(lock) = 0;
  std::uint64_t rate GUARDED_BY(lock) = 0;
  bool ready GUARDED_BY(lock) = false;  // the scale is published
};
Anchor g_anchor;
// The first pair's CLOCK_MONOTONIC time, for readers that look without the
// lock whether 10 ms have passed (0: not taken yet).
std::atomic<std::uint64_t> g_calibration_start{0};

// One (TSC, CLOCK_MONOTONIC) pair: the TSC as the midpoint of two reads
// around the clock's, from the tightest of a few tries, so that a thread
// preempted in between does not skew the scale.
void sample(std::uint64_t* tsc, std::uint64_t* ns) {
  std::uint64_t best = ~0ull;
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t a = __rdtsc();
    const std::uint64_t n = clock_ns(CLOCK_MONOTONIC);
    const std::uint64_t b = __rdtsc();
    if (b - a < best) {
      best = b - a;
      *tsc = a + (b - a) / 2;
      *ns = n;
    }
  }
}

// Publishes `s` (re-anchor after one period at `rate`) in the slot readers
// are not reading, then makes it current. Called by one thread at a time.
void publish(const TscScale& s, std::uint64_t rate) {
  const std::uint64_t seq = detail::g_tsc.seq.load(std::memory_order_relaxed);
  detail::TscSlot& sl = detail::g_tsc.slot[(seq + 1) & 1];
  // Release: a reader still on this slot that sees one of these values also
  // sees the previous bump of seq, and reads again.
  sl.tsc0.store(s.tsc0, std::memory_order_release);
  sl.ns0.store(s.ns0, std::memory_order_release);
  sl.mult.store(s.mult, std::memory_order_release);
  sl.next.store(s.tsc0 + tsc_mult(kPeriodNs, rate), std::memory_order_release);
  detail::g_tsc.seq.store(seq + 1, std::memory_order_release);
}

TscScale current() {
  std::uint64_t next;
  return detail::current_scale(&next);
}

// The calibration's first pair, unless taken already.
void take_first_pair() REQUIRES(g_anchor.lock) {
  if (g_anchor.mono) return;
  sample(&g_anchor.tsc, &g_anchor.mono);
  g_calibration_start.store(g_anchor.mono, std::memory_order_release);
}

// The second pair, if it comes 10 ms or more after the first: the rate
// between them, and the scale published from it. True once the scale is
// ready.
bool try_finish_calibration() REQUIRES(g_anchor.lock) {
  if (g_anchor.ready) return true;
  std::uint64_t tsc1 = 0, mono1 = 0;
  sample(&tsc1, &mono1);
  if (mono1 - g_anchor.mono < kCalibrationNs || tsc1 <= g_anchor.tsc) return false;
  g_anchor.rate = tsc_mult(mono1 - g_anchor.mono, tsc1 - g_anchor.tsc);
  g_anchor.tsc = tsc1;
  g_anchor.mono = mono1;
  publish({tsc1, mono1, g_anchor.rate}, g_anchor.rate);
  g_anchor.ready = true;
  return true;
}
#endif

std::string kernel_clocksource() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  f >> name;
  return name;
}

}  // namespace

#if defined(__x86_64__)
std::uint64_t detail::tsc_reanchor_now() {
  // Another thread is at it: this reading goes on with the scale it has.
  if (!g_anchor.lock.try_lock()) return thread_monotonic(tsc_scale_ns(current(), __rdtsc()));
  std::uint64_t tsc1 = 0, mono1 = 0;
  sample(&tsc1, &mono1);
  // The rate over at least half a period since the last pair kept: over a
  // shorter span the samples' jitter would dominate it.
  if (tsc1 > g_anchor.tsc && mono1 >= g_anchor.mono + kPeriodNs / 2) {
    g_anchor.rate = tsc_mult(mono1 - g_anchor.mono, tsc1 - g_anchor.tsc);
    g_anchor.tsc = tsc1;
    g_anchor.mono = mono1;
  }
  // Anchored at the counter just before publishing (CLOCK_MONOTONIC carried
  // there at the rate), so that a reader still on the old scale past the
  // anchor is within a few cycles of it.
  const std::uint64_t tsc2 = __rdtsc();
  const TscScale at_sample{tsc1, mono1, g_anchor.rate};
  const TscScale next =
      tsc_reanchor(current(), tsc2, tsc_scale_ns(at_sample, tsc2), g_anchor.rate, kPeriodNs);
  publish(next, g_anchor.rate);
  g_anchor.lock.unlock();
  return thread_monotonic(tsc_scale_ns(next, __rdtsc()));
}
#endif

bool tsc_in_step() {
#if defined(__x86_64__)
  static const bool in_step = tsc_usable(tsc_invariant(), kernel_clocksource());
  return in_step;
#else
  return false;
#endif
}

bool tsc_start() {
#if defined(__x86_64__)
  if (!tsc_invariant()) return false;
  LockGuard l(g_anchor.lock);
  take_first_pair();
  while (!try_finish_calibration()) {
  }
  return true;
#else
  return false;
#endif
}

std::uint64_t detail::monotonic_slow() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__x86_64__)
    if (tsc_usable(tsc_invariant(), kernel_clocksource())) {
      {
        LockGuard l(g_anchor.lock);
        take_first_pair();
      }
      g_monotonic.store(kCalibrating, std::memory_order_release);
      return;
    }
#endif
    g_monotonic.store(kClockGettime, std::memory_order_release);
  });
  const std::uint64_t mono = clock_ns(CLOCK_MONOTONIC);
#if defined(__x86_64__)
  if (g_monotonic.load(std::memory_order_acquire) == kCalibrating) {
    // Past 10 ms one reader takes the second pair and switches everyone
    // (the others go on with clock_gettime meanwhile).
    if (mono >= g_calibration_start.load(std::memory_order_acquire) + kCalibrationNs &&
        g_anchor.lock.try_lock()) {
      const bool ready = try_finish_calibration();
      g_anchor.lock.unlock();
      if (ready) g_monotonic.store(kTsc, std::memory_order_release);
    }
    if (g_monotonic.load(std::memory_order_acquire) == kTsc) return tsc_now_ns();
  }
  // Readings before the switch count for this thread's never going back.
  return thread_monotonic(mono);
#else
  return mono;
#endif
}

bool monotonic_uses_tsc() {
  return detail::g_monotonic.load(std::memory_order_acquire) == detail::kTsc;
}

}  // namespace iostack::core
