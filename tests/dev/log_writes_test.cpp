// log-writes: dm-log-writes' log order (writes wait for the next flush, FUA
// goes at once), its on-disk format, and replay reproducing the device byte
// for byte at every mark.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev/log_format.hpp"
#include "dev/log_replay.hpp"
#include "dev/log_writes.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_DISCARD;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::expect_bad_spec;
using test::io;

constexpr std::uint32_t kDevBytes = 1 << 20;

class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/iostack-logwrites-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<BlockDevice> make(const std::string& spec, core::Clock* clock = nullptr) {
  std::string err;
  auto dev = create_device(spec, clock, &err);
  EXPECT_TRUE(dev) << err;
  return dev;
}

std::vector<unsigned char> contents(BlockDevice& d) {
  std::vector<unsigned char> all(kDevBytes);
  EXPECT_EQ(io(d, REQ_OP_READ, 0, all.data(), kDevBytes), 0);
  return all;
}

std::vector<LogEntry> entries(const std::string& path) {
  std::vector<LogEntry> e;
  std::uint32_t ss = 0;
  std::string err;
  EXPECT_TRUE(read_log(path, &e, &ss, &err)) << err;
  return e;
}

std::string flags_of(const std::vector<LogEntry>& es) {
  std::string s;
  for (const auto& e : es) {
    if (e.flags & kLogMark) {
      s += "M(" + e.mark + ")";
    } else if (e.flags & kLogFlush) {
      s += "F";
    } else if (e.flags & kLogDiscard) {
      s += "D" + std::to_string(e.sector);
    } else {
      s += std::string(e.flags & kLogFua ? "U" : "W") + std::to_string(e.sector);
    }
    s += ' ';
  }
  return s;
}

const std::uint32_t kFlush = REQ_OP_WRITE | block::REQ_PREFLUSH;

TEST(LogWrites, ReplayReproducesTheDeviceAtEveryMark) {
  TempFile log;
  std::mt19937 rng(11);
  std::vector<std::vector<unsigned char>> at_mark;
  std::vector<unsigned char> final_state;
  {
    auto d = make("log-writes,log=" + log.path() + ":ram:1M");
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 20; ++i) {
        const std::uint32_t sectors = 1 + rng() % 64;
        const block::sector_t at = rng() % (kDevBytes / 512 - sectors);
        auto data = test::random_bytes(rng, sectors * 512);
        if (rng() % 8 == 0) {
          ASSERT_EQ(io(*d, REQ_OP_DISCARD, at & ~7ull, nullptr, 4096 * (1 + rng() % 4)), 0);
        } else {
          ASSERT_EQ(io(*d, REQ_OP_WRITE, at, data.data(), sectors * 512, nullptr, &rng), 0);
        }
      }
      ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
      ASSERT_EQ(d->message({"mark", "m" + std::to_string(round)}, nullptr), 0);
      at_mark.push_back(contents(*d));
    }
    // Written but never flushed: logged only when the target goes away.
    auto tail = test::random_bytes(rng, 8192);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 1000, tail.data(), 8192), 0);
    final_state = contents(*d);
    EXPECT_GT(static_cast<LogWritesTarget*>(d->target())->logged_entries(), 100u);
  }
  for (int round = 0; round < 6; ++round) {
    auto fresh = make("ram:1M");
    std::string err;
    ReplayLimit lim;
    lim.end_mark = "m" + std::to_string(round);
    ASSERT_GT(replay_log_to_device(log.path(), fresh.get(), lim, &err), 0) << err;
    EXPECT_TRUE(contents(*fresh) == at_mark[round]) << "differs at mark " << lim.end_mark;
  }
  auto fresh = make("ram:1M");
  std::string err;
  ReplayLimit end;
  end.end_mark = "dm-log-writes-end";
  ASSERT_GT(replay_log_to_device(log.path(), fresh.get(), end, &err), 0) << err;
  EXPECT_TRUE(contents(*fresh) == final_state);
  // Onto a plain file too, as `iostack replay-log` does.
  TempFile img;
  ReplayLimit m3;
  m3.end_mark = "m3";
  ASSERT_GT(replay_log_to_path(log.path(), img.path(), m3, &err), 0) << err;
  std::ifstream in(img.path(), std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(kDevBytes, 0);  // the file ends at the last byte written
  EXPECT_TRUE(bytes == at_mark[3]);
}

TEST(LogWrites, EntriesHaveTheKernelsLayoutAndLimitCountsEntries) {
  TempFile log;
  std::vector<unsigned char> a(1024, 0xa1), b(512, 0xb2);
  {
    auto d = make("log-writes,log=" + log.path() + ":ram:1M");
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 4, a.data(), 1024), 0);
    ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 4, b.data(), 512), 0);
    ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
  }
  // super | W hdr | 2 sectors | F hdr | W hdr | 1 sector | F hdr | M hdr
  std::ifstream in(log.path(), std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(raw.size(), 512u * 9);
  LogSuper s;
  std::memcpy(&s, raw.data(), sizeof(s));
  EXPECT_EQ(s.magic, kLogMagic);
  EXPECT_EQ(s.nr_entries, 5u);
  EXPECT_EQ(s.sectorsize, 512u);
  LogEntryHeader h;
  std::memcpy(&h, raw.data() + 512, sizeof(h));
  EXPECT_EQ(h.sector, 4u);
  EXPECT_EQ(h.nr_sectors, 2u);
  EXPECT_EQ(h.flags, 0u);
  EXPECT_EQ(static_cast<unsigned char>(raw[1024]), 0xa1);
  std::memcpy(&h, raw.data() + 512 * 8, sizeof(h));
  EXPECT_EQ(h.flags, kLogMark);
  EXPECT_EQ(h.data_len, 17u);
  EXPECT_EQ(raw.substr(512 * 8 + 32, 17), "dm-log-writes-end");
  EXPECT_EQ(flags_of(entries(log.path())), "W4 F W4 F M(dm-log-writes-end) ");

  // --limit 3: the first write, the flush and the second write.
  auto fresh = make("ram:1M");
  std::string err;
  ReplayLimit lim;
  lim.max_entries = 3;
  EXPECT_EQ(replay_log_to_device(log.path(), fresh.get(), lim, &err), 3);
  std::vector<unsigned char> back(1024);
  ASSERT_EQ(io(*fresh, REQ_OP_READ, 4, back.data(), 1024), 0);
  EXPECT_EQ(back[0], 0xb2);
  EXPECT_EQ(back[600], 0xa1);
  ReplayLimit missing;
  missing.end_mark = "nope";
  EXPECT_EQ(replay_log_to_device(log.path(), fresh.get(), missing, &err), -1);
  EXPECT_NE(err.find("no mark \"nope\""), std::string::npos) << err;
}

