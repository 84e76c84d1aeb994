// Latency histogram, running statistics, distributions and number format.
#include <gtest/gtest.h>

#include "job/io_stat.hpp"
#include "job/lat_hist.hpp"
#include "job/num2str.hpp"
#include "job/thread_stat.hpp"

namespace iostack::job {
namespace {

TEST(LatHist, BucketsKeepValuesWithinOnePart128) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 1000ull, 123456ull, 987654321ull}) {
    const std::uint64_t got = LatHist::value(LatHist::index(v));
    const double err = v ? std::abs(static_cast<double>(got) - static_cast<double>(v)) / v : 0;
    EXPECT_LE(err, 1.0 / 64) << v;
  }
  EXPECT_EQ(LatHist::index(5), 5u);
  EXPECT_LT(LatHist::index(~0ull), kPlatNr);
}

TEST(LatHist, PercentilesOfAUniformSeries) {
  LatHist h;
  for (std::uint64_t v = 1; v <= 10000; ++v) h.add(v * 1000);  // 1 us .. 10 ms
  const auto p = h.percentiles({1, 50, 99, 99.99}, 10000);
  EXPECT_NEAR(static_cast<double>(p[0]), 100e3, 100e3 / 64);
  EXPECT_NEAR(static_cast<double>(p[1]), 5e6, 5e6 / 64);
  EXPECT_NEAR(static_cast<double>(p[2]), 9.9e6, 9.9e6 / 64);
  EXPECT_NEAR(static_cast<double>(p[3]), 10e6, 10e6 / 64);
}

TEST(IoStat, WelfordMatchesTheTextbookAndMerges) {
  IoStat a, b, all;
  for (std::uint64_t v : {2, 4, 4, 4}) a.add(v), all.add(v);
  for (std::uint64_t v : {5, 5, 7, 9}) b.add(v), all.add(v);
  EXPECT_DOUBLE_EQ(all.mean, 5.0);
  EXPECT_NEAR(all.stddev(), std::sqrt(32.0 / 7), 1e-12);  // sample stddev
  a.merge(b);
  EXPECT_EQ(a.samples, 8u);
  EXPECT_DOUBLE_EQ(a.mean, all.mean);
  EXPECT_NEAR(a.S, all.S, 1e-9);
  EXPECT_EQ(a.min, 2u);
  EXPECT_EQ(a.max, 9u);
}

TEST(ThreadStat, DepthSubmitAndLatencyBuckets) {
  ThreadStat ts;
  ts.mark_depth(1, 1);
  ts.mark_depth(32, 2);
  ts.mark_depth(64, 1);
  EXPECT_EQ(ts.io_u_map[0], 1u);
  EXPECT_EQ(ts.io_u_map[5], 2u);
  EXPECT_EQ(ts.io_u_map[6], 1u);
  ts.mark_submit(0);
  ts.mark_submit(4);
  ts.mark_submit(5);
  ts.mark_submit(32);
  EXPECT_EQ(ts.io_u_submit[0], 1u);
  EXPECT_EQ(ts.io_u_submit[1], 1u);
  EXPECT_EQ(ts.io_u_submit[2], 1u);
  EXPECT_EQ(ts.io_u_submit[4], 1u);
  ts.mark_latency(3);                 // [2, 4) ns -> "4="
  ts.mark_latency(999);               // "1000=" ns
  ts.mark_latency(50'000);            // 50 us -> "100=" us
  ts.mark_latency(5'000'000'000ull);  // 5 s -> ">=2000" ms
  EXPECT_EQ(ts.lat_n[1], 1u);
  EXPECT_EQ(ts.lat_n[9], 1u);
  EXPECT_EQ(ts.lat_u[5], 1u);
  EXPECT_EQ(ts.lat_m[11], 1u);
  double d[kDepthMapNr];
  const std::uint64_t map[kDepthMapNr] = {1, 0, 0, 0, 0, 9999, 0};
  calc_dist(map, 10000, d);
  EXPECT_DOUBLE_EQ(d[0], 0.1) << "tiny non-zero shares show as 0.1%, as fio prints them";
}

TEST(Num2Str, FormatsLikeFio) {
  EXPECT_EQ(num2str(8382, 4, 1, false, N2S::kNone), "8382");
  EXPECT_EQ(num2str(123456, 4, 1, false, N2S::kNone), "123k");
  EXPECT_EQ(num2str(52500, 4, 1, false, N2S::kNone), "52.5k");
  EXPECT_EQ(num2str(503316480, 4, 1, true, N2S::kBytePerSec), "480MiB/s");
  EXPECT_EQ(num2str(503316480, 4, 1, false, N2S::kBytePerSec), "503MB/s");
  EXPECT_EQ(num2str(35127296, 4, 1, true, N2S::kByte), "33.5MiB");
  EXPECT_EQ(num2str(4096, 4, 1, true, N2S::kByte), "4096B");
  EXPECT_EQ(num2str(65536, 4, 1, true, N2S::kByte), "64.0KiB");
  EXPECT_EQ(num2str(3896100, 6, 1, false, N2S::kNone), "3896.1k");
}

}  // namespace
}  // namespace iostack::job
