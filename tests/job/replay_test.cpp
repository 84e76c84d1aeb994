// Replay: schedules, remapping, read_iolog and the replay_* options, and
// whole replays through the block layer compared, request by request, with
// the trace they came from (iostack's own blktrace, a blkparse -d dump, and
// an iolog written by fio).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../common/temp_dir.hpp"
#include "job/job_file.hpp"
#include "job/read_iolog.hpp"
#include "job/runner.hpp"
#include "job/trace_io.hpp"
#include "task/ioprio.hpp"
#include "trace/blktrace_reader.hpp"

namespace iostack::job {
namespace {

using test::TempDir;

bool have(const char* prog) {
  return std::system((std::string("command -v ") + prog + " >/dev/null 2>&1").c_str()) == 0;
}

bool run(const std::vector<JobDef>& jobs, const std::string& trace_dir, RunResult* r,
         std::string* err) {
  Runner runner;
  if (!runner.prepare(jobs, err)) return false;
  RunOptions ro;
  ro.trace_dir = trace_dir;
  return runner.run(ro, r, err);
}

bool run_text(const std::string& text, const std::string& trace_dir, RunResult* r,
              std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_text(text, "t.fio", &set, err) || !build_jobs(set, &jobs, err)) return false;
  return run(jobs, trace_dir, r, err);
}

// Replays `t` as iostack replay does, with job options `opts` ("--k=v").
bool replay(const Trace& t, const ReplaySettings& s, const std::vector<std::string>& opts,
            const std::string& trace_dir, RunResult* r, std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_args(opts, &set, err) || !build_replay_jobs(t, s, &set, &jobs, err)) return false;
  return run(jobs, trace_dir, r, err);
}

struct Req {
  std::uint64_t offset;
  std::uint32_t len;
  int ddir;
  bool operator==(const Req&) const = default;
};

std::vector<Req> requests(const Trace& t) {
  std::vector<Req> v;
  for (const TraceIo& io : t.ios) v.push_back({io.offset, io.len, io.ddir});
  return v;
}

std::string show(const std::vector<Req>& v, std::size_t i) {
  if (i >= v.size()) return "(none)";
  return std::string(ddir_name(v[i].ddir)) + " " + std::to_string(v[i].offset) + "+" +
         std::to_string(v[i].len);
}

void expect_same(const std::vector<Req>& a, const std::vector<Req>& b) {
  EXPECT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    if (!(i < a.size() && i < b.size() && a[i] == b[i])) {
      ADD_FAILURE() << "request " << i << ": " << show(a, i) << " vs " << show(b, i);
      return;
    }
}

// The I/Os fio completes, from its --debug=io lines; false when fio could
// not run.
bool fio_requests(const std::string& cmd, std::vector<Req>* out) {
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return false;
  char line[512];
  while (std::fgets(line, sizeof(line), f)) {
    const char* c = std::strstr(line, "complete: io_u");
    const char* o = c ? std::strstr(c, "off=") : nullptr;
    unsigned long long off, len;
    int ddir;
    if (o && std::sscanf(o, "off=%llx,len=%llx,ddir=%d", &off, &len, &ddir) == 3)
      out->push_back({off, static_cast<std::uint32_t>(len), ddir});
  }
  return ::pclose(f) == 0 && !out->empty();
}

// A file of `bytes` for fio to replay onto.
std::string data_file(const TempDir& d, std::uint64_t bytes) {
  const std::string p = d.path + "/data";
  std::ofstream(p).close();
  return ::truncate(p.c_str(), static_cast<off_t>(bytes)) == 0 ? p : std::string();
}

TEST(ReplaySchedule, SpeedNoStallSkipScaleAlign) {
  Trace t;
  t.procs.push_back({1, "a"});
  t.ios = {{0, 10000, 4096, kRead, 0, 0},
           {1000000, 20000, 4096, kWrite, 0, 0},
           {500000, 30000, 512, kTrim, 0, 0},  // earlier than the one before: order wins
           {3000000, 0, 0, kSync, 0, 0}};
  ReplaySettings s;
  s.speed = 2;
  auto v = make_schedule(t, -1, s);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].due_ns, 0u);
  EXPECT_EQ(v[1].due_ns, 500000u);
  EXPECT_EQ(v[2].due_ns, 500000u);
  EXPECT_EQ(v[3].due_ns, 1500000u);
  s.no_stall = true;
  s.skip = 1u << kTrim;
  s.scale = 2;
  s.align = 4096;
  s.align_len = true;
  v = make_schedule(t, -1, s);
  ASSERT_EQ(v.size(), 3u);
  for (const auto& r : v) EXPECT_EQ(r.due_ns, 0u);
  EXPECT_EQ(v[0].offset, 4096u);  // 10000 / 2 = 5000, down to 4096
  EXPECT_EQ(v[1].offset, 8192u);  // 20000 / 2 = 10000, down to 8192
  EXPECT_EQ(v[2].ddir, kSync);
}

