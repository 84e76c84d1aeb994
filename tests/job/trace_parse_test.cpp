// The trace readers: blktrace records (per-cpu sets, both byte orders, Q or
// D events), fio iologs v2/v3 and MSR Cambridge CSV, each on small traces
// made here, and one clear line for every kind of bad input.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../common/temp_dir.hpp"
#include "job/read_iolog.hpp"
#include "job/trace_io.hpp"
#include "trace/blktrace_api.hpp"

namespace iostack::job {
namespace {

namespace bt = iostack::trace;

using test::TempDir;

// One blktrace record (and payload) as bytes, optionally byte-swapped.
std::string record(std::uint32_t action, std::uint64_t time, std::uint64_t sector,
                   std::uint32_t bytes, std::uint32_t pid, std::uint32_t cpu,
                   const std::string& pdu = {}, bool swap = false) {
  bt::BlkIoTrace t{};
  t.magic = bt::kBlkIoTraceMagic | bt::kBlkIoTraceVersion;
  t.time = time;
  t.sector = sector;
  t.bytes = bytes;
  t.action = action;
  t.pid = pid;
  t.cpu = cpu;
  t.pdu_len = static_cast<std::uint16_t>(pdu.size());
  if (swap) {
    t.magic = __builtin_bswap32(t.magic);
    t.time = __builtin_bswap64(t.time);
    t.sector = __builtin_bswap64(t.sector);
    t.bytes = __builtin_bswap32(t.bytes);
    t.action = __builtin_bswap32(t.action);
    t.pid = __builtin_bswap32(t.pid);
    t.cpu = __builtin_bswap32(t.cpu);
    t.pdu_len = __builtin_bswap16(t.pdu_len);
  }
  return std::string(reinterpret_cast<const char*>(&t), sizeof(t)) + pdu;
}

// The same as a version 8 record (struct blk_io_trace2, Linux 6.17+).
std::string record2(std::uint64_t action, std::uint64_t time, std::uint64_t sector,
                    std::uint32_t bytes, std::uint32_t pid, std::uint32_t cpu,
                    const std::string& pdu = {}, bool swap = false) {
  bt::BlkIoTrace2 t{};
  t.magic = bt::kBlkIoTraceMagic | bt::kBlkIoTrace2Version;
  t.time = time;
  t.sector = sector;
  t.bytes = bytes;
  t.action = action;
  t.pid = pid;
  t.cpu = cpu;
  t.pdu_len = static_cast<std::uint16_t>(pdu.size());
  if (swap) {
    t.magic = __builtin_bswap32(t.magic);
    t.time = __builtin_bswap64(t.time);
    t.sector = __builtin_bswap64(t.sector);
    t.bytes = __builtin_bswap32(t.bytes);
    t.action = __builtin_bswap64(t.action);
    t.pid = __builtin_bswap32(t.pid);
    t.cpu = __builtin_bswap32(t.cpu);
    t.pdu_len = __builtin_bswap16(t.pdu_len);
  }
  return std::string(reinterpret_cast<const char*>(&t), sizeof(t)) + pdu;
}

std::string process_note(std::uint32_t pid, const char* comm, std::uint32_t cpu) {
  std::string name(16, '\0');
  std::memcpy(name.data(), comm, std::strlen(comm));
  return record(bt::kBlkTnProcess, 0, 0, 0, pid, cpu, name);
}

std::uint32_t q(std::uint32_t tc) { return bt::kBlkTaQueue | bt::tc_act(tc); }

TEST(TraceBlktrace, PerCpuFilesMergeByTimeAndKeepQueueEvents) {
  TempDir d;
  // cpu 0: a reader; cpu 1: a writer whose events interleave in time.
  d.file("sda.blktrace.0",
         process_note(100, "reader", 0) + record(q(bt::kTcRead), 1000, 8, 4096, 100, 0) +
             record(bt::kBlkTaIssue | bt::tc_act(bt::kTcRead), 1500, 8, 4096, 100, 0) +
             record(bt::kBlkTaComplete | bt::tc_act(bt::kTcRead), 1800, 8, 4096, 100, 0) +
             record(q(bt::kTcRead), 5000, 64, 8192, 100, 0));
  d.file("sda.blktrace.1",
         process_note(200, "writer", 1) +
             record(q(bt::kTcWrite | bt::kTcSync), 3000, 1024, 512, 200, 1) +
             record(q(bt::kTcWrite | bt::kTcFlush), 4000, 0, 0, 200, 1) +
             record(q(bt::kTcWrite | bt::kTcDiscard), 6000, 2048, 1 << 20, 200, 1));
  Trace t;
  std::string err;
  ASSERT_TRUE(read_traces({d.path + "/sda"}, &t, &err)) << err;
  ASSERT_EQ(t.ios.size(), 5u);
  EXPECT_TRUE(t.blktrace);
  const struct {
    std::uint64_t time, off;
    std::uint32_t len;
    int ddir;
    const char* comm;
  } want[] = {{0, 8 * 512, 4096, kRead, "reader"},
              {2000, 1024 * 512, 512, kWrite, "writer"},
              {3000, 0, 0, kSync, "writer"},
              {4000, 64 * 512, 8192, kRead, "reader"},
              {5000, 2048 * 512, 1 << 20, kTrim, "writer"}};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(t.ios[i].time_ns, want[i].time) << i;
    EXPECT_EQ(t.ios[i].offset, want[i].off) << i;
    EXPECT_EQ(t.ios[i].len, want[i].len) << i;
    EXPECT_EQ(t.ios[i].ddir, want[i].ddir) << i;
    EXPECT_EQ(t.procs[t.ios[i].proc].comm, want[i].comm) << i;
  }
  EXPECT_EQ(t.procs[t.ios[0].proc].pid, 100);
  // A directory of captures, or the cpu files one by one, read the same:
  // one capture's files share its clock.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{d.path},
        std::vector<std::string>{d.path + "/sda.blktrace.1", d.path + "/sda.blktrace.0"}}) {
    Trace t2;
    ASSERT_TRUE(read_traces(args, &t2, &err)) << err;
    ASSERT_EQ(t2.ios.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(t2.ios[i].time_ns, want[i].time) << i;
      EXPECT_EQ(t2.ios[i].offset, want[i].off) << i;
    }
  }
}

