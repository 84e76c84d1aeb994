// CLOCK_MONOTONIC read from the CPU's time-stamp counter: the calibration,
// its periodic re-anchoring, and monotonic_ns(), the process's clock read.
//
// The kernel's ktime_get() is a TSC read and a multiply; user space gets the
// same time through the vDSO's clock_gettime, which costs several times that
// (a sequence-counter loop, an ordered TSC read, the division into a
// timespec). Where the TSC is invariant and the kernel itself keeps time with
// it (its clocksource is "tsc"), monotonic_ns() scales the TSC with a
// multiplier measured against CLOCK_MONOTONIC. The measurement costs no
// reader a wait: the first reading takes a (TSC, CLOCK_MONOTONIC) pair,
// readings are clock_gettime's until one comes 10 ms or more after it, and
// that reading takes the second pair, publishes the scale and switches the
// process to it. Every 100 ms of TSC time the first reader past that point
// measures CLOCK_MONOTONIC again and re-anchors the scale without a step: it
// continues from the time it would have read, and the next period's rate is
// set so that the error it found (calibration error, NTP slewing
// CLOCK_MONOTONIC) is gone by the period's end. The scale thus stays within
// about 1 us of CLOCK_MONOTONIC while the process reads the time (after a
// long gap without reads the error found is that of the last rate over the
// gap, worked off within the next periods at most halving or doubling the
// rate); each thread's readings never go back, across the switch too.
// Elsewhere it is clock_gettime.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <string_view>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace iostack::core {

__extension__ using u128 = unsigned __int128;

// ns = ns0 + ((tsc - tsc0) * mult) >> 32 for tsc at or past tsc0; ns0 before
// it (another CPU's counter a few cycles behind never reads earlier).
struct TscScale {
  std::uint64_t tsc0 = 0;
  std::uint64_t ns0 = 0;
  std::uint64_t mult = 0;
};

inline std::uint64_t tsc_scale_ns(const TscScale& s, std::uint64_t tsc) {
  if (tsc <= s.tsc0) return s.ns0;
  return s.ns0 + static_cast<std::uint64_t>((static_cast<u128>(tsc - s.tsc0) * s.mult) >> 32);
}

// The multiplier that turns `cycles` into `ns` (both non-zero).
std::uint64_t tsc_mult(std::uint64_t ns, std::uint64_t cycles);

// The scale that follows `cur` from `tsc` on, where CLOCK_MONOTONIC read
// `mono` and the counter's true rate is `rate_mult`: continuous with `cur`
// at `tsc` (never steps back), and reaching CLOCK_MONOTONIC after `period_ns`
// (its rate at most halved or doubled to get there).
TscScale tsc_reanchor(const TscScale& cur, std::uint64_t tsc, std::uint64_t mono,
                      std::uint64_t rate_mult, std::uint64_t period_ns);

// CPUID 0x80000007 EDX bit 8: the TSC ticks at one rate through frequency
// changes and idle states (fio's condition for clocksource=cpu).
bool tsc_invariant();
// Whether monotonic_ns() may use the TSC: invariant, and the kernel's own
// clocksource (/sys/devices/system/clocksource/clocksource0/
// current_clocksource) is "tsc", so the kernel has found the CPUs' counters
// in step. Anything else (kvm-clock, hpet, no such file) keeps
// clock_gettime.
bool tsc_usable(bool invariant, std::string_view kernel_clocksource);
// tsc_usable() on this machine, looked up once: the TSC orders events of
// different CPUs.
bool tsc_in_step();

// Makes the shared scale ready now where the TSC is invariant, waiting out
// what is left of the 10 ms since the first pair (fio's clocksource=cpu
// calibrates before its jobs start); false elsewhere. tsc_now_ns() reads it
// from then on.
bool tsc_start();
// Whether monotonic_ns() has switched to the TSC (it does where tsc_usable()
// holds, once its readings span 10 ms).
bool monotonic_uses_tsc();

std::uint64_t clock_ns(clockid_t id);