TEST(ReplaySchedule, OffsetsBeyondTheDeviceWrapAligned) {
  std::vector<ReplayIo> v = {{0, 0, 4096, kRead},
                             {0, (1u << 20) + 4096 + 100, 4096, kWrite},
                             {0, (1u << 20) - 512, 4096, kRead},
                             {0, 5u << 30, 8192, kWrite}};
  std::string err;
  ASSERT_TRUE(remap_offsets(&v, 1 << 20, 1 << 20, 512, "job", &err)) << err;
  EXPECT_EQ(v[0].offset, 1u << 20);           // inside: moved by the range start
  EXPECT_EQ(v[1].offset, (1u << 20) + 4096);  // modulo, then down to 512
  EXPECT_EQ(v[2].offset, (2u << 20) - 4096);  // would end beyond: moved back
  EXPECT_EQ(v[3].offset, (1u << 20) + 0);     // 5 GiB % 1 MiB = 0
  std::vector<ReplayIo> big = {{0, 0, 2 << 20, kRead}};
  EXPECT_FALSE(remap_offsets(&big, 0, 1 << 20, 512, "t.fio:1: job 'x'", &err));
  EXPECT_NE(err.find("t.fio:1: job 'x': I/O 0 of 2097152 bytes is larger"), std::string::npos)
      << err;
}

// Captured with iostack run --trace, replayed, captured again: the same
// requests in the same order; and the same through a blkparse -d dump.
TEST(Replay, OwnBlktraceReplaysTheSameRequests) {
  TempDir d;
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[cap]\nfilename=ram:8M\nrw=randrw\nbsrange=4k-16k\nnumber_ios=300\n"
               "ioengine=io_uring\niodepth=8\ndirect=1\n",
               d.path + "/orig", &r, &err))
      << err;
  ASSERT_FALSE(r.failed());
  Trace orig;
  ASSERT_TRUE(read_traces({d.path + "/orig"}, &orig, &err)) << err;
  ASSERT_EQ(orig.ios.size(), 300u);

  ASSERT_TRUE(replay(orig, {},
                     {"--filename=ram:8M", "--ioengine=io_uring", "--iodepth=8", "--direct=1"},
                     d.path + "/rep", &r, &err))
      << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  ASSERT_EQ(r.jobs.size(), 1u);  // one process in the capture
  Trace rep;
  ASSERT_TRUE(read_traces({d.path + "/rep"}, &rep, &err)) << err;
  expect_same(requests(orig), requests(rep));

  if (!have("blkparse")) GTEST_SKIP() << "blkparse not installed (Debian package blktrace)";
  const std::string dump = d.path + "/dump.bin";
  ASSERT_EQ(
      std::system(("blkparse -q -O -D " + d.path + "/orig -i ram0 -d " + dump + " >/dev/null 2>&1")
                      .c_str()),
      0);
  Trace dumped;
  ASSERT_TRUE(read_traces({dump}, &dumped, &err)) << err;
  expect_same(requests(orig), requests(dumped));
  ReplaySettings afap;
  afap.no_stall = true;
  ASSERT_TRUE(replay(dumped, afap, {"--filename=ram:8M", "--ioengine=bio", "--iodepth=4"},
                     d.path + "/rep2", &r, &err))
      << err;
  Trace rep2;
  ASSERT_TRUE(read_traces({d.path + "/rep2"}, &rep2, &err)) << err;
  expect_same(requests(orig), requests(rep2));

  // fio reads the same dump (its read_iolog takes blkparse -d files) and
  // issues the same requests.
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  const std::string data = data_file(d, 8 << 20);
  ASSERT_FALSE(data.empty());
  std::vector<Req> fio;
  const std::string cmd = "fio --name=r --read_iolog=" + dump + " --replay_redirect=" + data +
                          " --replay_no_stall=1 --ioengine=psync --debug=io";
  if (!fio_requests(cmd, &fio)) GTEST_SKIP() << "fio could not replay here: " << cmd;
  expect_same(requests(orig), fio);
}

