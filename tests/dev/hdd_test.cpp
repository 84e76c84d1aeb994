// The simulated hard disk end to end on a virtual clock: service times,
// read-ahead, NCQ order, the write-back cache with FLUSH and FUA, data.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::expect_bad_spec;
using test::io;
using test::make;

constexpr core::Nanos kUs = core::kNsPerUs;

// One surface of 3001 cylinders of 100 sectors at 6000 rpm (10 ms a turn,
// 100 us a sector); seeks 1 / 10 / 20 ms; 100 us command overhead.
const std::string kSimple =
    "hdd:153651200,zones=1,heads=1,spt_outer=100,spt_inner=100,rpm=6000,seek_track_us=1000,"
    "seek_avg_us=10000,seek_full_us=20000,overhead_us=100";

TEST(Hdd, NamedLikeAScsiDiskAndRotational) {
  core::VirtualClock clock(0);
  auto a = make("hdd:1G", &clock);
  auto b = make("hdd:1G,preset=enterprise15k", &clock);
  EXPECT_EQ(a->name().substr(0, 2), "sd");
  EXPECT_NE(a->name(), b->name());
  EXPECT_EQ(a->disk()->major(), kSdMajor);
  std::string v;
  a->queue()->attr_show("rotational", &v);
  EXPECT_EQ(v, "1");
  EXPECT_EQ(b->hdd()->config().rpm, 15000u);
  EXPECT_EQ(b->disk()->capacity(), (1ull << 30) / 512);
}

TEST(Hdd, BadSpecsGetOneLine) {
  std::string err;
  DeviceSpec s;
  expect_bad_spec("hdd:1G,preset=floppy", "preset");
  expect_bad_spec("hdd:1G,spt_inner=5000", "spt_inner");
  EXPECT_FALSE(parse_device_spec("hdd:1G,seek_avg_us=10,seek_track_us=20", &s, &err));
  // A preset applies before the options whatever their order.
  ASSERT_TRUE(parse_device_spec("hdd:1G,rpm=10000,preset=enterprise15k", &s, &err)) << err;
  EXPECT_EQ(s.hdd.rpm, 10000u);
  EXPECT_EQ(s.hdd.heads, 8u);
}

TEST(Hdd, ReadServiceTimeIsOverheadSeekRotationTransfer) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple, &clock);
  std::vector<unsigned char> buf(4096);
  // Cylinder 1000, sector 50: 0.1 ms overhead, 10 ms seek, then sector 50
  // (5 ms past the mark) is 4.9 ms away, 8 sectors take 0.8 ms.
  ASSERT_EQ(io(*dev, REQ_OP_READ, 1000 * 100 + 50, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 15800 * kUs);
  const HddStats st = dev->hdd()->stats();
  EXPECT_EQ(st.seeks, 1u);
  EXPECT_EQ(st.seek_cylinders, 1000u);
  EXPECT_EQ(st.read_misses, 1u);
}

TEST(Hdd, SequentialReadsHitTheReadAhead) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple, &clock);
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, buf.data(), buf.size(), &clock), 0);
  const core::Nanos first = clock.now();
  for (int i = 1; i < 64; ++i)
    ASSERT_EQ(io(*dev, REQ_OP_READ, 8u * i, buf.data(), buf.size(), &clock), 0);
  const HddStats st = dev->hdd()->stats();
  EXPECT_EQ(st.read_misses, 1u);
  EXPECT_EQ(st.readahead_hits, 63u);
  // The stream runs at the media rate (8 sectors in 0.8 ms) plus overhead,
  // with no rotation lost between requests.
  EXPECT_LE(clock.now() - first, 63 * (800 + 100) * kUs);
  // Reading it again is served from the segment.
  ASSERT_EQ(io(*dev, REQ_OP_READ, 16, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(dev->hdd()->stats().read_hits, 1u);
}

TEST(Hdd, WithoutACacheEveryReadGoesToTheMedia) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple + ",cache=0", &clock);
  std::vector<unsigned char> buf(4096);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(io(*dev, REQ_OP_READ, 800, buf.data(), buf.size(), &clock), 0);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 800, buf.data(), buf.size(), &clock), 0);
  const HddStats st = dev->hdd()->stats();
  EXPECT_EQ(st.read_misses, 3u);
  EXPECT_EQ(st.read_hits + st.readahead_hits, 0u);
  EXPECT_EQ(st.media_writes, 1u);  // nothing to cache it in
}

