// The simulated SSD: greedy GC write amplification against the analytical
// value, TRIM, service times on a virtual clock, data.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev/ssd_ftl.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::io;
using test::make;

// Greedy GC under uniform random page writes, for spare factor rho =
// (physical - user) / user: WA = 1 / (1 - x) with x = exp(-(1 + rho)(1 - x))
// (Xiang and Kurkoski, "An Improved Analytic Expression for Write
// Amplification in NAND Flash", 2012, which matches simulation within 1%).
double greedy_wa(double rho) {
  double x = 0.5;
  for (int i = 0; i < 200; ++i) x = std::exp(-(1 + rho) * (1 - x));
  return 1 / (1 - x);
}

// Fills the drive, then overwrites uniformly at random; WA over the last
// `measure` writes, in steady state.
double measured_wa(SsdFtl& ftl, std::uint64_t user_pages, std::uint64_t warm, std::uint64_t measure,
                   std::mt19937_64& rng) {
  for (std::uint64_t p = 0; p < ftl.logical_pages(); ++p) ftl.write(p);
  for (std::uint64_t i = 0; i < warm; ++i) ftl.write(rng() % user_pages);
  const SsdFtlStats before = ftl.stats();
  for (std::uint64_t i = 0; i < measure; ++i) ftl.write(rng() % user_pages);
  const SsdFtlStats after = ftl.stats();
  return static_cast<double>(after.nand_pages - before.nand_pages) /
         static_cast<double>(after.host_pages - before.host_pages);
}

TEST(SsdFtl, GreedyWriteAmplificationMatchesTheAnalyticalValue) {
  for (unsigned op : {15u, 28u, 50u}) {
    const std::uint64_t pages = 1u << 17;  // 512 MiB of 4 KiB pages
    SsdFtl ftl(pages, 8, 128, op);
    std::mt19937_64 rng(op);
    const double wa = measured_wa(ftl, pages, 4 * pages, 4 * pages, rng);
    const double expect = greedy_wa(op / 100.0);
    EXPECT_NEAR(wa, expect, 0.10 * expect) << "op " << op << "%";
    EXPECT_GT(ftl.stats().gc_runs, 0u);
    EXPECT_EQ(ftl.valid_pages(), pages);
  }
}

TEST(SsdFtl, TrimmedPagesAreNotMoved) {
  const std::uint64_t pages = 1u << 15;
  SsdFtl plain(pages, 4, 64, 10), trimmed(pages, 4, 64, 10);
  std::mt19937_64 r1(1), r2(1);
  for (std::uint64_t p = 0; p < pages; ++p) trimmed.write(p);
  for (std::uint64_t p = pages / 2; p < pages; ++p) trimmed.trim(p);
  EXPECT_EQ(trimmed.stats().trimmed_pages, pages / 2);
  EXPECT_EQ(trimmed.unit_of(pages - 1), -1);
  // Random overwrites of the first half only: with the rest trimmed the
  // drive has far more spare room than with it still mapped.
  const double wa_plain = measured_wa(plain, pages / 2, 2 * pages, 2 * pages, r1);
  const double wa_trim = [&] {
    for (std::uint64_t i = 0; i < 2 * pages; ++i) trimmed.write(r2() % (pages / 2));
    const SsdFtlStats b = trimmed.stats();
    for (std::uint64_t i = 0; i < 2 * pages; ++i) trimmed.write(r2() % (pages / 2));
    const SsdFtlStats a = trimmed.stats();
    return static_cast<double>(a.nand_pages - b.nand_pages) /
           static_cast<double>(a.host_pages - b.host_pages);
  }();
  EXPECT_LT(wa_trim, 1.3);
  EXPECT_GT(wa_plain, 2 * wa_trim);
}

TEST(Ssd, ReadServiceTimeIsOverheadArrayChannelLink) {
  core::VirtualClock clock(0);
  auto dev = make("ssd:64M,buffer=0", &clock);  // the NVMe class, unbuffered
  EXPECT_EQ(dev->name().substr(0, 4), "nvme");
  std::string v;
  dev->queue()->attr_show("rotational", &v);
  EXPECT_EQ(v, "0");
  std::vector<unsigned char> buf(4096, 3);
  // Never written: no flash access, 5 us overhead + 4 KiB at 3500 MB/s.
  ASSERT_EQ(io(*dev, REQ_OP_READ, 64, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 5000u + 4096u * 1000 / 3500);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 64, buf.data(), buf.size(), &clock), 0);
  // Write: overhead, link, channel (4 KiB at 1200 MB/s), program 120 us.
  const core::Nanos t0 = clock.now();
  EXPECT_EQ(t0 - (5000u + 4096u * 1000 / 3500),
            5000u + 4096u * 1000 / 3500 + 4096u * 1000 / 1200 + 120000u);
  // Read: overhead, array read 40 us, channel, link.
  ASSERT_EQ(io(*dev, REQ_OP_READ, 64, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now() - t0, 5000u + 40000u + 4096u * 1000 / 1200 + 4096u * 1000 / 3500);
}