// Each process of the trace is a job of its own, on its own thread.
// A capture's per-cpu file rewritten as Linux 6.17 writes it with
// BLKTRACESETUP2: every record a struct blk_io_trace2 (version 8).
void rewrite_as_version8(const std::string& path) {
  std::vector<trace::TraceRecord> recs;
  std::string err;
  ASSERT_TRUE(trace::read_blktrace_file(path, &recs, &err)) << err;
  std::string out;
  for (const trace::TraceRecord& r : recs) {
    trace::BlkIoTrace2 v{};
    v.magic = trace::kBlkIoTraceMagic | trace::kBlkIoTrace2Version;
    v.sequence = r.t.sequence;
    v.time = r.t.time;
    v.sector = r.t.sector;
    v.bytes = r.t.bytes;
    v.pid = r.t.pid;
    v.action = r.t.action;
    v.device = r.t.device;
    v.cpu = r.t.cpu;
    v.error = r.t.error;
    v.pdu_len = r.t.pdu_len;
    out.append(reinterpret_cast<const char*>(&v), sizeof(v));
    out.append(r.pdu.begin(), r.pdu.end());
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << out;
}

TEST(Replay, Version8BlktraceReplaysTheSameRequests) {
  TempDir d;
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[cap]\nfilename=ram:8M\nrw=randrw\nbsrange=4k-16k\nnumber_ios=200\n"
               "ioengine=io_uring\niodepth=4\ndirect=1\n",
               d.path + "/orig", &r, &err))
      << err;
  Trace v7;
  ASSERT_TRUE(read_traces({d.path + "/orig"}, &v7, &err)) << err;
  ASSERT_EQ(v7.ios.size(), 200u);
  for (int cpu = 0;; ++cpu) {
    const std::string f = d.path + "/orig/ram0.blktrace." + std::to_string(cpu);
    if (access(f.c_str(), F_OK) != 0) break;
    rewrite_as_version8(f);
  }
  Trace v8;
  ASSERT_TRUE(read_traces({d.path + "/orig"}, &v8, &err)) << err;
  expect_same(requests(v7), requests(v8));
  ASSERT_EQ(v8.ios.size(), v7.ios.size());
  for (std::size_t i = 0; i < v7.ios.size(); ++i) {
    EXPECT_EQ(v8.ios[i].time_ns, v7.ios[i].time_ns) << i;
    EXPECT_EQ(v8.procs[v8.ios[i].proc].comm, v7.procs[v7.ios[i].proc].comm) << i;
  }
  EXPECT_EQ(v8.probed_depth, v7.probed_depth);
  ReplaySettings afap;
  afap.no_stall = true;
  ASSERT_TRUE(replay(v8, afap, {"--filename=ram:8M", "--ioengine=io_uring", "--iodepth=4"},
                     d.path + "/rep", &r, &err))
      << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  Trace rep;
  ASSERT_TRUE(read_traces({d.path + "/rep"}, &rep, &err)) << err;
  expect_same(requests(v7), requests(rep));
}