TEST(Hdd, NcqServesTheNearestFirst) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple + ",write_cache=0", &clock);
  std::vector<unsigned char> a(4096), b(4096), c(4096);
  test::IoResult far, near, mid;
  test::submit(*dev, REQ_OP_READ, 3000 * 100, a.data(), a.size(), &far);
  test::submit(*dev, REQ_OP_READ, 10 * 100, b.data(), b.size(), &near);
  test::submit(*dev, REQ_OP_READ, 500 * 100, c.data(), c.size(), &mid);
  std::vector<int> order;
  while (order.size() < 3 && clock.run_one()) {
    if (far.done && std::find(order.begin(), order.end(), 0) == order.end()) order.push_back(0);
    if (near.done && std::find(order.begin(), order.end(), 1) == order.end()) order.push_back(1);
    if (mid.done && std::find(order.begin(), order.end(), 2) == order.end()) order.push_back(2);
  }
  // The far one started on arrival; from cylinder 3000 the one at 500 is
  // nearer than the one at 10, which arrived before it.
  EXPECT_EQ(order, (std::vector<int>{0, 2, 1}));
}

TEST(Hdd, WriteBackCacheHonoursFlushAndFua) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple, &clock);
  HddDriver* d = dev->hdd();
  std::string wc;
  dev->queue()->attr_show("write_cache", &wc);
  EXPECT_EQ(wc, "write back");
  std::vector<unsigned char> buf(4096, 0x5a);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 2000 * 100, buf.data(), buf.size(), &clock), 0);
  // Completed from the cache: 0.1 ms overhead + 4 KiB at 600 MB/s, no media.
  EXPECT_EQ(clock.now(), 100 * kUs + 4096 * 1000 / 600);
  EXPECT_FALSE(d->durable(2000 * 100, 8));
  EXPECT_EQ(d->dirty_sectors(), 8u);
  // FLUSH ends only once the data is on the media.
  ASSERT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
  EXPECT_TRUE(d->durable(2000 * 100, 8));
  EXPECT_EQ(d->dirty_sectors(), 0u);
  EXPECT_GE(d->stats().destages, 1u);
  EXPECT_EQ(d->stats().flushes, 1u);
  // FUA: on the media when it completes.
  ASSERT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_FUA, 10 * 100, buf.data(), buf.size(),
               &clock),
            0);
  EXPECT_TRUE(d->durable(10 * 100, 8));
  EXPECT_EQ(d->stats().media_writes, 1u);
  // A cached write overwritten with FUA is no longer dirty.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 20 * 100, buf.data(), buf.size(), &clock), 0);
  EXPECT_FALSE(d->durable(20 * 100, 8));
  ASSERT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_FUA, 20 * 100, buf.data(), buf.size(),
               &clock),
            0);
  EXPECT_TRUE(d->durable(20 * 100, 8));
  // Left idle, the drive writes its cache back by itself, after idle_destage.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 30 * 100, buf.data(), buf.size(), &clock), 0);
  const core::Nanos idle_from = clock.now();
  const std::uint64_t destages = d->stats().destages;
  clock.run_until_idle();
  EXPECT_EQ(d->dirty_sectors(), 0u);
  EXPECT_EQ(d->stats().destages, destages + 1);
  EXPECT_GT(clock.now(), idle_from + 1000 * kUs);
}

TEST(Hdd, AStreamLargerThanTheCacheWaitsForWriteBack) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple + ",cache=1M", &clock);  // 512 KiB of write-back
  std::vector<unsigned char> buf(65536, 7);
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(io(*dev, REQ_OP_WRITE, 128u * i, buf.data(), buf.size(), &clock), 0);
    EXPECT_LE(dev->hdd()->dirty_sectors(), 1024u);
  }
  const HddStats st = dev->hdd()->stats();
  EXPECT_EQ(st.cached_writes, 64u);
  EXPECT_GT(st.destages, 0u);
  // 4 MiB went to a disk turning out 51.2 KB per 10 ms: the media set the pace.
  EXPECT_GT(clock.now(), (4096u - 512u) * 1024 / 51200 * 10 * core::kNsPerMs / 2);
}

TEST(Hdd, WriteThroughWithoutTheCache) {
  core::VirtualClock clock(0);
  auto dev = make(kSimple + ",write_cache=0", &clock);
  std::string wc;
  dev->queue()->attr_show("write_cache", &wc);
  EXPECT_EQ(wc, "write through");
  std::vector<unsigned char> buf(4096, 1);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 1000 * 100 + 50, buf.data(), buf.size(), &clock), 0);
  EXPECT_EQ(clock.now(), 15800 * kUs);  // as the read of the same place
  EXPECT_TRUE(dev->hdd()->durable(1000 * 100 + 50, 8));
}

