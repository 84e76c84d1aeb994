// wcache: a volatile write cache and power cuts. What must survive a cut
// (acknowledged FUA writes, and what was acknowledged before an
// acknowledged FLUSH) does, in every ordering mode; the rest follows the
// mode.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev/wcache.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::counter;
using test::expect_bad_spec;
using test::io;
using test::make;

constexpr std::uint32_t kFlush = REQ_OP_WRITE | block::REQ_PREFLUSH;

WcacheTarget* wc(BlockDevice& d) { return static_cast<WcacheTarget*>(d.target()); }

std::vector<unsigned char> read(BlockDevice& d, block::sector_t s, std::uint32_t len,
                                core::VirtualClock* clock = nullptr) {
  std::vector<unsigned char> b(len);
  EXPECT_EQ(io(d, REQ_OP_READ, s, b.data(), len, clock), 0);
  return b;
}

std::vector<unsigned char> fill(unsigned char v, std::size_t n = 4096) {
  return std::vector<unsigned char>(n, v);
}

TEST(Wcache, WritesStayInTheCacheUntilAFlush) {
  auto d = make("wcache:ram:1M");
  std::string v;
  d->queue()->attr_show("write_cache", &v);
  EXPECT_EQ(v, "write back");
  auto a = fill(0xa1);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 8, a.data(), 4096), 0);
  EXPECT_EQ(read(*d, 8, 4096), a);                 // the cache answers reads
  EXPECT_EQ(read(*d->lower(), 8, 4096), fill(0));  // nothing below yet
  EXPECT_EQ(read(*d, 4, 8192)[2048], 0xa1);        // partly cached reads merge
  EXPECT_EQ(wc(*d)->dirty_bytes(), 4096u);
  ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
  EXPECT_EQ(read(*d->lower(), 8, 4096), a);
  EXPECT_EQ(wc(*d)->dirty_bytes(), 0u);
  EXPECT_EQ(counter(*d, "wcache_cached_writes"), 1);
  EXPECT_EQ(counter(*d, "wcache_writebacks"), 1);
}

TEST(Wcache, PowercutLosesWhatWasNotDurable) {
  auto d = make("wcache:ram:1M");  // order=lose
  auto a = fill(1), b = fill(2), c = fill(3);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
  ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 4096), 0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 64, c.data(), 4096), 0);
  ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
  EXPECT_EQ(read(*d->lower(), 0, 4096), a);
  EXPECT_EQ(read(*d->lower(), 64, 4096), fill(0));
  std::vector<unsigned char> buf(512);
  EXPECT_EQ(io(*d, REQ_OP_READ, 0, buf.data(), 512), -EIO);  // the power is off
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 512), -EIO);
  EXPECT_EQ(counter(*d, "wcache_powercuts"), 1);
  EXPECT_EQ(counter(*d, "wcache_lost_writes"), 2);
  EXPECT_EQ(counter(*d, "wcache_failed_after_cut"), 2);
}

TEST(Wcache, FuaWritesAreDurableAndNotOverwrittenByOlderCachedData) {
  auto d = make("wcache:ram:1M");
  auto a = fill(1), b = fill(2);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_FUA, 0, b.data(), 4096), 0);
  ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
  EXPECT_EQ(read(*d->lower(), 0, 4096), b);
}

TEST(Wcache, ACacheOverItsSizeWritesBackByItself) {
  auto d = make("wcache,size=8K:ram:1M");
  auto a = fill(7);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(io(*d, REQ_OP_WRITE, 8 * i, a.data(), 4096), 0);
  EXPECT_EQ(wc(*d)->dirty_bytes(), 0u);  // the third went over 8K: all written back
  EXPECT_EQ(read(*d->lower(), 0, 12288), fill(7, 12288));
}