TEST(Replay, ProcessesBecomeJobsOnTheirOwnThreads) {
  Trace t;
  t.procs = {{100, "db"}, {200, "log"}};
  for (std::uint64_t i = 0; i < 40; ++i)
    t.ios.push_back(
        {i * 1000, i * 8192, 4096, i % 2 ? kWrite : kRead, static_cast<std::uint32_t>(i % 2), 0});
  TempDir d;
  RunResult r;
  std::string err;
  ASSERT_TRUE(replay(t, {}, {"--filename=ram:4M", "--ioengine=libaio", "--iodepth=4", "--direct=1"},
                     d.path, &r, &err))
      << err;
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[0].name, "db.100");
  EXPECT_EQ(r.jobs[1].name, "log.200");
  EXPECT_EQ(r.jobs[0].dir[kRead].total_io_u, 20u);
  EXPECT_EQ(r.jobs[1].dir[kWrite].total_io_u, 20u);
  EXPECT_NE(r.jobs[0].pid, r.jobs[1].pid);
  // A trace that gives a process one I/O priority: its job runs at it
  // (none of the formats read here carries one; the plumbing is ready).
  for (TraceIo& io : t.ios)
    if (io.proc == 1) io.ioprio = task::prio_value(task::kClassRt, 2);
  {
    JobFileSet set;
    std::vector<JobDef> jobs;
    ASSERT_TRUE(parse_job_args({"--filename=ram:4M"}, &set, &err));
    ASSERT_TRUE(build_replay_jobs(t, {}, &set, &jobs, &err)) << err;
    EXPECT_EQ(jobs[0].opts.prioclass, -1);
    EXPECT_EQ(jobs[1].opts.prioclass, task::kClassRt);
    EXPECT_EQ(jobs[1].opts.prio, 2);
  }
  Trace rep;
  ASSERT_TRUE(read_traces({d.path}, &rep, &err)) << err;
  ASSERT_EQ(rep.procs.size(), 2u);  // two issuing threads in the new trace
  for (const TraceIo& io : rep.ios) {
    const std::int64_t pid = rep.procs[io.proc].pid;
    EXPECT_EQ(pid, io.ddir == kRead ? r.jobs[0].pid : r.jobs[1].pid);
  }
}

// Inter-arrival times: never early (an I/O is not issued before it is
// due), and the measured error stays small. Only a loose bound is asserted:
// the median error under 2 ms; the figures are printed.
TEST(Replay, TimingFollowsTheTrace) {
  std::string log = "fio version 3 iolog\n";
  const int n = 41;
  for (int i = 0; i < n; ++i)  // every 2 ms
    log += std::to_string(i * 2000) + " /dev/x read " + std::to_string(i * 4096) + " 4096\n";
  Trace t;
  std::string err;
  ASSERT_TRUE(parse_iolog(log, "timing.log", &t, &err)) << err;
  TempDir d;
  RunResult r;
  ASSERT_TRUE(
      replay(t, {}, {"--filename=ram:4M", "--ioengine=io_uring", "--iodepth=4"}, d.path, &r, &err))
      << err;
  // Record times count from the start of the trace, which began before the
  // replay did: each queue event is at least its due time in.
  std::vector<std::vector<trace::TraceRecord>> cpus;
  ASSERT_TRUE(trace::read_blktrace(d.path, "ram0", &cpus, &err)) << err;
  std::vector<std::uint64_t> q;
  for (const auto& c : cpus)
    for (const auto& rec : c)
      if (!rec.is_notify() && (rec.t.action & trace::kActMask) == trace::kActQueue)
        q.push_back(rec.t.time);
  std::sort(q.begin(), q.end());
  ASSERT_EQ(q.size(), static_cast<std::size_t>(n));
  std::vector<double> errs;
  for (int i = 1; i < n; ++i) {
    EXPECT_GE(q[i], static_cast<std::uint64_t>(i) * 2000000) << i;
    errs.push_back(std::abs(static_cast<double>(q[i] - q[i - 1]) - 2000000.0));
  }
  std::sort(errs.begin(), errs.end());
  std::printf("replay inter-arrival error: median %.1f us, max %.1f us over %d gaps of 2 ms\n",
              errs[errs.size() / 2] / 1000, errs.back() / 1000, n - 1);
  EXPECT_LT(errs[errs.size() / 2], 2e6);
}

