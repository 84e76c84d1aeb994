// fio's io_uring and libaio engine options at work, in process: each one
// must change what reaches iostack's rings and devices, and every I/O must
// still complete (and verify, where the job writes).
#include <dirent.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "job/job_file.hpp"
#include "job/runner.hpp"

namespace iostack::job {
namespace {

bool run_text(const std::string& text, RunResult* r, std::string* err,
              const RunOptions& ro = RunOptions{}) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_text(text, "t.fio", &set, err) || !build_jobs(set, &jobs, err)) return false;
  Runner runner;
  if (!runner.prepare(jobs, err)) return false;
  return runner.run(ro, r, err);
}

RunResult run_ok(const std::string& text, const RunOptions& ro = RunOptions{}) {
  RunResult r;
  std::string err;
  EXPECT_TRUE(run_text(text, &r, &err, ro)) << err;
  for (const auto& j : r.jobs) {
    EXPECT_EQ(j.error, 0) << j.name << ": " << j.verror;
    for (int d = 0; d < kRwDirs; ++d) EXPECT_EQ(j.dir[d].total_io_u, j.dir[d].clat.samples);
  }
  return r;
}

std::uint64_t ios(const ThreadStat& j) {
  return j.dir[kRead].total_io_u + j.dir[kWrite].total_io_u;
}

// Threads of this process whose name starts with `prefix`.
int threads_named(const std::string& prefix) {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string comm;
    std::getline(f, comm);
    if (comm.rfind(prefix, 0) == 0) ++n;
  }
  closedir(d);
  return n;
}

const char* kWriteVerify =
    "[global]\nfilename=ram:16M\nioengine=io_uring\nrw=randwrite\nbs=4k\nsize=4M\n"
    "iodepth=16\nverify=crc32c\n";

TEST(EngineOptions, FixedbufsIssuesReadFixedAndWriteFixed) {
  RunResult r = run_ok(std::string(kWriteVerify) + "[j]\nfixedbufs\n");
  ASSERT_EQ(r.jobs.size(), 1u);
  const ThreadStat& j = r.jobs[0];
  EXPECT_EQ(j.dir[kWrite].total_io_u, 1024u);
  EXPECT_EQ(j.dir[kRead].total_io_u, 1024u) << "every block read back and checked";
  EXPECT_EQ(j.engine.fixed_buf_ios, ios(j)) << "every read and write was a *_FIXED SQE";
  EXPECT_EQ(j.engine.fixed_file_ios, 0u);
  // Without the option: plain READ/WRITE.
  r = run_ok(std::string(kWriteVerify) + "[j]\n");
  EXPECT_EQ(r.jobs[0].engine.fixed_buf_ios, 0u);
}

TEST(EngineOptions, FixedbufsWithVariableSizesAndDirect) {
  const RunResult r = run_ok(
      "[j]\nfilename=ram:16M\nioengine=io_uring\nrw=write\nbsrange=4k-128k\nsize=8M\n"
      "direct=1\niodepth=8\nverify=md5\nfixedbufs=1\n");
  EXPECT_EQ(r.jobs[0].engine.fixed_buf_ios, ios(r.jobs[0]));
  EXPECT_EQ(r.jobs[0].dir[kRead].io_bytes, 8u << 20);
}

TEST(EngineOptions, RegisterfilesUsesFixedFile) {
  const RunResult r = run_ok(std::string(kWriteVerify) + "[j]\nregisterfiles\nfsync=64\n");
  const ThreadStat& j = r.jobs[0];
  EXPECT_GT(j.total_sync, 0u);
  EXPECT_EQ(j.engine.fixed_file_ios, ios(j) + j.total_sync) << "syncs too go by index";
}