TEST(TraceBlktrace, IssueEventsWhenThereAreNoQueueEventsAndOtherByteOrder) {
  TempDir d;
  const std::string p = d.file(
      "dump.bin",
      record(bt::kBlkTaIssue | bt::tc_act(bt::kTcWrite | bt::kTcFs), 700, 16, 4096, 7, 0, {},
             true) +
          record(bt::kBlkTaComplete | bt::tc_act(bt::kTcWrite), 900, 16, 4096, 7, 0, {}, true) +
          record(bt::kBlkTaIssue | bt::tc_act(bt::kTcRead | bt::kTcFs), 1700, 32, 1024, 7, 0, {},
                 true));
  Trace t;
  std::string err;
  ASSERT_TRUE(read_traces({p}, &t, &err)) << err;
  ASSERT_EQ(t.ios.size(), 2u);
  EXPECT_EQ(t.ios[0].ddir, kWrite);
  EXPECT_EQ(t.ios[0].offset, 16u * 512);
  EXPECT_EQ(t.ios[1].ddir, kRead);
  EXPECT_EQ(t.ios[1].time_ns, 1000u);
  EXPECT_EQ(t.procs[t.ios[0].proc].comm, "7");  // no PROCESS note: the pid
}

TEST(TraceBlktrace, Version8RecordsInBothByteOrders) {
  // Linux 6.17's blk_io_trace2: 64-byte records, pid before a 64-bit action
  // whose categories go past bit 15 (zone commands, write zeroes).
  const auto q2 = [](std::uint64_t tc) { return bt::kBlkTaQueue | bt::tc_act2(tc); };
  for (const bool swap : {false, true}) {
    TempDir d;
    std::string name(16, '\0');
    std::memcpy(name.data(), "db", 2);
    const std::string p = d.file(
        "sdb.blktrace.0",
        record2(bt::kBlkTnProcess, 0, 0, 0, 42, 0, name, swap) +
            record2(q2(bt::kTcRead | bt::kTcSync), 1000, 8, 4096, 42, 0, {}, swap) +
            record2(bt::kBlkTaIssue | bt::tc_act2(bt::kTcRead | bt::kTcFs), 1200, 8, 4096, 42, 0,
                    {}, swap) +
            record2(bt::kBlkTaComplete | bt::tc_act2(bt::kTcRead), 1300, 8, 4096, 42, 0, {}, swap) +
            record2(q2(bt::kTcWrite), 2000, 64, 8192, 42, 0, {}, swap) +
            // A zone reset moves no data: not replayed.
            record2(q2(bt::kTcWrite | bt::kTc2ZoneReset), 2500, 0, 0, 42, 0, {}, swap) +
            record2(q2(bt::kTcWrite | bt::kTc2WriteZeroes), 3000, 128, 65536, 42, 0, {}, swap) +
            record2(q2(bt::kTcWrite | bt::kTcDiscard), 4000, 256, 1 << 20, 42, 0, {}, swap) +
            record2(q2(bt::kTcWrite | bt::kTcFlush), 5000, 0, 0, 42, 0, {}, swap));
    Trace t;
    std::string err;
    ASSERT_TRUE(read_traces({p}, &t, &err)) << err;
    ASSERT_EQ(t.ios.size(), 5u) << swap;
    const struct {
      std::uint64_t time, off;
      std::uint32_t len;
      int ddir;
    } want[] = {{0, 8 * 512, 4096, kRead},
                {1000, 64 * 512, 8192, kWrite},
                {2000, 128 * 512, 65536, kWrite},
                {3000, 256 * 512, 1 << 20, kTrim},
                {4000, 0, 0, kSync}};
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(t.ios[i].time_ns, want[i].time) << i;
      EXPECT_EQ(t.ios[i].offset, want[i].off) << i;
      EXPECT_EQ(t.ios[i].len, want[i].len) << i;
      EXPECT_EQ(t.ios[i].ddir, want[i].ddir) << i;
      EXPECT_EQ(t.procs[t.ios[i].proc].comm, "db") << i;
    }
    EXPECT_EQ(t.probed_depth, 1u);
  }
  // A cut record says how long a version 8 header is.
  TempDir d;
  const std::string rec = record2(bt::kBlkTaQueue | bt::tc_act2(bt::kTcRead), 1, 8, 512, 1, 0);
  const std::string p = d.file("cut.bin", rec + rec.substr(0, 50));
  Trace t;
  std::string err;
  EXPECT_FALSE(read_traces({p}, &t, &err));
  EXPECT_NE(err.find(": record 1 at offset 64: truncated header (50 of 64 bytes)"),
            std::string::npos)
      << err;
}