TEST(Hdd, ReadsReturnWhatWasWritten) {
  core::VirtualClock clock(0);
  auto dev = make("hdd:64M,preset=desktop7200", &clock);
  std::mt19937 rng(7);
  std::vector<std::pair<block::sector_t, std::vector<unsigned char>>> written;
  for (int i = 0; i < 32; ++i) {
    const block::sector_t s = (rng() % ((64u << 20) / 4096 - 4)) * 8;
    auto data = test::random_bytes(rng, 4096 * (1 + rng() % 4));
    ASSERT_EQ(io(*dev, REQ_OP_WRITE, s, data.data(), static_cast<std::uint32_t>(data.size()),
                 &clock, &rng),
              0);
    written.emplace_back(s, std::move(data));
  }
  // Later writes win where they overlap: check against a replay.
  std::vector<unsigned char> image(64u << 20);
  for (const auto& [s, d] : written) std::copy(d.begin(), d.end(), image.begin() + s * 512);
  for (const auto& [s, d] : written) {
    std::vector<unsigned char> back(d.size());
    ASSERT_EQ(io(*dev, REQ_OP_READ, s, back.data(), static_cast<std::uint32_t>(back.size()), &clock,
                 &rng),
              0);
    EXPECT_TRUE(std::equal(back.begin(), back.end(), image.begin() + s * 512));
  }
  EXPECT_EQ(io(*dev, block::REQ_OP_DISCARD, 0, nullptr, 4096, &clock), -EOPNOTSUPP);
}

// Writes and reads of 1-24 sectors at random sectors (so mostly parts of
// store pages), some FUA, some after a FLUSH, read back as a flat image
// says, on a disk made after another one filled its store: the store's
// memory comes back from the pool holding that disk's bytes, and none may
// show. After a FLUSH nothing is left only in the volatile cache.
TEST(Hdd, RandomIoReadsBackOnReusedMemory) {
  constexpr std::uint64_t kBytes = 16u << 20;
  constexpr block::sector_t kSectors = kBytes / 512;
  core::VirtualClock clock(0);
  std::mt19937 rng(21);
  {
    auto old = make("hdd:16M", &clock);
    std::vector<unsigned char> ff(1u << 20, 0xFF);
    for (block::sector_t s = 0; s < kSectors; s += 2048)
      ASSERT_EQ(io(*old, REQ_OP_WRITE, s, ff.data(), 1u << 20, &clock), 0);
  }
  auto dev = make("hdd:16M", &clock);
  HddDriver* d = dev->hdd();
  std::vector<unsigned char> image(kBytes, 0);
  for (int i = 0; i < 600; ++i) {
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 24);
    const block::sector_t s = rng() % (kSectors - n);
    const unsigned kind = rng() % 10;
    if (kind < 5) {
      auto data = test::random_bytes(rng, n * 512u);
      std::uint32_t opf = REQ_OP_WRITE;
      if (kind == 0) opf |= block::REQ_FUA;
      if (kind == 1) opf |= block::REQ_PREFLUSH;
      ASSERT_EQ(io(*dev, opf, s, data.data(), n * 512u, &clock, &rng), 0);
      std::copy(data.begin(), data.end(), image.begin() + static_cast<std::ptrdiff_t>(s * 512));
      if (kind == 0) {
        EXPECT_TRUE(d->durable(s, n));
      }
    } else if (kind < 9) {
      std::vector<unsigned char> back(n * 512u, 0xEE);
      ASSERT_EQ(io(*dev, REQ_OP_READ, s, back.data(), n * 512u, &clock, &rng), 0);
      ASSERT_TRUE(std::equal(back.begin(), back.end(),
                             image.begin() + static_cast<std::ptrdiff_t>(s * 512)))
          << "op " << i << " at sector " << s << " +" << n;
    } else {
      ASSERT_EQ(io(*dev, std::uint32_t{REQ_OP_WRITE} | block::REQ_PREFLUSH, 0, nullptr, 0, &clock),
                0);
      EXPECT_EQ(d->dirty_sectors(), 0u);
    }
  }
  std::vector<unsigned char> all(kBytes);
  d->store().read(0, all.data(), kBytes);
  EXPECT_TRUE(all == image);
}