TEST(Wcache, PowercutAfterNWritesAndAtATime) {
  {
    auto d = make("wcache,powercut_writes=2:ram:1M");
    auto a = fill(5);
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 8, a.data(), 4096), 0);  // acknowledged, then the cut
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 16, a.data(), 4096), -EIO);
    EXPECT_TRUE(wc(*d)->powered_off());
  }
  core::VirtualClock clock(0);
  auto d = make("wcache,powercut_ms=5:ram:1M", &clock);
  auto a = fill(6);
  clock.advance_to(4 * core::kNsPerMs);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), 0);
  clock.advance_to(5 * core::kNsPerMs);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), -EIO);
  EXPECT_EQ(read(*d->lower(), 0, 4096, &clock), fill(0));
}

TEST(Wcache, ACutDuringAWriteBackLetsItLandAndFailsItsFlush) {
  core::VirtualClock clock(0);
  auto d = make("wcache:delay,read_ms=0,write_ms=10:ram:1M", &clock);
  auto a = fill(1), b = fill(2);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), 0);
  test::IoResult flush;
  test::submit(*d, kFlush, 0, nullptr, 0, &flush);  // write-back of A: 10 ms below
  clock.advance_to(2 * core::kNsPerMs);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 64, b.data(), 4096, &clock), 0);
  ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
  ASSERT_TRUE(test::wait(flush, &clock));
  EXPECT_EQ(flush.err.load(), -EIO);
  EXPECT_EQ(read(*d->lower(), 0, 4096, &clock), a);  // was on its way
  EXPECT_EQ(read(*d->lower(), 64, 4096, &clock), fill(0));
}

// A random workload of 4 KiB-aligned writes over 32 blocks, with FLUSHes
// and FUA writes, then a cut. Every sector holds a stamp (write id, sector)
// so the test can tell which write each sector came from.
struct Workload {
  static constexpr int kBlocks = 32;
  std::vector<std::vector<int>> writes_to;  // per sector: write ids in order
  std::vector<int> must;                    // per sector: id that must survive (0: none)
  std::vector<std::pair<block::sector_t, int>> pending;  // (sector, id) not yet flushed
  std::vector<std::vector<block::sector_t>> sectors_of{1};

  static void stamp(unsigned char* p, int id, block::sector_t s) {
    std::memset(p, 0, 512);
    std::memcpy(p, &id, sizeof(id));
    std::memcpy(p + 8, &s, sizeof(s));
  }
  static int id_of(const unsigned char* p) {
    int id;
    std::memcpy(&id, p, sizeof(id));
    return id;
  }
};