// fio's probe: queue events since the last completion of the direction.
TEST(TraceBlktrace, ProbesTheQueueDepthAsFio) {
  TempDir d;
  const std::uint32_t c = bt::kBlkTaComplete | bt::tc_act(bt::kTcRead);
  const std::uint32_t m = bt::kBlkTaBackmerge | bt::tc_act(bt::kTcRead);
  const std::string p =
      d.file("depth.bin",
             record(q(bt::kTcRead), 1, 0, 4096, 1, 0) + record(q(bt::kTcRead), 2, 8, 4096, 1, 0) +
                 record(q(bt::kTcRead), 3, 16, 4096, 1, 0) + record(m, 3, 16, 4096, 1, 0) +
                 record(q(bt::kTcRead), 4, 24, 4096, 1, 0) + record(c, 5, 0, 4096, 1, 0) +
                 record(q(bt::kTcRead), 6, 32, 4096, 1, 0) + record(c, 7, 32, 4096, 1, 0) +
                 record(q(bt::kTcWrite), 8, 40, 4096, 1, 0));
  Trace t;
  std::string err;
  ASSERT_TRUE(read_traces({p}, &t, &err)) << err;
  EXPECT_EQ(t.probed_depth, 3u);  // 4 queued, 1 merged, before the first completion
  // read_iolog takes it unless the job sets iodepth.
  JobOptions o;
  o.read_iolog = p;
  ASSERT_TRUE(load_read_iolog(&o, &err)) << err;
  EXPECT_EQ(o.iodepth, 3u);
  JobOptions o2;
  o2.read_iolog = p;
  o2.iodepth = 7;
  o2.iodepth_set = true;
  ASSERT_TRUE(load_read_iolog(&o2, &err)) << err;
  EXPECT_EQ(o2.iodepth, 7u);
}