TEST(LogWrites, WritesWaitForTheNextFlushInCompletionOrder) {
  // Below log-writes, a 10 ms write delay: W0 completes before the flush is
  // issued and is logged before it; W8 completes after and waits.
  TempFile log;
  core::VirtualClock clock(0);
  auto d = make("log-writes,log=" + log.path() + ":delay,read_ms=0,write_ms=10:ram:1M", &clock);
  std::vector<unsigned char> buf(4096, 1);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 4096, &clock), 0);
  EXPECT_EQ(clock.now(), 10 * core::kNsPerMs);
  test::IoResult w8;
  test::submit(*d, REQ_OP_WRITE, 8, buf.data(), 4096, &w8);
  ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0, &clock), 0);  // no cache below: done at once
  ASSERT_TRUE(test::wait(w8, &clock));
  ASSERT_EQ(d->message({"mark", "x"}, nullptr), 0);
  EXPECT_EQ(flags_of(entries(log.path())), "W0 F M(x) ");
  d.reset();
  EXPECT_EQ(flags_of(entries(log.path())), "W0 F M(x) W8 M(dm-log-writes-end) ");
}

TEST(LogWrites, FuaIsLoggedAtOnceAndDiscardsLikeWrites) {
  TempFile log;
  std::vector<unsigned char> buf(4096, 1);
  {
    auto d = make("log-writes,log=" + log.path() + ":ram:1M");
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 4096), 0);
    ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_FUA, 8, buf.data(), 4096), 0);
    EXPECT_EQ(flags_of(entries(log.path())), "U8 ");
    ASSERT_EQ(io(*d, REQ_OP_DISCARD, 16, nullptr, 4096), 0);
    // PREFLUSH with data: our flush machinery sends the flush, then the data.
    ASSERT_EQ(io(*d, kFlush | block::REQ_FUA, 24, buf.data(), 4096), 0);
    std::vector<std::pair<std::string, double>> c = d->counters();
    EXPECT_EQ(c[0], (std::pair<std::string, double>{"log_entries", 5}));
    EXPECT_EQ(d->message({"mark"}, nullptr), -EINVAL);
    EXPECT_EQ(d->message({"mark", "a", "b"}, nullptr), -EINVAL);
  }
  EXPECT_EQ(flags_of(entries(log.path())), "U8 W0 D16 F U24 M(dm-log-writes-end) ");
}

TEST(LogWrites, SectorsAreTheDevicesLogicalBlocks) {
  TempFile log;
  std::vector<unsigned char> buf(8192, 0x4b);
  {
    auto d = make("log-writes,log=" + log.path() + ":null:1M,bs=4096,memory_backed=1,irqmode=none");
    ASSERT_EQ(io(*d, REQ_OP_WRITE, 8, buf.data(), 8192), 0);
    ASSERT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
  }
  std::ifstream in(log.path(), std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), {});
  LogSuper s;
  std::memcpy(&s, raw.data(), sizeof(s));
  EXPECT_EQ(s.sectorsize, 4096u);
  LogEntryHeader h;
  std::memcpy(&h, raw.data() + 4096, sizeof(h));
  EXPECT_EQ(h.sector, 1u);  // 4 KiB blocks
  EXPECT_EQ(h.nr_sectors, 2u);
  const auto e = entries(log.path());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].sector, 8u);  // read back in 512-byte sectors
  EXPECT_EQ(e[0].nr_sectors, 16u);
  auto fresh = make("ram:1M");
  std::string err;
  ASSERT_EQ(replay_log_to_device(log.path(), fresh.get(), ReplayLimit{}, &err), 3) << err;
  std::vector<unsigned char> back(8192);
  ASSERT_EQ(io(*fresh, REQ_OP_READ, 8, back.data(), 8192), 0);
  EXPECT_EQ(back, buf);
}

TEST(LogWrites, BadLogsAndSpecsGetOneLine) {
  std::string err;
  EXPECT_FALSE(create_device("log-writes,log=/nonexistent/dir/x:ram:1M", nullptr, &err));
  EXPECT_NE(err.find("cannot open log /nonexistent/dir/x"), std::string::npos) << err;
  DeviceSpec s;
  expect_bad_spec("log-writes:ram:1M", "missing log=PATH");
  TempFile junk;
  std::ofstream(junk.path()) << std::string(600, 'x');
  std::vector<LogEntry> e;
  std::uint32_t ss;
  EXPECT_FALSE(read_log(junk.path(), &e, &ss, &err));
  EXPECT_NE(err.find("bad magic"), std::string::npos) << err;
}

}  // namespace
}  // namespace iostack::dev