TEST(Ssd, UnitsWorkInParallel) {
  core::VirtualClock clock(0);
  auto dev = make("ssd:64M,channels=2,dies=1,planes=1,buffer=0", &clock);
  std::vector<unsigned char> a(8192, 1), b(8192, 2);
  // Two pages land on the two units: programmed together.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, a.data(), a.size(), &clock), 0);
  const core::Nanos two_units = clock.now();
  auto one = make("ssd:64M,channels=1,dies=1,planes=1,buffer=0", &clock);
  const core::Nanos t = clock.now();
  ASSERT_EQ(io(*one, REQ_OP_WRITE, 0, b.data(), b.size(), &clock), 0);
  EXPECT_EQ(clock.now() - t - two_units, 120000u);  // one more program in turn
}

TEST(Ssd, GarbageCollectionShowsInServiceTimeAndCounters) {
  core::VirtualClock clock(0);
  auto dev =
      make("ssd:16M,channels=1,dies=1,planes=2,pages_per_block=32,op=10,buffer=256K", &clock);
  std::vector<unsigned char> buf(4096, 9);
  const std::uint64_t pages = (16u << 20) / 4096;
  auto write_all = [&](std::mt19937* rng) {
    const core::Nanos t = clock.now();
    for (std::uint64_t i = 0; i < pages; ++i) {
      const std::uint64_t p = rng ? (*rng)() % pages : i;
      EXPECT_EQ(io(*dev, REQ_OP_WRITE, p * 8, buf.data(), buf.size(), &clock), 0);
    }
    return clock.now() - t;
  };
  const core::Nanos fill = write_all(nullptr);
  EXPECT_EQ(dev->ssd()->stats().ftl.gc_runs, 0u);
  std::mt19937 rng(5);
  write_all(&rng);
  const core::Nanos steady = write_all(&rng);
  const SsdStats st = dev->ssd()->stats();
  EXPECT_GT(st.ftl.gc_runs, 0u);
  EXPECT_GT(st.ftl.write_amplification(), 2.0);
  EXPECT_GT(steady, 2 * fill);  // the write cliff
  bool found = false;
  for (const auto& [k, v] : dev->counters())
    if (k == "write_amp") found = v == st.ftl.write_amplification();
  EXPECT_TRUE(found);
}

TEST(Ssd, BufferedWritesCompleteUntilTheBufferIsFull) {
  core::VirtualClock clock(0);
  auto dev = make("ssd:64M,channels=1,dies=1,planes=1,buffer=8K", &clock);  // two pages
  std::vector<unsigned char> buf(4096);
  const core::Nanos link = 5000 + 4096 * 1000 / 3500;  // overhead + link
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), link);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 8, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 2 * link);
  // The third waits for the first page to leave the buffer: programmed at
  // link + channel + 120 us.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 16, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), link + 4096u * 1000 / 1200 + 120000u);
}

TEST(Ssd, DiscardFreesPagesAndReadsZero) {
  core::VirtualClock clock(0);
  auto dev = make("ssd:16M,preset=sata", &clock);
  std::mt19937 rng(3);
  auto data = test::random_bytes(rng, 64 * 1024);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 128, data.data(), 65536, &clock, &rng), 0);
  std::vector<unsigned char> back(65536);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 128, back.data(), 65536, &clock, &rng), 0);
  EXPECT_EQ(back, data);
  ASSERT_EQ(io(*dev, block::REQ_OP_DISCARD, 128, nullptr, 65536, &clock), 0);
  EXPECT_EQ(dev->ssd()->stats().ftl.trimmed_pages, 16u);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 128, back.data(), 65536, &clock), 0);
  EXPECT_EQ(back, std::vector<unsigned char>(65536, 0));
}

TEST(Ssd, SlcCacheTakesWritesFastUntilFull) {
  core::VirtualClock clock(0);
  auto dev = make("ssd:64M,channels=1,dies=1,planes=1,slc=16K,buffer=0", &clock);
  std::vector<unsigned char> buf(4096);
  core::Nanos lat[6];
  for (int i = 0; i < 6; ++i) {
    const core::Nanos t = clock.now();
    ASSERT_EQ(io(*dev, REQ_OP_WRITE, 8u * i, buf.data(), buf.size(), &clock), 0);
    lat[i] = clock.now() - t;
  }
  EXPECT_EQ(lat[3] - lat[0], 0u);
  EXPECT_EQ(lat[4] - lat[0], 120000u - 30000u);  // TLC program instead of SLC
  EXPECT_EQ(dev->ssd()->stats().slc_writes, 4u);
}

}  // namespace
}  // namespace iostack::dev