TEST(TraceIolog, Version2ActionsAndWait) {
  Trace t;
  std::string err;
  ASSERT_TRUE(
      parse_iolog("fio version 2 iolog\n/dev/sdb add\n/dev/sdb open\n"
                  "/dev/sdb write 4096 8192\n/dev/sdb wait 5 0\n/dev/sdb read 0 4096\n"
                  "/dev/sdb trim 65536 65536\n/dev/sdb sync 0 0\n/dev/sdb datasync 0 0\n"
                  "/dev/sdb close\n",
                  "/tmp/x.log", &t, &err))
      << err;
  ASSERT_EQ(t.ios.size(), 5u);
  EXPECT_EQ(t.ios[0].ddir, kWrite);
  EXPECT_EQ(t.ios[0].offset, 4096u);
  EXPECT_EQ(t.ios[0].len, 8192u);
  EXPECT_EQ(t.ios[0].time_ns, 0u);
  EXPECT_EQ(t.ios[1].ddir, kRead);
  EXPECT_EQ(t.ios[1].time_ns, 5000000u);  // after "wait 5": 5 ms into the replay
  EXPECT_EQ(t.ios[2].ddir, kTrim);
  EXPECT_EQ(t.ios[3].ddir, kSync);
  EXPECT_EQ(t.ios[4].ddir, kSync);
  EXPECT_EQ(t.procs.size(), 1u);
  EXPECT_EQ(t.procs[0].comm, "x.log");
}

TEST(TraceIolog, Version3TimesAreMicroseconds) {
  Trace t;
  std::string err;
  ASSERT_TRUE(
      parse_iolog("fio version 3 iolog\n2 /tmp/f add\n3 /tmp/f open\n"
                  "103 /tmp/f read 0 4096\n1103 /tmp/f write 4096 4096\n"
                  "1110 /tmp/f wait 9 0\n2000 /tmp/f close\n",
                  "v3.log", &t, &err))
      << err;
  ASSERT_EQ(t.ios.size(), 2u);  // fio ignores wait in version 3
  EXPECT_EQ(t.ios[0].time_ns, 101000u);
  EXPECT_EQ(t.ios[1].time_ns, 1101000u);
}

TEST(TraceMsr, CsvLinesWithHeaderAndHosts) {
  Trace t;
  std::string err;
  ASSERT_TRUE(
      parse_msr_csv("Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n"
                    "128166372003061629,wdev,0,Read,3329134592,4096,2687\r\n"
                    "128166372003061639,wdev,0,Write,4096,512,100\n"
                    "128166372003061630,src1,2,write,8192,65536,7\n",
                    "wdev.csv", &t, &err))
      << err;
  ASSERT_EQ(t.ios.size(), 3u);
  EXPECT_EQ(t.ios[0].ddir, kRead);
  EXPECT_EQ(t.ios[0].offset, 3329134592u);
  EXPECT_EQ(t.ios[0].time_ns, 0u);
  EXPECT_EQ(t.ios[1].time_ns, 100u);  // one filetime unit is 100 ns
  EXPECT_EQ(t.ios[1].len, 65536u);    // sorted by time
  EXPECT_EQ(t.ios[2].time_ns, 1000u);
  EXPECT_EQ(t.ios[2].ddir, kWrite);
  EXPECT_EQ(t.procs[t.ios[0].proc].comm, "wdev.0");
  EXPECT_EQ(t.procs[t.ios[1].proc].comm, "src1.2");
}