// The write-back's shortest-positioning-time choice, made from few
// extents, is the one asking every dirty extent would make (the lowest
// positioning time, the first in the cache's order among equals), over the
// states random writes, reads, FUA and FLUSH leave: on a small disk whose
// extents share cylinders and angles, and on the default geometry.
TEST(Hdd, WriteBackPicksAsAFullSearchWould) {
  // On kSimple, starts on multiples of 10 sectors pass under the head at
  // whole milliseconds: many extents at the same angle, so equal times.
  const std::pair<std::string, block::sector_t> cases[] = {{kSimple + ",cache=1M", 1},
                                                           {kSimple + ",cache=1M", 10},
                                                           {"hdd:8G", 1},
                                                           {"hdd:4G,preset=enterprise15k", 1}};
  for (const auto& [spec, align] : cases) {
    core::VirtualClock clock(0);
    auto dev = make(spec, &clock);
    dev->hdd()->check_picks(true);
    std::mt19937 rng(5);
    std::vector<unsigned char> buf(65536, 3);
    std::vector<test::IoResult> rs(32);
    const block::sector_t span = std::min<block::sector_t>(dev->disk()->capacity(), 1u << 20) - 128;
    for (int round = 0; round < 200; ++round) {
      for (auto& r : rs) {
        r.done = false;
        const unsigned k = rng() % 100;
        std::uint32_t op = k < 15 ? REQ_OP_READ : REQ_OP_WRITE;
        if (k == 99) op |= block::REQ_FUA;
        if (k == 98) op |= block::REQ_PREFLUSH;
        // Mostly small writes, some of them abutting or cutting others.
        const std::uint32_t len = 512u * (1 + rng() % (k % 4 ? 8 : 120));
        test::submit(*dev, op, rng() % span / align * align, buf.data(), len, &r);
      }
      for (auto& r : rs) ASSERT_TRUE(test::wait(r, &clock));
    }
    clock.run_until_idle();
    const auto [checked, wrong] = dev->hdd()->checked_picks();
    EXPECT_GT(checked, 2000u) << spec;
    EXPECT_EQ(wrong, 0u) << spec;
  }
}

// The same workload on a virtual clock twice: the same completions at the
// same virtual times, request by request.
std::vector<core::Nanos> replay(const std::string& spec) {
  core::VirtualClock clock(0);
  auto dev = make(spec, &clock);
  std::mt19937 rng(11);
  std::vector<unsigned char> buf(16384);
  std::vector<test::IoResult> rs(8);
  std::vector<core::Nanos> ends;
  const block::sector_t span = dev->disk()->capacity() / 8 - 4;
  for (int round = 0; round < 40; ++round) {
    for (auto& r : rs) {
      r.done = false;
      const std::uint32_t op = rng() % 3 ? REQ_OP_READ : REQ_OP_WRITE;
      test::submit(*dev, op, (rng() % span) * 8, buf.data(), 4096 * (1 + rng() % 4), &r);
    }
    for (auto& r : rs) {
      EXPECT_TRUE(test::wait(r, &clock));
      ends.push_back(clock.now());
    }
  }
  return ends;
}

TEST(SimulatedDisks, VirtualTimeRunsRepeatExactly) {
  for (const char* spec : {"hdd:1G", "ssd:256M,channels=2,buffer=32K"}) {
    const auto a = replay(spec), b = replay(spec);
    ASSERT_EQ(a.size(), 320u);
    EXPECT_EQ(a, b) << spec;
    EXPECT_GT(a.back(), 0u);
  }
}

// On the real clock, from two submitting threads at once: the timer
// thread ends requests while others arrive; data stays right.
TEST(SimulatedDisks, RealClockTwoSubmitters) {
  for (const char* spec : {"hdd:16M,preset=enterprise15k,write_cache=0", "ssd:16M,buffer=64K"}) {
    auto dev = make(spec, nullptr);
    auto worker = [&](unsigned id) {
      std::mt19937 rng(id);
      for (int i = 0; i < 20; ++i) {
        const block::sector_t s = (id * 1024u + (rng() % 128u)) * 8;
        auto data = test::random_bytes(rng, 4096);
        ASSERT_EQ(io(*dev, REQ_OP_WRITE, s, data.data(), 4096, nullptr, &rng), 0);
        std::vector<unsigned char> back(4096);
        ASSERT_EQ(io(*dev, REQ_OP_READ, s, back.data(), 4096, nullptr, &rng), 0);
        ASSERT_EQ(back, data) << spec;
      }
    };
    std::thread a(worker, 0), b(worker, 1);
    a.join();
    b.join();
  }
}

}  // namespace
}  // namespace iostack::dev