TEST(EngineOptions, SqthreadPollSubmitsWithoutEntering) {
  int sq_threads = -1;
  RunOptions ro;
  ro.on_start = [&](int) {
    // The thread names itself once it runs: give it a moment.
    for (int i = 0; i < 200 && (sq_threads = threads_named("iou-sqp-")) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  const int before = threads_named("iou-sqp-");
  const RunResult r = run_ok(std::string(kWriteVerify) + "[j]\nsqthread_poll\n", ro);
  EXPECT_EQ(sq_threads, before + 1) << "the ring's SQ polling thread runs";
  const ThreadStat& j = r.jobs[0];
  EXPECT_EQ(ios(j), 2048u);
  EXPECT_EQ(j.engine.fixed_file_ios, ios(j)) << "sqthread_poll implies registerfiles";
  // Without SQPOLL each batch is one enter to submit, more to wait.
  // Enters only wake the thread: when it has gone idle, or (every commit
  // until it runs again) while IORING_SQ_NEED_WAKEUP is still up.
  EXPECT_LT(j.engine.enter_calls, ios(j) / 20);
  EXPECT_EQ(j.engine.enter_calls, j.engine.sq_wakeups);
  const RunResult plain = run_ok(std::string(kWriteVerify) + "[j]\n");
  EXPECT_GE(plain.jobs[0].engine.enter_calls, ios(plain.jobs[0]));
}

TEST(EngineOptions, SqthreadPollOnACpuWithEveryOption) {
  const RunResult r = run_ok(std::string(kWriteVerify) +
                             "[j]\nsqthread_poll=1\nsqthread_poll_cpu=0\nfixedbufs\nhipri\n");
  EXPECT_EQ(r.jobs[0].engine.fixed_buf_ios, ios(r.jobs[0]));
  std::string err;
  RunResult bad;
  EXPECT_FALSE(run_text(std::string(kWriteVerify) + "[j]\nsqthread_poll\nsqthread_poll_cpu=4095\n",
                        &bad, &err));
  EXPECT_NE(err.find("io_uring_setup (sqthread_poll): Invalid argument"), std::string::npos) << err;
}

// The share of requests mq-deadline saw in each class.
double rt_share(const DiskReport& d) {
  const double rt = d.prio_stats[0].completed, be = d.prio_stats[1].completed;
  return rt / (rt + be);
}

TEST(EngineOptions, CmdprioPercentageReachesMqDeadlineAsRt) {
  for (const char* engine : {"io_uring", "libaio"}) {
    const RunResult r = run_ok(std::string("[j]\nfilename=ram:64M\nioscheduler=mq-deadline\n") +
                               "ioengine=" + engine +
                               "\nrw=randread\nbs=4k\nsize=16M\ndirect=1\niodepth=16\n"
                               "cmdprio_percentage=50\ncmdprio_class=1\n");
    ASSERT_EQ(r.disks.size(), 1u);
    ASSERT_TRUE(r.disks[0].has_prio_stats);
    const ThreadStat& j = r.jobs[0];
    EXPECT_EQ(ios(j), 4096u);
    // Binomial(4096, 0.5): the standard deviation is under 1%.
    EXPECT_NEAR(static_cast<double>(j.engine.prio_ios) / 4096.0, 0.5, 0.05) << engine;
    EXPECT_NEAR(rt_share(r.disks[0]), 0.5, 0.05) << engine;
    // Random 4k reads barely merge: the RT requests are those I/Os.
    EXPECT_LE(r.disks[0].prio_stats[0].completed, j.engine.prio_ios) << engine;
    EXPECT_GE(r.disks[0].prio_stats[0].completed + 20, j.engine.prio_ios) << engine;
    EXPECT_EQ(r.disks[0].prio_stats[2].completed, 0u);
  }
}

TEST(EngineOptions, CmdprioPerDirectionClassAndLevel) {
  // Writes only, all of them, as IDLE: the reads stay best effort.
  const RunResult r = run_ok(
      "[j]\nfilename=ram:64M\nioengine=libaio\nrw=randrw\nbs=4k\nsize=8M\ndirect=1\n"
      "iodepth=8\nnorandommap\ncmdprio_percentage=0,100\ncmdprio_class=1,3\ncmdprio=0,7\n");
  const ThreadStat& j = r.jobs[0];
  const auto& dd = r.disks[0].prio_stats;
  EXPECT_EQ(j.engine.prio_ios, j.dir[kWrite].total_io_u);
  EXPECT_EQ(dd[0].completed, 0u);
  EXPECT_GT(dd[2].completed, 0u);
  EXPECT_LE(dd[2].completed, j.dir[kWrite].total_io_u);
  EXPECT_GE(dd[2].completed + dd[2].merged + 50, j.dir[kWrite].total_io_u);
  EXPECT_GE(dd[1].completed + dd[1].merged + 50, j.dir[kRead].total_io_u);
}

TEST(EngineOptions, CmdprioUnderSqthreadPoll) {
  // The SQ thread submits: the priority travels in the SQE, not the thread.
  const RunResult r = run_ok(
      "[j]\nfilename=ram:64M\nioengine=io_uring\nrw=randread\nbs=4k\nsize=4M\n"
      "iodepth=8\nsqthread_poll\ncmdprio_percentage=100\n");
  EXPECT_EQ(r.jobs[0].engine.prio_ios, 1024u);
  EXPECT_EQ(r.disks[0].prio_stats[1].completed, 0u);
  EXPECT_GT(r.disks[0].prio_stats[0].completed, 1000u);
}

TEST(EngineOptions, CmdprioBssplitPicksBySize) {
  // norandommap: with the map, 64k reads that run into blocks already read
  // are cut short (as fio's axmap_set_nr does) and no longer match 64k.
  const RunResult r = run_ok(
      "[j]\nfilename=ram:64M\nioengine=io_uring\nrw=randread\nbssplit=4k/50:64k/50\n"
      "size=32M\niodepth=8\ncmdprio_bssplit=64k/100:4k/0\nnorandommap\n");
  const ThreadStat& j = r.jobs[0];
  const auto& dd = r.disks[0].prio_stats;
  EXPECT_NEAR(static_cast<double>(j.engine.prio_ios) / static_cast<double>(ios(j)), 0.5, 0.07);
  // The 64k reads are the RT ones: they carry 16 times the bytes.
  EXPECT_GT(dd[0].completed, 0u);
  EXPECT_NEAR(static_cast<double>(dd[0].completed) / static_cast<double>(ios(j)), 0.5, 0.07);
}

TEST(EngineOptions, UserspaceReapSkipsIoGetevents) {
  const std::string job =
      "[j]\nfilename=ram:16M\nioengine=libaio\nrw=randwrite\nbs=4k\nsize=4M\niodepth=16\n"
      "verify=crc32c\n";
  RunResult r = run_ok(job + "iodepth_batch_complete_min=0\nuserspace_reap\n");
  const ThreadStat& j = r.jobs[0];
  EXPECT_EQ(ios(j), 2048u);
  EXPECT_EQ(j.engine.getevents_calls, 0u);
  EXPECT_EQ(j.engine.user_reaped, 2048u) << "every completion read from the ring";
  // Without it, or when the job waits for a minimum (fio's actual_min),
  // io_getevents reaps.
  for (const char* extra : {"iodepth_batch_complete_min=0\n", "userspace_reap\n"}) {
    r = run_ok(job + extra);
    EXPECT_GT(r.jobs[0].engine.getevents_calls, 0u) << extra;
    EXPECT_EQ(r.jobs[0].engine.user_reaped, 0u) << extra;
  }
}

}  // namespace
}  // namespace iostack::job
