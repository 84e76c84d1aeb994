// Whole runs in process: counts, verify, device settings and errors.
#include "job/runner.hpp"

#include <gtest/gtest.h>

#include "job/job_file.hpp"
#include "job/report_text.hpp"

namespace iostack::job {
namespace {

bool run_text(const std::string& text, RunResult* r, std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_text(text, "t.fio", &set, err) || !build_jobs(set, &jobs, err)) return false;
  Runner runner;
  if (!runner.prepare(jobs, err)) return false;
  return runner.run(RunOptions{}, r, err);
}

std::uint64_t rw_ios(const RunResult& r) {
  std::uint64_t n = 0;
  for (const auto& j : r.jobs) n += j.dir[kRead].total_io_u + j.dir[kWrite].total_io_u;
  return n;
}

TEST(Runner, EveryIssuedIoCompletesAndReachesTheDevice) {
  for (const char* engine : {"bio", "psync", "libaio", "io_uring"}) {
    RunResult r;
    std::string err;
    ASSERT_TRUE(run_text(std::string("[global]\nfilename=ram:8M\nbs=4k\niodepth=16\n"
                                     "ioengine=") +
                             engine +
                             "\n[mix]\nrw=randrw\nnumjobs=2\n[seq]\nstonewall\nrw=write\n"
                             "bsrange=4k-64k\niodepth_batch_submit=8\n",
                         &r, &err))
        << err;
    ASSERT_EQ(r.jobs.size(), 3u);
    for (const auto& j : r.jobs) {
      EXPECT_EQ(j.error, 0);
      for (int d = 0; d < kRwDirs; ++d)
        EXPECT_EQ(j.dir[d].total_io_u, j.dir[d].clat.samples) << engine << " " << j.name;
    }
    EXPECT_EQ(r.jobs[0].dir[kRead].io_bytes + r.jobs[0].dir[kWrite].io_bytes, 8u << 20);
    ASSERT_EQ(r.disks.size(), 1u);
    const auto& s = r.disks[0].stats;
    EXPECT_EQ(rw_ios(r) + r.disks[0].splits,
              s.read.ios + s.write.ios + s.read.merges + s.write.merges)
        << engine;
  }
}

TEST(Runner, GroupReportingMergesClones) {
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[g]\nfilename=ram:4M\nioengine=bio\nrw=randread\nnumjobs=3\n"
               "group_reporting\n",
               &r, &err))
      << err;
  ASSERT_EQ(r.jobs.size(), 1u);
  EXPECT_EQ(r.jobs[0].members, 3);
  EXPECT_EQ(r.jobs[0].dir[kRead].io_bytes, 3u * (4u << 20));
}

TEST(Runner, VerifyCatchesABlockOverwrittenBehindItsBack) {
  RunResult r;
  std::string err;
  testing::internal::CaptureStderr();
  ASSERT_TRUE(
      run_text("[global]\nfilename=null:16M,memory_backed=1,irqmode=0\nioengine=bio\n"
               "iodepth=4\nsize=256k\n"
               "[w]\nrw=randwrite\nverify=md5\n"
               "[corrupt]\nstonewall\nrw=write\noffset=128k\nsize=4k\n"
               "[r]\nstonewall\nrw=read\nverify=md5\n",
               &r, &err))
      << err;
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.jobs[0].error, 0) << "the writer's own read-back passes";
  EXPECT_EQ(r.jobs[2].error, EILSEQ);
  EXPECT_TRUE(r.failed());
  EXPECT_NE(out.find("offset 131072"), std::string::npos) << out;
}

TEST(Runner, SettingsOfALaterGroupWaitForIt) {
  // Group 1 switches to none; group 0 must still run under mq-deadline, and
  // a setting that only the twin check sees must not leak into the device.
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  ASSERT_TRUE(
      parse_job_text("[global]\nfilename=ram:4M\nioengine=bio\nsize=64k\n[a]\n"
                     "[b]\nstonewall\nioscheduler=none\n",
                     "t.fio", &set, &err));
  ASSERT_TRUE(build_jobs(set, &jobs, &err));
  Runner runner;
  ASSERT_TRUE(runner.prepare(jobs, &err)) << err;
  RunResult r;
  ASSERT_TRUE(runner.run(RunOptions{}, &r, &err)) << err;
  EXPECT_EQ(r.jobs.size(), 2u);
}

TEST(Runner, BadDeviceSettingsFailBeforeAnyIo) {
  std::string err;
  RunResult r;
  EXPECT_FALSE(run_text("[a]\nfilename=ram:4M\niosched/read_expire=soon\n", &r, &err));
  EXPECT_EQ(err, "t.fio:3: iosched/read_expire=soon: rejected by ram0 (Invalid argument)");
  EXPECT_FALSE(
      run_text("[a]\nfilename=ram:4M\nioscheduler=none\niosched/fifo_batch=8\n", &r, &err));
  EXPECT_EQ(err,
            "t.fio:4: iosched/fifo_batch=8: scheduler none of ram0 has no tunable 'fifo_batch'");
  EXPECT_FALSE(run_text("[a]\nfilename=ram:4M\nsize=8M\n", &r, &err));
  EXPECT_EQ(err, "t.fio:3: size=8M (8192KiB): larger than ram0 (4096KiB)");
  EXPECT_FALSE(run_text("[a]\nfilename=ram:4M\nioscheduler=cfq\n", &r, &err));
  EXPECT_EQ(err, "t.fio:3: ioscheduler=cfq: rejected by ram0 (Invalid argument)");
  EXPECT_FALSE(run_text("[a]\nfilename=/var/tmp/disk.img\n", &r, &err));
  // A plain path attaches a loop device, which needs the file to exist.
  EXPECT_EQ(err,
            "t.fio:2: filename=/var/tmp/disk.img: loop: cannot open /var/tmp/disk.img: No such "
            "file or directory");
}

TEST(Runner, FsyncIssuesFlushes) {
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[f]\nfilename=null:16M,irqmode=0,write_cache=1\nioengine=bio\n"
               "rw=write\nsize=1M\nfsync=16\n",
               &r, &err))
      << err;
  EXPECT_EQ(r.jobs[0].total_sync, 15u) << "after every 16 of 256 writes, but not after the last";
  EXPECT_EQ(r.jobs[0].sync_lat.samples, 15u);
}

// The simulated disks' own counters reach the report (real time: each
// request waits out its service time, here well under a second in all).
TEST(Runner, SimulatedDisksReportTheirCounters) {
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[global]\nbs=4k\nioengine=psync\n"
               "[hdd]\nfilename=hdd:64M\nrw=write\nsize=256k\nfsync=16\n"
               "[ssd]\nfilename=ssd:16M\nrw=randwrite\nsize=1M\n",
               &r, &err))
      << err;
  ASSERT_EQ(r.disks.size(), 2u);
  auto counter = [&](std::size_t d, const std::string& name) {
    for (const auto& [k, v] : r.disks[d].device_counters)
      if (k == name) return v;
    return -1.0;
  };
  EXPECT_EQ(r.disks[0].name.substr(0, 2), "sd");
  EXPECT_EQ(counter(0, "cached_writes"), 64.0);
  EXPECT_EQ(counter(0, "flushes"), 3.0);  // fsync=16: not after the last write
  EXPECT_GE(counter(0, "destages"), 1.0);
  EXPECT_EQ(counter(1, "host_pages"), 256.0);
  EXPECT_EQ(counter(1, "write_amp"), 1.0);
  EXPECT_NE(format_report(r).find("    device: seeks="), std::string::npos);
}

}  // namespace
}  // namespace iostack::job
