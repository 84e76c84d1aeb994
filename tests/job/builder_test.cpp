// From sections to jobs: groups, checks, and the built-in default job.
#include "job/job_builder.hpp"

#include <gtest/gtest.h>

#include "job/default_job.hpp"
#include "job/job_file.hpp"

namespace iostack::job {
namespace {

std::vector<JobDef> build(const std::string& text, std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_text(text, "t.fio", &set, err)) return jobs;
  if (!build_jobs(set, &jobs, err)) jobs.clear();
  return jobs;
}

TEST(Builder, StonewallAndNewGroupStartGroups) {
  std::string err;
  auto jobs =
      build("[global]\nfilename=ram:1M\n[a]\n[b]\n[c]\nstonewall\n[d]\nnew_group\n[e]\n", &err);
  ASSERT_EQ(jobs.size(), 5u) << err;
  EXPECT_EQ(jobs[0].groupid, 0);
  EXPECT_EQ(jobs[1].groupid, 0);
  EXPECT_EQ(jobs[2].groupid, 1);
  EXPECT_TRUE(jobs[2].waits);
  EXPECT_EQ(jobs[3].groupid, 2);
  EXPECT_FALSE(jobs[3].waits) << "new_group reports apart but does not wait";
  EXPECT_EQ(jobs[4].groupid, 2);
}

TEST(Builder, JobOptionsListOnlyTheSectionsOwn) {
  std::string err;
  auto jobs = build("[global]\nfilename=ram:1M\n[a]\nrw=write\nbs=8k\n", &err);
  ASSERT_EQ(jobs.size(), 1u) << err;
  ASSERT_EQ(jobs[0].opts.given.size(), 2u);
  EXPECT_EQ(jobs[0].opts.given[0].first, "rw");
}

TEST(Builder, UnknownEnginesAndEngineOptions) {
  std::string err;
  build("[a]\nfilename=ram:1M\nioengine=posixaio\n", &err);
  EXPECT_EQ(err,
            "t.fio:3: ioengine=posixaio: expected one of bio, psync, sync, pvsync, pvsync2, "
            "io_uring, libaio, null");
  EXPECT_EQ(build("[a]\nfilename=ram:1M\nioengine=io_uring\nhipri\n", &err).size(), 1u) << err;
  // Engine options belong to their engines, wherever ioengine is given.
  auto jobs = build(
      "[global]\nfixedbufs\nsqthread_poll=1\nsqthread_poll_cpu=0\n[a]\nfilename=ram:1M\n"
      "ioengine=io_uring\nregisterfiles=0\ncmdprio_percentage=50\n",
      &err);
  ASSERT_EQ(jobs.size(), 1u) << err;
  EXPECT_TRUE(jobs[0].opts.fixedbufs && jobs[0].opts.sqthread_poll);
  EXPECT_FALSE(jobs[0].opts.registerfiles);
  EXPECT_EQ(jobs[0].opts.sqthread_poll_cpu, 0);
  EXPECT_EQ(build("[a]\nfilename=ram:1M\nioengine=libaio\nuserspace_reap\ncmdprio_class=2\n"
                  "cmdprio_percentage=10\n",
                  &err)
                .size(),
            1u)
      << err;
  build("[a]\nfilename=ram:1M\nioengine=libaio\nfixedbufs\n", &err);
  EXPECT_EQ(err, "t.fio:4: fixedbufs: an option of ioengine=io_uring, not of ioengine=libaio");
  build("[a]\nfilename=ram:1M\nuserspace_reap=1\n", &err);
  EXPECT_EQ(err, "t.fio:3: userspace_reap: an option of ioengine=libaio, not of ioengine=psync");
  build("[a]\nfilename=ram:1M\ncmdprio_percentage=5\nioengine=bio\n", &err);
  EXPECT_EQ(err,
            "t.fio:3: cmdprio_percentage: an option of ioengine=io_uring or ioengine=libaio, "
            "not of ioengine=bio");
  build(
      "[a]\nfilename=ram:1M\nioengine=libaio\ncmdprio_percentage=5\n"
      "cmdprio_bssplit=4k/50\n",
      &err);
  EXPECT_EQ(err, "t.fio:1: job 'a': cmdprio_percentage and cmdprio_bssplit are mutually exclusive");
}

TEST(Builder, MissingFilenameIsAnError) {
  std::string err;
  build("[lonely]\nrw=read\n", &err);
  EXPECT_EQ(err, "t.fio:1: job 'lonely': filename: missing (name a device, e.g. filename=ram:64M)");
}

TEST(Builder, DefaultJobMatchesExamplesDefaultFio) {
  JobFileSet a, b;
  std::string err;
  ASSERT_TRUE(parse_job_text(default_job_text(), kDefaultJobName, &a, &err)) << err;
  ASSERT_TRUE(parse_job_file(IOSTACK_SOURCE_DIR "/examples/default.fio", &b, &err)) << err;
  std::vector<JobDef> ja, jb;
  ASSERT_TRUE(build_jobs(a, &ja, &err)) << err;
  ASSERT_TRUE(build_jobs(b, &jb, &err)) << err;
  ASSERT_EQ(ja.size(), jb.size());
  for (std::size_t i = 0; i < ja.size(); ++i) {
    EXPECT_EQ(ja[i].opts.name, jb[i].opts.name);
    EXPECT_EQ(ja[i].opts.given, jb[i].opts.given);
    EXPECT_EQ(ja[i].groupid, jb[i].groupid);
  }
  ASSERT_EQ(a.global_opts.size(), b.global_opts.size());
  for (std::size_t i = 0; i < a.global_opts.size(); ++i) {
    EXPECT_EQ(a.global_opts[i].key, b.global_opts[i].key);
    EXPECT_EQ(a.global_opts[i].value, b.global_opts[i].value);
  }
}

}  // namespace
}  // namespace iostack::job
