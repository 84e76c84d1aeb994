// iostack run --clock=virtual: repeatable runs, virtual seconds for the
// timing options, and the engines and devices that refuse virtual time.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

namespace fs = std::filesystem;

// The text report without its wall-clock parts: the date after each job's
// pid, the cpu line, and the real time the run took.
std::string text_without_wall_clock(const std::string& s) {
  std::string t = std::regex_replace(s, std::regex(R"((pid=\d+: ).*)"), "$1DATE");
  t = std::regex_replace(t, std::regex(R"(  cpu          : .*)"), "  cpu: CPU");
  return std::regex_replace(t, std::regex(R"(of virtual time in .* of real time)"), "REAL");
}

nlohmann::json json_without_wall_clock(nlohmann::json j) {
  for (const char* k : {"time", "timestamp", "timestamp_ms"}) j.erase(k);
  j["iostack_clock"].erase("real_ns");
  for (auto& job : j["jobs"])
    for (const char* k : {"job_start", "usr_cpu", "sys_cpu", "ctx", "majf", "minf"}) job.erase(k);
  return j;
}

// Every file of `dir`, name -> contents.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) m[e.path().filename()] = slurp(e.path());
  return m;
}

// Two jobs in different engines plus a stonewalled third; the scheduler's
// timers (mq-deadline's expiry, kyber's windows) and plugging all run.
std::string two_jobs(const std::string& dev, const std::string& sched, const std::string& logs) {
  return "[global]\nclock=virtual\nfilename=" + dev + "\nioscheduler=" + sched +
         "\nbs=4k\nsize=64m\nrandrepeat=1\n"
         "[reader]\nioengine=bio\nrw=randread\niodepth=16\nruntime=1s\ntime_based\n"
         "write_lat_log=" +
         logs +
         "\nlog_avg_msec=100\n"
         "[writer]\nioengine=psync\nrw=randwrite\nruntime=1s\ntime_based\n"
         "[seq]\nstonewall\nioengine=bio\nrw=write\niodepth=8\nio_size=8m\n";
}

TEST(VirtualClock, SameJobTwiceGivesTheSameReportAndTrace) {
  for (const auto& [dev, sched] : {std::pair<std::string, std::string>{"hdd:16G", "mq-deadline"},
                                   {"ssd:4G", "kyber"},
                                   {"ssd:4G", "mq-deadline"}}) {
    std::string text[2], trace_dir[2];
    nlohmann::json js[2];
    std::map<std::string, std::string> traces[2], logs[2];
    // The log prefix is a job option the JSON report shows: the same for both.
    const std::string dir = temp_dir();
    const std::string job = write_file("vt.fio", two_jobs(dev, sched, dir + "/lat"));
    for (int i = 0; i < 2; ++i) {
      trace_dir[i] = dir + "/trace" + std::to_string(i);
      const Result t = run("run --trace=" + trace_dir[i] + " " + job);
      ASSERT_EQ(t.rc, 0) << t.err;
      text[i] = text_without_wall_clock(t.out);
      traces[i] = files_of(trace_dir[i]);
      for (const auto& [name, body] : files_of(dir))
        if (name.rfind("lat_", 0) == 0) logs[i][name] = body;
      const Result j = run("run --output-format=json " + job);
      ASSERT_EQ(j.rc, 0) << j.err;
      js[i] = nlohmann::json::parse(j.out);
    }
    EXPECT_EQ(text[0], text[1]) << dev << " " << sched;
    EXPECT_EQ(json_without_wall_clock(js[0]), json_without_wall_clock(js[1])) << dev;
    ASSERT_FALSE(traces[0].empty());
    EXPECT_EQ(traces[0], traces[1]) << dev << " " << sched;  // byte for byte
    EXPECT_EQ(logs[0].size(), 3u) << "lat, slat and clat logs";
    EXPECT_EQ(logs[0], logs[1]) << dev;
    // Not a trivial run: both jobs did I/O, and the run took its virtual second.
    const auto& jobs = js[0]["jobs"];
    ASSERT_EQ(jobs.size(), 3u);
    EXPECT_GT(jobs[0]["read"]["total_ios"].get<std::uint64_t>(), 50u) << dev;
    EXPECT_GT(jobs[1]["write"]["total_ios"].get<std::uint64_t>(), 50u) << dev;
    EXPECT_EQ(jobs[2]["write"]["io_bytes"].get<std::uint64_t>(), 8u << 20);
    EXPECT_EQ(js[0]["iostack_clock"]["clock"], "virtual");
    EXPECT_GE(js[0]["iostack_clock"]["virtual_ns"].get<std::uint64_t>(), 1000000000u);
    EXPECT_NE(text[0].find("pid=1001: "), std::string::npos) << text[0];
    EXPECT_NE(text[0].find("\nVirtual clock: "), std::string::npos);
    EXPECT_NE(traces[0].begin()->second.size(), 0u);
  }
}