namespace detail {
// The scale in two slots, `seq & 1` the current one: the one re-anchoring
// thread fills the other slot and then bumps `seq`, and a reader that saw
// `seq` move reads again (a sequence lock that never makes readers wait).
// Slot fields are stored with release and loaded with acquire (plain moves
// on x86): a reader that sees a field of a slot being refilled therefore
// sees the bump of `seq` made before it, without fences.
struct TscSlot {
  std::atomic<std::uint64_t> tsc0{0}, ns0{0}, mult{0};
  std::atomic<std::uint64_t> next{~0ull};  // the TSC at which to re-anchor
};
struct alignas(64) TscState {
  std::atomic<std::uint64_t> seq{0};
  TscSlot slot[2];
};
extern TscState g_tsc;
// monotonic_ns()'s source: not chosen yet, clock_gettime while the scale is
// measured, the scale, or clock_gettime for good.
enum MonotonicSource : int { kUndecided, kCalibrating, kTsc, kClockGettime };
extern std::atomic<int> g_monotonic;
// monotonic_ns() before the switch: chooses the source, takes the pairs, and
// returns clock_gettime's time until the scale is ready.
std::uint64_t monotonic_slow();
// The slow path past a period's end: re-anchors (unless another thread is
// doing it) and returns the time.
std::uint64_t tsc_reanchor_now();

// A reader that took the scale just before a re-anchoring was published
// can compute a few cycles past what the new scale gives a moment later:
// each thread's readings are kept from going back.
inline std::uint64_t thread_monotonic(std::uint64_t t) {
  thread_local std::uint64_t last = 0;
  if (t < last) return last;
  last = t;
  return t;
}

// The current scale, and in *next the counter at which it is due for
// re-anchoring.
inline TscScale current_scale(std::uint64_t* next) {
  for (;;) {
    const std::uint64_t seq = g_tsc.seq.load(std::memory_order_acquire);
    const TscSlot& sl = g_tsc.slot[seq & 1];
    const TscScale s{sl.tsc0.load(std::memory_order_acquire),
                     sl.ns0.load(std::memory_order_acquire),
                     sl.mult.load(std::memory_order_acquire)};
    *next = sl.next.load(std::memory_order_acquire);
    if (g_tsc.seq.load(std::memory_order_relaxed) == seq) return s;
  }
}
}  // namespace detail

#if defined(__x86_64__)
// The TSC-based time; only after tsc_start() returned true.
inline std::uint64_t tsc_now_ns() {
  std::uint64_t next;
  const TscScale s = detail::current_scale(&next);
  const std::uint64_t tsc = __rdtsc();
  if (tsc >= next) [[unlikely]]
    return detail::tsc_reanchor_now();
  return detail::thread_monotonic(tsc_scale_ns(s, tsc));
}
#endif

// monotonic_ns() read only once every earlier instruction of the thread has
// executed (RDTSCP), so that it comes after whatever the thread saw of other
// threads before; *tsc gets the counter it read, or 0 where the time is not
// the TSC's.
inline std::uint64_t monotonic_ns_ordered(std::uint64_t* tsc);

// CLOCK_MONOTONIC's time in nanoseconds, from the TSC where it is usable.
inline std::uint64_t monotonic_ns() {
  const int source = detail::g_monotonic.load(std::memory_order_acquire);
#if defined(__x86_64__)
  if (source == detail::kTsc) [[likely]]
    return tsc_now_ns();
#endif
  if (source == detail::kClockGettime) return clock_ns(CLOCK_MONOTONIC);
  return detail::monotonic_slow();
}

inline std::uint64_t monotonic_ns_ordered(std::uint64_t* tsc) {
#if defined(__x86_64__)
  if (detail::g_monotonic.load(std::memory_order_acquire) == detail::kTsc) [[likely]] {
    std::uint64_t next;
    const TscScale s = detail::current_scale(&next);
    unsigned aux;
    *tsc = __rdtscp(&aux);
    // Past the period's end the time is the re-anchoring's (read later);
    // the counter read here stays the one ordered after the thread's past.
    if (*tsc >= next) [[unlikely]]
      return detail::tsc_reanchor_now();
    return detail::thread_monotonic(tsc_scale_ns(s, *tsc));
  }
#endif
  *tsc = 0;
  return monotonic_ns();
}

}  // namespace iostack::core