// Each bad input: false, and one line naming the file and where.
void expect_bad(const std::string& name, const std::string& data, const std::string& where,
                const std::string& what) {
  TempDir d;
  const std::string p = d.file(name, data);
  Trace t;
  std::string err;
  EXPECT_FALSE(read_traces({p}, &t, &err)) << name;
  EXPECT_NE(err.find(p + where), std::string::npos) << err;
  EXPECT_NE(err.find(what), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(TraceBad, EachGivesOneLine) {
  const std::string good = record(q(bt::kTcRead), 10, 8, 4096, 1, 0);
  std::string bad_magic = good + good;
  bad_magic[51] = 'x';
  expect_bad("magic.bin", bad_magic, ": record 1", "bad magic");
  expect_bad("short.bin", good + good.substr(0, 20), ": record 1", "truncated header");
  std::string big_pdu = record(q(bt::kTcRead), 10, 8, 4096, 1, 0, "abcd");
  expect_bad("pdu.bin", good + big_pdu.substr(0, big_pdu.size() - 2), ": record 1",
             "truncated payload");
  std::string version = good;
  version[0] = 0x06;
  expect_bad("version.bin", version, ": record 0", "unsupported version 6");
  expect_bad("v1.log", "fio version 1 iolog\n", ":1:", "versions 2 and 3");
  expect_bad("act.log", "fio version 2 iolog\n/dev/x add\n/dev/x scribble 0 512\n",
             ":3:", "unknown I/O action 'scribble'");
  expect_bad("off.log", "fio version 3 iolog\n1 /dev/x read 12ab 512\n",
             ":2:", "bad offset '12ab'");
  expect_bad("fields.log", "fio version 2 iolog\n/dev/x read 0\n", ":2:", "got 3 fields");
  expect_bad("time.log", "fio version 3 iolog\nnow /dev/x read 0 512\n", ":2:", "expected a time");
  expect_bad("empty.log", "fio version 2 iolog\n/dev/x add\n", "", "no I/O");
  expect_bad("msr.csv", "1,h,0,Read,0,4096,1\n2,h,0,Read,4096\n", ":2:", "expected 7");
  expect_bad("type.csv", "1,h,0,Read,0,4096,1\n2,h,0,Erase,0,4096,1\n",
             ":2:", "Type 'Erase': expected Read or Write");
  expect_bad("size.csv", "1,h,0,Read,0,0,1\n", ":1:", "Size '0'");
  expect_bad("what.txt", "hello world\n", "", "not a trace iostack reads");
  Trace t;
  std::string err;
  EXPECT_FALSE(read_traces({"/nonexistent/trace"}, &t, &err));
  EXPECT_NE(err.find("/nonexistent/trace: no such file"), std::string::npos) << err;
}

// Any cut or flipped byte of a valid trace is read or refused with one
// line; never a crash.
TEST(TraceBad, CutsAndFlipsNeverCrash) {
  TempDir d;
  const std::string blk = process_note(5, "p", 0) + record(q(bt::kTcRead), 10, 8, 4096, 5, 0) +
                          record(q(bt::kTcWrite | bt::kTcFlush), 20, 0, 0, 5, 0) +
                          record(q(bt::kTcWrite), 30, 16, 512, 5, 0);
  const std::string iolog = "fio version 3 iolog\n0 /x add\n5 /x write 0 4096\n9 /x trim 0 512\n";
  const std::string msr = "1,h,0,Read,0,4096,1\n2,h,0,Write,512,512,1\n";
  std::uint32_t seed = 1;
  for (const std::string& good : {blk, iolog, msr}) {
    for (std::size_t cut = 1; cut <= good.size(); ++cut) {
      for (int flip = 0; flip < 4; ++flip) {
        std::string data = good.substr(0, cut);
        if (flip) {
          seed = seed * 1103515245 + 12345;
          data[(seed >> 8) % data.size()] ^= static_cast<char>(1 + (seed >> 20) % 255);
        }
        const std::string p = d.file("cut", data);
        Trace t;
        std::string err;
        if (!read_traces({p}, &t, &err)) {
          EXPECT_FALSE(err.empty());
          EXPECT_EQ(err.find('\n'), std::string::npos) << err;
        }
      }
    }
  }
}

}  // namespace
}  // namespace iostack::job