TEST(ReadIolog, JobOptionsAsFio) {
  TempDir d;
  const std::string log =
      d.file("a.log",
             "fio version 2 iolog\n/dev/sdz add\n/dev/sdz open\n/dev/sdz write 8192 4096\n"
             "/dev/sdz read 12288 4096\n/dev/sdz trim 0 4096\n/dev/sdz read 209715200 4096\n"
             "/dev/sdz close\n");
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  ASSERT_TRUE(parse_job_text("[r]\nreplay_redirect=ram:4M\nread_iolog=" + log +
                                 "\nreplay_scale=2\nreplay_align=4k\nreplay_skip=trim\n"
                                 "ioengine=bio\n",
                             "t.fio", &set, &err))
      << err;
  ASSERT_TRUE(build_jobs(set, &jobs, &err)) << err;
  const JobOptions& o = jobs[0].opts;
  EXPECT_EQ(o.filename, "ram:4M");
  ASSERT_TRUE(o.replay);
  ASSERT_EQ(o.replay->size(), 3u);
  EXPECT_EQ((*o.replay)[0].offset, 4096u);  // 8192 / 2
  EXPECT_EQ((*o.replay)[1].offset, 4096u);  // 12288 / 2 = 6144, aligned down
  EXPECT_TRUE(o.dir_read && o.dir_write);

  RunResult r;
  ASSERT_TRUE(run(jobs, d.path + "/t", &r, &err)) << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  Trace rep;
  ASSERT_TRUE(read_traces({d.path + "/t"}, &rep, &err)) << err;
  // 200 MiB / 2 = 100 MiB is beyond ram:4M: it wraps to 100 MiB % 4 MiB = 0.
  expect_same(requests(rep), {{4096, 4096, kWrite}, {4096, 4096, kRead}, {0, 4096, kRead}});

  // replay_no_stall and replay_time_scale act on the schedule.
  const std::string v3 = d.file("b.log",
                                "fio version 3 iolog\n0 /x add\n1000 /x read 0 4096\n"
                                "3000 /x read 4096 4096\n");
  for (const auto& [extra, due] : std::vector<std::pair<std::string, std::uint64_t>>{
           {"", 2000000}, {"replay_time_scale=200\n", 1000000}, {"replay_no_stall=1\n", 0}}) {
    JobFileSet s2;
    ASSERT_TRUE(parse_job_text("[r]\nfilename=ram:1M\nread_iolog=" + v3 + "\n" + extra, "u.fio",
                               &s2, &err));
    ASSERT_TRUE(build_jobs(s2, &jobs, &err)) << err;
    ASSERT_EQ(jobs[0].opts.replay->size(), 2u);
    EXPECT_EQ((*jobs[0].opts.replay)[1].due_ns - (*jobs[0].opts.replay)[0].due_ns, due) << extra;
  }
}

TEST(ReadIolog, TrimsReachTheDevice) {
  TempDir d;
  const std::string log = d.file("t.log",
                                 "fio version 2 iolog\n/x write 0 65536\n/x trim 0 65536\n"
                                 "/x sync 0 0\n");
  for (const char* engine : {"psync", "io_uring", "libaio", "bio"}) {
    RunResult r;
    std::string err;
    ASSERT_TRUE(run_text(std::string("[r]\nfilename=ram:1M\nread_iolog=") + log +
                             "\niodepth=4\nioengine=" + engine + "\n",
                         d.path + "/" + engine, &r, &err))
        << err;
    ASSERT_FALSE(r.failed()) << engine << ": " << r.jobs[0].verror;
    EXPECT_EQ(r.jobs[0].dir[kTrim].total_io_u, 1u) << engine;
    EXPECT_EQ(r.jobs[0].dir[kTrim].io_bytes, 65536u) << engine;
    EXPECT_EQ(r.jobs[0].total_sync, 1u) << engine;
    Trace rep;
    ASSERT_TRUE(read_traces({d.path + "/" + engine}, &rep, &err)) << err;
    std::vector<Req> got = requests(rep);
    // The flush may reach the trace as a PREFLUSH write or as an empty flush.
    ASSERT_GE(got.size(), 2u) << engine;
    EXPECT_EQ(got[0], (Req{0, 65536, kWrite})) << engine;
    EXPECT_EQ(got[1], (Req{0, 65536, kTrim})) << engine;
  }
}

// Replayed writes carry verify headers, and the verify phase reads them back.
TEST(ReadIolog, ReplayedWritesVerify) {
  TempDir d;
  const std::string log = d.file("w.log",
                                 "fio version 2 iolog\n/x write 8192 4096\n/x write 0 8192\n"
                                 "/x write 65536 4096\n");
  RunResult r;
  std::string err;
  ASSERT_TRUE(run_text(
      "[r]\nfilename=ram:1M\nread_iolog=" + log + "\nverify=crc32c\nioengine=io_uring\niodepth=4\n",
      "", &r, &err))
      << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  EXPECT_EQ(r.jobs[0].dir[kWrite].total_io_u, 3u);
  EXPECT_EQ(r.jobs[0].dir[kRead].total_io_u, 3u);  // the newest write of each range
}

