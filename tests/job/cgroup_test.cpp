// fio's cgroup= and cgroup_weight= under bfq: two sequential readers in
// cgroups of weights 100 and 300 on simulated disks in virtual time share
// the sectors 1:3, as B-WF2Q+ gives; bad weights are one line each.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "job/job_file.hpp"
#include "job/runner.hpp"

namespace iostack::job {
namespace {

// Bytes read by each job of the job file.
std::map<std::string, std::uint64_t> read_bytes(const std::string& text) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  std::map<std::string, std::uint64_t> out;
  EXPECT_TRUE(parse_job_text(text, "t.fio", &set, &err)) << err;
  EXPECT_TRUE(build_jobs(set, &jobs, &err)) << err;
  Runner runner;
  EXPECT_TRUE(runner.prepare(jobs, &err)) << err;
  RunResult r;
  EXPECT_TRUE(runner.run(RunOptions{}, &r, &err)) << err;
  EXPECT_FALSE(r.failed());
  for (const ThreadStat& t : r.jobs) out[t.name] = t.dir[kRead].io_bytes;
  return out;
}

std::string two_readers(const std::string& disk, const std::string& far, unsigned w_light,
                        unsigned w_heavy, const char* runtime = "20") {
  return "[global]\nclock=virtual\nfilename=" + disk + "\nioscheduler=bfq\nruntime=" + runtime +
         "\ntime_based\nioengine=psync\ndirect=1\nrw=read\n"
         "bs=64k\n[light]\ncgroup=jobtest/" +
         disk.substr(0, 3) + "/light\ncgroup_weight=" + std::to_string(w_light) +
         "\n[heavy]\ncgroup=jobtest/" + disk.substr(0, 3) +
         "/heavy\ncgroup_weight=" + std::to_string(w_heavy) + "\noffset=" + far + "\n";
}

double heavy_share(const std::string& text) {
  auto b = read_bytes(text);
  EXPECT_GT(b["light"], 0u);
  return static_cast<double>(b["heavy"]) / static_cast<double>(b["light"] + b["heavy"]);
}

TEST(JobCgroup, WeightsSplitAnHddOneToThree) {
  const std::string text = two_readers("hdd:1T", "500g", 100, 300);
  EXPECT_NEAR(heavy_share(text), 0.75, 0.03);
  EXPECT_EQ(read_bytes(text), read_bytes(text));  // virtual time: the same every run
  // A second run rewrites the weights: equal ones split evenly.
  EXPECT_NEAR(heavy_share(two_readers("hdd:1T", "500g", 100, 100)), 0.5, 0.03);
}

TEST(JobCgroup, WeightsSplitAnSsdOneToThree) {
  EXPECT_NEAR(heavy_share(two_readers("ssd:64G", "32g", 100, 300, "4")), 0.75, 0.03);
}

TEST(JobCgroup, BadWeightsAreRejectedInOneLine) {
  for (const char* w : {"0", "99", "1001"}) {
    JobFileSet set;
    std::vector<JobDef> jobs;
    std::string err;
    const std::string text =
        std::string("[a]\nfilename=null:1G\ncgroup=x\ncgroup_weight=") + w + "\n";
    bool ok = parse_job_text(text, "t.fio", &set, &err) && build_jobs(set, &jobs, &err);
    EXPECT_FALSE(ok) << w;
    EXPECT_EQ(
        err, std::string("t.fio:4: cgroup_weight=") + w + ": expected an integer from 100 to 1000");
  }
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  EXPECT_FALSE(parse_job_text("[a]\nfilename=null:1G\ncgroup=a//b\n", "t.fio", &set, &err) &&
               build_jobs(set, &jobs, &err));
  EXPECT_EQ(err, "t.fio:3: cgroup=a//b: expected a cgroup path such as a or a/b");
}

}  // namespace
}  // namespace iostack::job
