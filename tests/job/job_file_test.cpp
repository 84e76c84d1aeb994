// Job-file structure and the command line's.
#include "job/job_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "job/job_builder.hpp"

namespace iostack::job {
namespace {

TEST(JobFile, GlobalsApplyToTheJobsAfterThem) {
  JobFileSet set;
  std::string err;
  ASSERT_TRUE(
      parse_job_text("; comment\n[global]\nbs=8k\n\n[a]\nrw=read\n# more\n[global]\n"
                     "iodepth=4\n[b]\nrw=write\n",
                     "t.fio", &set, &err))
      << err;
  ASSERT_EQ(set.jobs.size(), 2u);
  EXPECT_EQ(set.jobs[0].name, "a");
  EXPECT_EQ(set.jobs[0].globals.size(), 1u);
  EXPECT_EQ(set.jobs[1].globals.size(), 2u);
  EXPECT_EQ(set.jobs[1].opts[0].loc.str(), "t.fio:11");
  EXPECT_EQ(set.global_opts.size(), 2u);
}

TEST(JobFile, CommentsAfterValuesAndEnvironmentVariables) {
  // As fio: ';' or '#' anywhere ends the line; ${NAME} is the environment's
  // value, empty when unset.
  ::setenv("IOSTACK_TEST_RW", "randwrite", 1);
  ::unsetenv("IOSTACK_TEST_UNSET");
  JobFileSet set;
  std::string err;
  ASSERT_TRUE(
      parse_job_text("[a]\nnumjobs=4\t; four threads\nbs=8k # size\nrw=${IOSTACK_TEST_RW}\n"
                     "description=x${IOSTACK_TEST_UNSET}y\n",
                     "t.fio", &set, &err))
      << err;
  ASSERT_EQ(set.jobs[0].opts.size(), 4u);
  EXPECT_EQ(set.jobs[0].opts[0].value, "4");
  EXPECT_EQ(set.jobs[0].opts[1].value, "8k");
  EXPECT_EQ(set.jobs[0].opts[2].value, "randwrite");
  EXPECT_EQ(set.jobs[0].opts[3].value, "xy");
}

TEST(JobFile, EveryMissingOptionInOneLine) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  ASSERT_TRUE(
      parse_job_text("[global]\nratemin=1m\n[a]\nfilename=ram:1M\nflow=2\nwarp=9\n[b]\n"
                     "filename=ram:1M\nflow=3\n",
                     "t.fio", &set, &err));
  EXPECT_FALSE(build_jobs(set, &jobs, &err));
  EXPECT_EQ(err,
            "fio options not supported by iostack: ratemin (t.fio:2), flow (t.fio:5); unknown "
            "options: warp (t.fio:6)");
}

TEST(JobFile, MalformedInputNamesFileAndLine) {
  JobFileSet set;
  std::string err;
  EXPECT_FALSE(parse_job_text("[a]\nrw=read\n[broken\n", "x.fio", &set, &err));
  EXPECT_EQ(err, "x.fio:3: malformed section header '[broken' (expected [name])");
  EXPECT_FALSE(parse_job_text("bs=4k\n[a]\n", "y.fio", &set, &err));
  EXPECT_EQ(err, "y.fio:1: option 'bs' is outside of any [section]");
  EXPECT_FALSE(parse_job_text("[a]\n=4k\n", "z.fio", &set, &err));
  EXPECT_EQ(err, "z.fio:2: malformed line '=4k' (expected option=value)");
  EXPECT_TRUE(set.jobs.empty()) << "nothing is kept from a failed parse";
}

TEST(JobFile, MissingFileIsAnError) {
  JobFileSet set;
  std::string err;
  EXPECT_FALSE(parse_job_file("/nonexistent/dir/job.fio", &set, &err));
  EXPECT_EQ(err, "job file '/nonexistent/dir/job.fio': No such file or directory");
}

TEST(JobFile, CommandLineOptionsBeforeNameAreDefaultsForEveryJob) {
  JobFileSet set;
  std::string err;
  ASSERT_TRUE(parse_job_args({"--bs=8k", "--name=one", "--rw=read", "--name=two"}, &set, &err));
  // Job files parsed afterwards inherit the defaults too, under their own [global].
  ASSERT_TRUE(parse_job_text("[global]\nbs=16k\n[three]\n", "f.fio", &set, &err)) << err;
  ASSERT_EQ(set.jobs.size(), 3u);
  EXPECT_EQ(set.jobs[0].globals.size(), 1u);
  EXPECT_EQ(set.jobs[0].opts.size(), 1u);
  EXPECT_EQ(set.jobs[1].opts.size(), 0u);
  EXPECT_EQ(set.jobs[2].globals.size(), 2u);

  set.jobs[0].opts.push_back(OptEntry{"filename", "ram:1M", true, {}});
  set.jobs[1].opts.push_back(OptEntry{"filename", "ram:1M", true, {}});
  set.jobs[2].opts.push_back(OptEntry{"filename", "ram:1M", true, {}});
  std::vector<JobDef> jobs;
  ASSERT_TRUE(build_jobs(set, &jobs, &err)) << err;
  EXPECT_EQ(jobs[0].opts.min_bs[0], 8192u);
  EXPECT_EQ(jobs[2].opts.min_bs[0], 16384u) << "the file's [global] overrides the command line";
}

TEST(JobFile, ArgumentsMustBeOptions) {
  JobFileSet set;
  std::string err;
  EXPECT_FALSE(parse_job_args({"-x"}, &set, &err));
  EXPECT_EQ(err, "command line: '-x' is not an option (expected --option=value)");
}

}  // namespace
}  // namespace iostack::job