void run_durability(const std::string& order, std::uint64_t seed, bool use_fua,
                    std::string* torn_seen) {
  SCOPED_TRACE("order=" + order + " seed=" + std::to_string(seed));
  auto d = make("wcache,order=" + order + ",atomic=4096,seed=" + std::to_string(seed) + ":ram:1M");
  std::mt19937 rng(static_cast<unsigned>(seed));
  Workload w;
  const int nsect = Workload::kBlocks * 8;
  w.writes_to.assign(nsect, {});
  w.must.assign(nsect, 0);
  std::vector<int> durable_impl(nsect, 0);  // what a flush made durable
  std::vector<std::vector<std::pair<block::sector_t, int>>> since_flush(1);
  std::vector<int> write_ids;
  int id = 0;
  const int ops = 20 + rng() % 30;
  for (int op = 0; op < ops; ++op) {
    const int kind = rng() % 10;
    if (kind == 0) {
      ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
      for (int s = 0; s < nsect; ++s)
        if (!w.writes_to[s].empty()) w.must[s] = w.writes_to[s].back();
      since_flush.assign(1, {});
      continue;
    }
    const bool fua = use_fua && kind == 1;
    const int blocks = 1 + rng() % 4;
    const int first = rng() % (Workload::kBlocks - blocks + 1);
    std::vector<unsigned char> buf(blocks * 4096);
    ++id;
    for (int i = 0; i < blocks * 8; ++i) {
      const block::sector_t s = first * 8 + i;
      Workload::stamp(buf.data() + i * 512, id, s);
      w.writes_to[s].push_back(id);
      if (fua) w.must[s] = id;
    }
    since_flush.back().push_back({static_cast<block::sector_t>(first * 8), blocks * 8});
    write_ids.push_back(id);
    ASSERT_EQ(io(*d, REQ_OP_WRITE | (fua ? block::REQ_FUA : 0), first * 8, buf.data(),
                 static_cast<std::uint32_t>(buf.size())),
              0);
  }
  ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
  std::vector<unsigned char> img(nsect * 512);
  ASSERT_EQ(io(*d->lower(), REQ_OP_READ, 0, img.data(), static_cast<std::uint32_t>(img.size())), 0);
  for (int s = 0; s < nsect; ++s) {
    const int got = Workload::id_of(img.data() + s * 512);
    // Allowed: the write that must survive, or any acknowledged after it.
    std::set<int> ok;
    bool after = w.must[s] == 0;
    if (after) ok.insert(0);
    for (int x : w.writes_to[s]) {
      if (x == w.must[s]) after = true;
      if (after) ok.insert(x);
    }
    ASSERT_TRUE(ok.count(got)) << "sector " << s << " holds write " << got << ", must survive "
                               << w.must[s];
    if (order == "lose" && !use_fua) {
      EXPECT_EQ(got, w.must[s]) << "sector " << s;
    }
  }
  // atomic=4096 with 4 KiB-aligned writes: a block is never torn inside.
  for (int b = 0; b < Workload::kBlocks; ++b) {
    const int first = Workload::id_of(img.data() + b * 4096);
    for (int i = 1; i < 8; ++i)
      ASSERT_EQ(Workload::id_of(img.data() + b * 4096 + i * 512), first) << "block " << b;
  }
  if (counter(*d, "wcache_torn_writes") > 0) *torn_seen += "torn:" + order + " ";
  if (counter(*d, "wcache_survived_bytes") > 0) *torn_seen += "survived:" + order + " ";
}

TEST(Wcache, DurabilityHoldsInEveryOrderingMode) {
  std::string torn;
  for (const char* order : {"lose", "fifo", "any", "torn"}) {
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      run_durability(order, seed, false, &torn);
      run_durability(order, seed + 100, true, &torn);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_NE(torn.find("torn:torn"), std::string::npos);  // multi-block writes did tear
  EXPECT_EQ(torn.find("torn:any"), std::string::npos);
  EXPECT_EQ(torn.find("torn:fifo"), std::string::npos);
  // Not durable, yet landed: never with lose, sometimes with the others.
  EXPECT_EQ(torn.find("survived:lose"), std::string::npos);
  for (const char* o : {"fifo", "any", "torn"})
    EXPECT_NE(torn.find(std::string("survived:") + o), std::string::npos) << o;
}

TEST(Wcache, FifoKeepsAPrefixOfTheCachedWrites) {
  // One block per write, no flush: the survivors must be writes 1..k.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto d = make("wcache,order=fifo,seed=" + std::to_string(seed) + ":ram:1M");
    for (int i = 1; i <= 10; ++i) {
      auto b = fill(static_cast<unsigned char>(i));
      ASSERT_EQ(io(*d, REQ_OP_WRITE, 8 * i, b.data(), 4096), 0);
    }
    ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
    bool gap = false;
    int kept = 0;
    for (int i = 1; i <= 10; ++i) {
      const auto got = read(*d->lower(), 8 * i, 4096);
      if (got[0] == i) {
        EXPECT_FALSE(gap) << "seed " << seed << ": write " << i << " survived after a lost one";
        ++kept;
      } else {
        EXPECT_EQ(got, fill(0));
        gap = true;
      }
    }
    EXPECT_EQ(counter(*d, "wcache_lost_writes"), 10 - kept);
  }
}

TEST(Wcache, TornWritesSplitAtTheAtomicUnit) {
  bool torn = false;
  for (std::uint64_t seed = 1; seed <= 20 && !torn; ++seed) {
    auto d = make("wcache,order=torn,atomic=512,seed=" + std::to_string(seed) + ":ram:1M");
    auto b = fill(9, 8192);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 8192), 0);
    ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
    const auto got = read(*d->lower(), 0, 8192);
    int kept = 0;
    for (int s = 0; s < 16; ++s) {
      const unsigned char v = got[s * 512];
      for (int i = 1; i < 512; ++i) ASSERT_EQ(got[s * 512 + i], v);  // sectors are whole
      kept += v == 9;
    }
    torn = kept > 0 && kept < 16;
  }
  EXPECT_TRUE(torn);
}