TEST(ReadIolog, BadLogIsOneLineNamingTheJobAndTheLog) {
  TempDir d;
  const std::string log = d.file("bad.log", "fio version 2 iolog\n/x read zero 512\n");
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  ASSERT_TRUE(
      parse_job_text("[r]\nfilename=ram:1M\nread_iolog=" + log + "\n", "t.fio", &set, &err));
  EXPECT_FALSE(build_jobs(set, &jobs, &err));
  EXPECT_EQ(err, "t.fio:3: read_iolog: " + log + ":2: bad offset 'zero'");
  JobFileSet s2;
  ASSERT_TRUE(parse_job_text("[r]\nfilename=ram:1M\nread_iolog=/x\nreplay_align=3000\n", "t.fio",
                             &s2, &err));
  EXPECT_FALSE(build_jobs(s2, &jobs, &err));
  EXPECT_EQ(err, "t.fio:4: replay_align=3000: expected a power of 2 such as 4k");
}

// An iolog written by fio itself, replayed: the same requests in order.
TEST(ReadIolog, FioWrittenIologReplaysTheSameRequests) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  TempDir d;
  const std::string log = d.path + "/fio.log";
  const std::string cmd = "fio --name=w --filename=" + d.path +
                          "/data --size=2M --bs=4k --rw=randrw --bsrange=4k-16k "
                          "--ioengine=psync --number_ios=200 --write_iolog=" +
                          log + " --output=/dev/null >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "fio could not run here: " << cmd;
  Trace t;
  std::string err;
  ASSERT_TRUE(read_traces({log}, &t, &err)) << err;
  ASSERT_GE(t.ios.size(), 100u);
  RunResult r;
  ASSERT_TRUE(replay(t, {},
                     {"--filename=ram:4M", "--ioengine=io_uring", "--iodepth=8", "--direct=1"},
                     d.path + "/rep", &r, &err))
      << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  Trace rep;
  ASSERT_TRUE(read_traces({d.path + "/rep"}, &rep, &err)) << err;
  expect_same(requests(t), requests(rep));
}

// fio itself replaying the same log with the same replay_* options (its
// --debug=io names each I/O it completes): iostack issues the same
// requests in the same order.
TEST(ReadIolog, MatchesFioOnTheSameLogAndOptions) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  TempDir d;
  const std::string data = data_file(d, 8 << 20);
  ASSERT_FALSE(data.empty());
  // No trim and no replay_skip: fio 3.33 (Debian 12) drops an iolog's trims
  // and applies replay_skip to blktrace logs only; newer fio (and iostack)
  // replay trims and skip in iologs too.
  const std::string log = d.file("in.log",
                                 "fio version 2 iolog\n/dev/sdz add\n/dev/sdz open\n"
                                 "/dev/sdz write 8192 4096\n/dev/sdz read 12288 4096\n"
                                 "/dev/sdz read 1048577 8192\n/dev/sdz write 3000000 4096\n"
                                 "/dev/sdz write 7340032 16384\n/dev/sdz read 123456 512\n"
                                 "/dev/sdz close\n");
  for (const std::vector<std::string>& opts :
       {std::vector<std::string>{"replay_align=512"},
        std::vector<std::string>{"replay_scale=2", "replay_align=4096"},
        std::vector<std::string>{"replay_scale=3", "replay_align=65536"}}) {
    std::string cmd = "fio --name=r --read_iolog=" + log + " --replay_redirect=" + data +
                      " --ioengine=psync --debug=io";
    std::string job = "[r]\nfilename=ram:8M\nioengine=psync\nread_iolog=" + log + "\n";
    for (const auto& o : opts) {
      cmd += " --" + o;
      job += o + "\n";
    }
    std::vector<Req> fio;
    if (!fio_requests(cmd, &fio)) GTEST_SKIP() << "fio could not replay here: " << cmd;
    RunResult r;
    std::string err;
    const std::string dir = d.path + "/t" + std::to_string(opts.size());
    ASSERT_TRUE(run_text(job, dir, &r, &err)) << err;
    ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
    Trace rep;
    ASSERT_TRUE(read_traces({dir}, &rep, &err)) << err;
    SCOPED_TRACE(job);
    expect_same(fio, requests(rep));
  }
}

}  // namespace
}  // namespace iostack::job
