// fio's clocksource= for the job's timestamps: names, errors, and the TSC
// source reading the shared TSC scale.
#include <gtest/gtest.h>
#include <time.h>

#include "job/now.hpp"
#include "job/option_table.hpp"

namespace iostack::job {
namespace {

std::uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Restores the process-wide source a test changed.
struct SourceGuard {
  ClockSource saved = clock_source();
  ~SourceGuard() { set_clock_source(saved); }
};

TEST(ClockSource, NamesAreFios) {
  ClockSource s;
  ASSERT_TRUE(parse_clock_source("cpu", &s));
  EXPECT_EQ(s, ClockSource::kCpu);
  ASSERT_TRUE(parse_clock_source("clock_gettime", &s));
  EXPECT_EQ(s, ClockSource::kClockGettime);
  ASSERT_TRUE(parse_clock_source("gettimeofday", &s));
  EXPECT_EQ(s, ClockSource::kGettimeofday);
  EXPECT_FALSE(parse_clock_source("tsc", &s));

  JobOptions o;
  std::string err;
  EXPECT_TRUE(apply_option(&o, OptEntry{"clocksource", "cpu", true, SrcLoc{"t.fio", 3}}, &err));
  EXPECT_EQ(o.clocksource, "cpu");
  EXPECT_FALSE(apply_option(&o, OptEntry{"clocksource", "hpet", true, SrcLoc{"t.fio", 4}}, &err));
  EXPECT_EQ(err, "t.fio:4: clocksource=hpet: expected cpu, clock_gettime or gettimeofday");
}

// "cpu" reads the TSC scale the block layer's clock shares (core/tsc.hpp,
// whose tests follow it against CLOCK_MONOTONIC closely): a reading lies
// between two of that scale's around it, and near CLOCK_MONOTONIC.
TEST(ClockSource, CpuReadsTheSharedTscScale) {
  if (!cpu_clock_reliable()) GTEST_SKIP() << "this CPU's TSC is not invariant";
  SourceGuard guard;
  ASSERT_TRUE(set_clock_source(ClockSource::kCpu));
  ASSERT_EQ(clock_source(), ClockSource::kCpu);
  constexpr std::uint64_t kSlackNs = 100'000;
  const std::uint64_t mono_before = monotonic_ns();
  const std::uint64_t before = core::tsc_now_ns();
  const std::uint64_t t = now_ns();
  const std::uint64_t after = core::tsc_now_ns();
  const std::uint64_t mono_after = monotonic_ns();
  EXPECT_LE(before, t);
  EXPECT_LE(t, after);
  EXPECT_GE(t + kSlackNs, mono_before);
  EXPECT_LE(t, mono_after + kSlackNs);
}

TEST(ClockSource, ClockGettimeIsClockMonotonic) {
  SourceGuard guard;
  ASSERT_TRUE(set_clock_source(ClockSource::kClockGettime));
  const std::uint64_t before = monotonic_ns();
  const std::uint64_t t = now_ns();
  EXPECT_LE(before, t);
  EXPECT_LE(t, monotonic_ns());
}

}  // namespace
}  // namespace iostack::job