TEST(VirtualClock, SixtyVirtualSecondsTakeFarLessRealTime) {
  const auto t0 = std::chrono::steady_clock::now();
  const Result r =
      run("run --clock=virtual --output-format=json --name=j --filename=hdd:1T "
          "--ioengine=psync --rw=randread --bs=4k --runtime=60 --time_based");
  const auto real = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto vns = j["iostack_clock"]["virtual_ns"].get<std::uint64_t>();
  // The run ends with its last read, which started before the 60 s mark.
  EXPECT_GE(vns, 60000000000u);
  EXPECT_LT(vns, 60100000000u);
  const auto& rd = j["jobs"][0]["read"];
  EXPECT_GE(rd["runtime"].get<std::uint64_t>(), 60000u);
  // About 80 random reads a second on a 7200 rpm disk.
  EXPECT_GT(rd["total_ios"].get<std::uint64_t>(), 3000u);
  EXPECT_LT(rd["total_ios"].get<std::uint64_t>(), 9000u);
  EXPECT_LT(real, std::chrono::seconds(30));
}

std::uint64_t ios_of(const std::string& args, const char* dir = "read") {
  const Result r = run("run --clock=virtual --output-format=json --name=j --bs=4k " + args);
  EXPECT_EQ(r.rc, 0) << r.err;
  if (r.rc) return 0;
  return nlohmann::json::parse(r.out)["jobs"][0][dir]["total_ios"].get<std::uint64_t>();
}

TEST(VirtualClock, RatesAndThinktimeAreExactInVirtualSeconds) {
  // On a RAM disk an I/O takes no virtual time: only the pauses count.
  const std::string ram = "--filename=ram:64M --rw=randread --runtime=2 --time_based ";
  EXPECT_EQ(ios_of(ram + "--ioengine=psync --rate_iops=500"), 1000u);
  EXPECT_EQ(ios_of(ram + "--ioengine=bio --iodepth=8 --rate_iops=500"), 1000u);
  EXPECT_EQ(ios_of(ram + "--ioengine=psync --rate=2m"), 1024u);  // 512 x 4 KiB a second
  EXPECT_EQ(ios_of(ram + "--ioengine=psync --thinktime=1ms"), 2000u);
  EXPECT_EQ(ios_of(ram + "--ioengine=psync --thinktime=1000 --thinktime_blocks=4"), 8000u);
  EXPECT_EQ(ios_of(ram + "--ioengine=psync --thinktime_spin=500us --thinktime=1ms"), 2000u);
  // ramp_time and startdelay are virtual seconds too: only the second after
  // the ramp counts.
  EXPECT_EQ(ios_of("--filename=ram:64M --rw=randwrite --runtime=1 --time_based --ramp_time=1 "
                   "--startdelay=3 --ioengine=psync --rate_iops=250",
                   "write"),
            250u);
  // A disk slower than the rate keeps up with 50 reads a second exactly.
  EXPECT_EQ(ios_of("--filename=hdd:1T --rw=randread --runtime=2 --time_based --ioengine=pvsync "
                   "--rate_iops=50"),
            100u);
}

TEST(VirtualClock, RefusesWhatRunsInRealTime) {
  const std::string file = write_file("vt-loop.img", std::string(1 << 20, '\0'));
  struct Case {
    std::string args, want;
  };
  const Case cases[] = {
      {"--clock=sometimes --name=j --filename=ram:1M",
       "--clock=sometimes: expected real or virtual"},
      {"--clock=virtual --name=j --filename=ram:1M --ioengine=io_uring",
       "ioengine=io_uring: runs in real time only"},
      {"--clock=virtual --name=j --filename=ram:1M --ioengine=libaio",
       "ioengine=libaio: runs in real time only"},
      {"--clock=virtual --name=j --filename=" + file,
       "a file (loop device) runs in real time only"},
      {"--clock=virtual --name=j --filename=delay,read_ms=1:loop:" + file,
       "a file (loop device) runs in real time only"},
      {write_file("vt-bad.fio", "[global]\nclock=sometimes\n[j]\nfilename=ram:1M\n"),
       "vt-bad.fio:2: clock=sometimes: expected real or virtual"},
      {write_file("vt-job.fio", "[j]\nfilename=ram:1M\nclock=virtual\n"),
       "vt-job.fio:3: clock: set it in [global]"},
      {write_file("vt-uring.fio",
                  "[global]\nclock=virtual\n[j]\nfilename=ram:1M\nioengine=io_uring\n"),
       "vt-uring.fio:5: ioengine=io_uring: runs in real time only"},
  };
  for (const Case& c : cases) {
    const Result r = run("run " + c.args);
    EXPECT_EQ(r.rc, 1) << c.args;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.out.find("Starting"), std::string::npos) << "nothing ran";
  }
  // clock=real is the default, and may be said.
  const Result ok = run("run --clock=real --name=j --filename=ram:1M --size=64k");
  EXPECT_EQ(ok.rc, 0) << ok.err;
  EXPECT_EQ(ok.out.find("Virtual clock"), std::string::npos);
}

}  // namespace
}  // namespace iostack::tool::test