TEST(Wcache, AMarkCutsThePowerAndReachesALogAboveFirst) {
  char name[] = "/tmp/iostack-wcache-log-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    auto d = make(std::string("log-writes,log=") + name + ":wcache,powercut_mark=cut:ram:1M");
    auto a = fill(1), b = fill(2);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
    ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 8, b.data(), 4096), 0);
    ASSERT_EQ(d->message({"mark", "other"}, nullptr), 0);
    EXPECT_FALSE(wc(*d->lower())->powered_off());
    ASSERT_EQ(d->message({"mark", "cut"}, nullptr), 0);
    EXPECT_TRUE(wc(*d->lower())->powered_off());
    EXPECT_EQ(read(*d->lower()->lower(), 0, 4096), a);
    EXPECT_EQ(read(*d->lower()->lower(), 8, 4096), fill(0));
  }
  unlink(name);
}

TEST(Wcache, BadSpecsGetOneLine) {
  expect_bad_spec("wcache,order=random:ram", "order: expected lose, fifo, any or torn");
  expect_bad_spec("wcache,atomic=1000:ram", "atomic");
}

// A device's own power switch: its acknowledged writes wait in a volatile
// cache (sized like the device's) until made durable, and a cut loses them.
TEST(Wcache, ADevicesOwnPowerSwitchLosesWhatItsCacheHeld) {
  for (const char* spec : {"ram:1M,powercut=1", "null:1M,memory_backed=1,write_cache=1,powercut=1",
                           "ssd:64M,powercut=1", "hdd:1G,powercut=1"}) {
    SCOPED_TRACE(spec);
    auto d = make(spec);
    ASSERT_NE(d->target(), nullptr);
    std::string v;
    d->queue()->attr_show("write_cache", &v);
    EXPECT_EQ(v, "write back");
    auto a = fill(1), b = fill(2);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
    ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 4096), 0);
    EXPECT_EQ(read(*d, 0, 4096), b);
    ASSERT_EQ(d->message({"powercut"}, nullptr), 0);
    EXPECT_EQ(read(*d->lower(), 0, 4096), a);  // the flushed write, not the cached one
  }
  DeviceSpec s;
  std::string err;
  ASSERT_TRUE(parse_device_spec("hdd:1G,cache=8M,powercut_writes=3,powercut_order=fifo", &s, &err))
      << err;
  EXPECT_EQ(s.kind, DeviceKind::kWcache);
  EXPECT_EQ(s.wcache.size_bytes, 4u << 20);  // the write-back half of the drive's cache
  EXPECT_EQ(s.wcache.order, CutOrder::kFifo);
  EXPECT_EQ(s.wcache.powercut_writes, 3u);
  EXPECT_EQ(s.lower->kind, DeviceKind::kHdd);
  auto d = make("ram:1M,powercut_writes=2,powercut_seed=3");
  auto a = fill(5);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096), 0);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 8, a.data(), 4096), 0);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 16, a.data(), 4096), -EIO);
}

TEST(Wcache, APowerSwitchOnAWriteThroughDeviceIsRefused) {
  expect_bad_spec("null:1M,powercut=1", "powercut: needs write_cache=1");
  expect_bad_spec("hdd:1G,write_cache=0,powercut_ms=5", "powercut: needs write_cache=1");
  expect_bad_spec("ram:1M,powercut=0", "powercut: expected a boolean");
  expect_bad_spec("ram:1M,powercut_order=sideways", "order: expected lose, fifo, any or torn");
  expect_bad_spec("ram:1M,powercut_when=5", "unknown option \"powercut_when\"");
}

}  // namespace
}  // namespace iostack::dev
