// clock=virtual run twice in one process through the library (as iostack
// run does): nothing left behind by the first run (thread caches, pools,
// counters, lazily set-up state) may change the second's virtual results.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "../common/temp_dir.hpp"
#include "job/job_file.hpp"
#include "job/report_text.hpp"
#include "job/runner.hpp"

namespace iostack::job {
namespace {

namespace fs = std::filesystem;

// The report without its wall-clock parts: the date after each pid, the cpu
// line and the real time the run took.
std::string without_wall_clock(const std::string& s) {
  std::string t = std::regex_replace(s, std::regex(R"((pid=\d+: ).*)"), "$1DATE");
  t = std::regex_replace(t, std::regex(R"(  cpu          : .*)"), "  cpu: CPU");
  return std::regex_replace(t, std::regex(R"(of virtual time in .* of real time)"), "REAL");
}

struct RunOut {
  std::string report;
  std::map<std::string, std::string> traces;  // file name -> bytes
  std::uint64_t virtual_ns = 0;
};

RunOut run_once(const std::string& text, const std::string& trace_dir) {
  RunOut out;
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  EXPECT_TRUE(parse_job_text(text, "t.fio", &set, &err)) << err;
  EXPECT_TRUE(build_jobs(set, &jobs, &err)) << err;
  Runner runner;
  EXPECT_TRUE(runner.prepare(jobs, &err)) << err;
  RunOptions ro;
  ro.trace_dir = trace_dir;
  RunResult r;
  EXPECT_TRUE(runner.run(ro, &r, &err)) << err;
  EXPECT_FALSE(r.failed());
  EXPECT_TRUE(r.virtual_clock);
  out.virtual_ns = r.virtual_ns;
  out.report = without_wall_clock(format_report(r));
  for (const auto& e : fs::directory_iterator(trace_dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out.traces[e.path().filename()] = ss.str();
  }
  return out;
}

// A writer that fills the device first, then a reader and a writer mixed,
// then a stonewalled sequential writer: pools, plugs, the scheduler's
// timers and the device's state all get used.
std::string mixed_jobs(const std::string& dev, const std::string& sched) {
  return "[global]\nclock=virtual\nfilename=" + dev + "\nioscheduler=" + sched +
         "\nbs=4k\nsize=16m\nrandrepeat=1\n"
         "[fill]\nioengine=bio\nrw=write\nbs=128k\niodepth=4\n"
         "[reader]\nstonewall\nioengine=bio\nrw=randread\niodepth=8\nruntime=200ms\ntime_based\n"
         "[writer]\nioengine=psync\nrw=randwrite\nruntime=200ms\ntime_based\n"
         "[seq]\nstonewall\nioengine=bio\nrw=write\niodepth=8\nio_size=2m\n";
}

// A reader that ends while an best-effort level 7 writer goes on: the reader's task
// exits mid-run, and with bfq dropping its io_context expires its queue and
// runs the device queue. That exit once came whenever the OS ended the
// thread, so the writer's requests were dispatched at different points.
std::string reader_ends_first(const std::string& dev, const std::string& sched) {
  return "[global]\nclock=virtual\nfilename=" + dev + "\nioscheduler=" + sched +
         "\nsize=32m\n"
         "[w]\nioengine=bio\nrw=write\nbs=4k\niodepth=16\nrate=20m\nio_size=8m\n"
         "prio=7\nprioclass=2\n"
         "[r]\nioengine=pvsync2\nrw=read\nbs=64k\nio_size=8m\n";
}

TEST(VirtualRepeat, SameJobTwiceInOneProcessIsIdentical) {
  for (const char* dev : {"hdd:4G", "ssd:1G"}) {
    for (const char* sched : {"none", "mq-deadline", "kyber", "bfq"}) {
      test::TempDir dir;
      const std::string text = mixed_jobs(dev, sched);
      const RunOut a = run_once(text, dir.path + "/a");
      const RunOut b = run_once(text, dir.path + "/b");
      ASSERT_FALSE(a.traces.empty());
      EXPECT_EQ(a.virtual_ns, b.virtual_ns) << dev << " " << sched;
      EXPECT_EQ(a.report, b.report) << dev << " " << sched;
      EXPECT_TRUE(a.traces == b.traces) << dev << " " << sched << ": traces differ";
      // Not trivial: the stonewalled jobs all ran and the clock moved.
      EXPECT_GT(a.virtual_ns, 200000000u) << dev << " " << sched;
    }
  }
}

// The thread-exit race showed in one test run of three or so: several runs each.
TEST(VirtualRepeat, AJobThatEndsEarlyEndsAtTheSameVirtualPoint) {
  for (const char* dev : {"hdd:4G", "ssd:1G"}) {
    for (const char* sched : {"none", "mq-deadline", "kyber", "bfq"}) {
      test::TempDir dir;
      const std::string text = reader_ends_first(dev, sched);
      const RunOut a = run_once(text, dir.path + "/a");
      ASSERT_FALSE(a.traces.empty());
      EXPECT_GT(a.virtual_ns, 390000000u) << dev << " " << sched << ": 8 MiB at 20 MiB/s";
      for (int i = 1; i < 6; ++i) {
        const RunOut b = run_once(text, dir.path + "/b" + std::to_string(i));
        EXPECT_EQ(a.report, b.report) << dev << " " << sched << " run " << i;
        EXPECT_TRUE(a.traces == b.traces) << dev << " " << sched << " run " << i;
      }
    }
  }
}

}  // namespace
}  // namespace iostack::job
