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
std::atomic<bool> g_monotonic_tsc{false};
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

#if defined(__x86_64__)
// What the re-anchoring thread keeps: the last (TSC, CLOCK_MONOTONIC) pair
// measured, from which the next one gives the counter's true rate.
struct Anchor {
  SpinLock lock;
  std::uint64_t tsc GUARDED_BY(lock) = 0;
  std::uint64_t mono GUARDED_BY(lock) = 0;
  std::uint64_t rate GUARDED_BY(lock) = 0;
};
Anchor g_anchor;

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

bool calibrate() {
  constexpr std::uint64_t kSpanNs = 10'000'000;
  std::uint64_t tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
  sample(&tsc0, &ns0);
  do sample(&tsc1, &ns1);
  while (ns1 - ns0 < kSpanNs || tsc1 <= tsc0);
  LockGuard l(g_anchor.lock);
  g_anchor.tsc = tsc1;
  g_anchor.mono = ns1;
  g_anchor.rate = tsc_mult(ns1 - ns0, tsc1 - tsc0);
  publish({tsc1, ns1, g_anchor.rate}, g_anchor.rate);
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

bool tsc_start() {
#if defined(__x86_64__)
  if (!tsc_invariant()) return false;
  static const bool ok = calibrate();
  return ok;
#else
  return false;
#endif
}

void monotonic_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (tsc_usable(tsc_invariant(), kernel_clocksource()) && tsc_start())
      detail::g_monotonic_tsc.store(true, std::memory_order_release);
  });
}

bool monotonic_uses_tsc() { return detail::g_monotonic_tsc.load(std::memory_order_acquire); }

bool set_monotonic_tsc(bool on) {
  if (on && !(tsc_usable(tsc_invariant(), kernel_clocksource()) && tsc_start())) return false;
  detail::g_monotonic_tsc.store(on, std::memory_order_release);
  return true;
}

}  // namespace iostack::core
