// The TSC clock: scaling arithmetic, re-anchoring without steps back,
// agreement with CLOCK_MONOTONIC, and clock_gettime where the TSC is unusable.
#include "core/tsc.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#include "core/real_clock.hpp"

namespace iostack::core {
namespace {

constexpr std::uint64_t kTwoNsPerCycle = 2ull << 32;
constexpr std::uint64_t kSlackNs = 100'000;

TEST(TscScale, ScalesFromTheAnchor) {
  const TscScale s{1000, 5000, kTwoNsPerCycle};
  EXPECT_EQ(tsc_scale_ns(s, 1000), 5000u);
  EXPECT_EQ(tsc_scale_ns(s, 1500), 6000u);
  // A counter read behind the anchor (another CPU's) reads the anchor.
  EXPECT_EQ(tsc_scale_ns(s, 999), 5000u);
  EXPECT_EQ(tsc_scale_ns(s, 0), 5000u);
  // Ten days of cycles at 3 GHz do not overflow the product; the
  // multiplier's truncation costs under one nanosecond per 2^32 cycles.
  const TscScale ghz3{0, 0, tsc_mult(1'000'000'000, 3'000'000'000)};
  const std::uint64_t cycles = 3'000'000'000ull * 86400 * 10;
  const std::uint64_t ns = tsc_scale_ns(ghz3, cycles);
  EXPECT_LE(ns, 864'000'000'000'000u);
  EXPECT_GE(ns + (cycles >> 32) + 1, 864'000'000'000'000u);
}

TEST(TscScale, MultIsNanosecondsPerCycleInFixedPoint) {
  EXPECT_EQ(tsc_mult(1000, 1000), 1ull << 32);
  EXPECT_EQ(tsc_mult(2000, 1000), kTwoNsPerCycle);
  EXPECT_EQ(tsc_mult(1, 3), (1ull << 32) / 3);
}

TEST(TscScale, ReanchorContinuesAndMeetsTheClockAfterAPeriod) {
  const TscScale cur{0, 1'000'000, 1ull << 32};  // 1 ns per cycle
  constexpr std::uint64_t kPeriod = 100'000;
  // Behind CLOCK_MONOTONIC by 500 ns at cycle 10000.
  TscScale n = tsc_reanchor(cur, 10'000, 1'010'500, 1ull << 32, kPeriod);
  EXPECT_EQ(n.tsc0, 10'000u);
  EXPECT_EQ(n.ns0, tsc_scale_ns(cur, 10'000));  // no step
  EXPECT_NEAR(static_cast<double>(tsc_scale_ns(n, 10'000 + kPeriod)), 1'010'500.0 + kPeriod, 1);
  // Ahead by 500 ns: slower for a period, never back.
  n = tsc_reanchor(cur, 10'000, 1'009'500, 1ull << 32, kPeriod);
  EXPECT_EQ(n.ns0, tsc_scale_ns(cur, 10'000));
  EXPECT_LT(n.mult, 1ull << 32);
  EXPECT_NEAR(static_cast<double>(tsc_scale_ns(n, 10'000 + kPeriod)), 1'009'500.0 + kPeriod, 1);
}

TEST(TscScale, ReanchorBoundsTheRateAndStepsOnlyForward) {
  const TscScale cur{0, 1'000'000, 1ull << 32};
  constexpr std::uint64_t kPeriod = 100'000;
  // Far ahead: the rate is halved, never less.
  TscScale n = tsc_reanchor(cur, 10'000, 500'000, 1ull << 32, kPeriod);
  EXPECT_EQ(n.ns0, 1'010'000u);
  EXPECT_EQ(n.mult, (1ull << 32) / 2);
  // Behind by less than a period: at most doubled.
  n = tsc_reanchor(cur, 10'000, 1'010'000 + kPeriod, 1ull << 32, kPeriod);
  EXPECT_EQ(n.ns0, 1'010'000u);
  EXPECT_EQ(n.mult, 2ull << 32);
  // Behind by more: a step forward to CLOCK_MONOTONIC at the true rate.
  n = tsc_reanchor(cur, 10'000, 5'000'000, 3ull << 31, kPeriod);
  EXPECT_EQ(n.tsc0, 10'000u);
  EXPECT_EQ(n.ns0, 5'000'000u);
  EXPECT_EQ(n.mult, 3ull << 31);
}

TEST(TscClock, UsableOnlyWhereInvariantAndTheKernelKeepsTimeWithIt) {
  EXPECT_TRUE(tsc_usable(true, "tsc"));
  EXPECT_FALSE(tsc_usable(false, "tsc"));
  EXPECT_FALSE(tsc_usable(true, "kvm-clock"));
  EXPECT_FALSE(tsc_usable(true, "hpet"));
  EXPECT_FALSE(tsc_usable(true, ""));
}

bool tsc_usable_here() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  f >> name;
  return tsc_usable(tsc_invariant(), name);
}

// Reads monotonic_ns() until it has switched to the TSC (its calibration
// needs readings 10 ms apart), checking each reading against CLOCK_MONOTONIC
// around it and this thread's readings never going back, across the switch.
// False if it did not switch within a second.
bool read_until_switched(std::uint64_t* last) {
  const std::uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + 1'000'000'000;
  while (!monotonic_uses_tsc()) {
    const std::uint64_t before = clock_ns(CLOCK_MONOTONIC);
    const std::uint64_t t = monotonic_ns();
    EXPECT_GE(t + kSlackNs, before);
    EXPECT_LE(t, clock_ns(CLOCK_MONOTONIC) + kSlackNs);
    EXPECT_GE(t, *last);
    *last = t;
    if (before > deadline) return false;
  }
  return true;
}

// Before the switch the readings are clock_gettime's; where the TSC is
// usable the readings themselves calibrate it, elsewhere they stay
// clock_gettime's.
TEST(TscClock, ReadingsCalibrateTheScaleAndSwitchToIt) {
  std::uint64_t last = 0;
  const bool switched = read_until_switched(&last);
  if (!tsc_usable_here()) {
    EXPECT_FALSE(switched) << "clock_gettime where the kernel does not keep time with the TSC";
    return;
  }
  EXPECT_TRUE(switched) << "no switch within a second of readings";
  EXPECT_GE(monotonic_ns(), last);
  // The clock made (its timer thread started) before CLOCK_MONOTONIC is read:
  // the two sides of one EXPECT_LE may be evaluated in either order.
  const Clock& clock = real_clock();
  const std::uint64_t now = clock.now();
  EXPECT_LE(now, clock_ns(CLOCK_MONOTONIC) + kSlackNs);
}

// monotonic_ns_ordered: monotonic_ns()'s time, and the counter it was read
// from, which lies between the counter's ordered readings around it; no
// counter where the time is clock_gettime's.
TEST(TscClock, OrderedReadingGivesItsCounter) {
  std::uint64_t last = 0;
  if (!tsc_usable_here() || !read_until_switched(&last)) {
    std::uint64_t tsc = 1;
    const std::uint64_t t = monotonic_ns_ordered(&tsc);
    EXPECT_EQ(tsc, 0u);
    EXPECT_GE(t, last);
    return;
  }
#if defined(__x86_64__)
  unsigned aux;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t before = monotonic_ns();
    const std::uint64_t a = __rdtscp(&aux);
    std::uint64_t tsc = 0;
    const std::uint64_t t = monotonic_ns_ordered(&tsc);
    const std::uint64_t b = __rdtscp(&aux);
    EXPECT_GE(tsc, a);
    EXPECT_LE(tsc, b);
    EXPECT_GE(t, before);
    EXPECT_LE(t, monotonic_ns());
  }
#endif
}

// Every reading lies between CLOCK_MONOTONIC's readings around it, give or
// take 100 us, and time never goes back, also across re-anchorings forced
// every few hundred reads.
TEST(TscClock, FollowsClockMonotonicAndNeverGoesBack) {
  if (!tsc_usable_here()) GTEST_SKIP() << "the TSC is not usable here";
  std::uint64_t last = 0;
  ASSERT_TRUE(read_until_switched(&last));
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t before = clock_ns(CLOCK_MONOTONIC);
    const std::uint64_t t = i % 500 == 0 ? detail::tsc_reanchor_now() : monotonic_ns();
    const std::uint64_t after = clock_ns(CLOCK_MONOTONIC);
    ASSERT_GE(t + kSlackNs, before);
    ASSERT_LE(t, after + kSlackNs);
    ASSERT_GE(t, last);
    last = t;
  }
}

// Readers on two threads, from before the switch to the TSC on, while both
// keep re-anchoring the scale once it is there: each thread's readings never
// go back (the sequence-locked slots never hand a reader a half-written
// scale, and a switch lands at or past what the thread read before).
TEST(TscClock, ConcurrentReanchoringKeepsEachThreadMonotonic) {
  if (!tsc_usable_here()) GTEST_SKIP() << "the TSC is not usable here";
  auto reader = [] {
    std::uint64_t last = 0;
    bool ok = true;
    for (int i = 0; i < 50'000; ++i) {
      const bool reanchor = i % 100 == 0 && monotonic_uses_tsc();
      const std::uint64_t t = reanchor ? detail::tsc_reanchor_now() : monotonic_ns();
      ok = ok && t >= last;
      last = t;
    }
    return ok;
  };
  bool other_ok = false;
  std::thread th([&] { other_ok = reader(); });
  const bool ok = reader();
  th.join();
  EXPECT_TRUE(ok);
  EXPECT_TRUE(other_ok);
}

}  // namespace
}  // namespace iostack::core
