// Bad input: one clear line on stderr naming file, line and option, a
// non-zero exit, and nothing run: no report and no trace of any I/O.
#include <gtest/gtest.h>

#include <dirent.h>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

int files_in(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

void expect_rejected(const std::string& job_args, const std::string& message) {
  const std::string trace = temp_dir() + "/trace";
  const Result r = run("run --trace=" + trace + " " + job_args);
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, "iostack: " + message + "\n");
  EXPECT_EQ(lines(r.err), 1);
  EXPECT_EQ(r.out, "") << "nothing ran";
  EXPECT_EQ(files_in(trace), 0) << "no I/O reached the device";
}

TEST(Errors, MalformedJobFile) {
  const auto f = write_file("malformed.fio", "[global]\nfilename=ram:16M\n[job\nrw=write\n");
  expect_rejected(f, f + ":3: malformed section header '[job' (expected [name])");
}

TEST(Errors, UnknownOption) {
  const auto f = write_file("unknown.fio", "[job]\nfilename=ram:16M\nrw=write\nwarp_speed=9\n");
  expect_rejected(f, f + ":4: warp_speed: unknown option");
}

TEST(Errors, BadValue) {
  const auto f = write_file("badvalue.fio", "[job]\nfilename=ram:16M\nrw=write\niodepth=lots\n");
  expect_rejected(f, f + ":4: iodepth=lots: expected an integer from 1 to 65536");
}

TEST(Errors, MissingFile) {
  expect_rejected("/nonexistent/job.fio",
                  "job file '/nonexistent/job.fio': No such file or directory");
}

TEST(Errors, SizeLargerThanTheDevice) {
  const auto f = write_file("toobig.fio", "[job]\nfilename=ram:16M\nrw=write\nsize=1G\n");
  expect_rejected(f, f + ":4: size=1G (1024MiB): larger than ram0 (16.0MiB)");
}

TEST(Errors, InvalidSchedulerTunable) {
  const auto f = write_file("tunable.fio",
                            "[job]\nfilename=ram:16M\nrw=write\nioscheduler=mq-deadline\n"
                            "iosched/fifo_batch=many\n");
  expect_rejected(f, f + ":5: iosched/fifo_batch=many: rejected by ram0 (Invalid argument)");
  const auto g =
      write_file("notunable.fio", "[job]\nfilename=ram:16M\nrw=write\niosched/quantum=8\n");
  expect_rejected(g, g + ":4: iosched/quantum=8: scheduler mq-deadline of ram0 has no tunable "
                         "'quantum'");
}

TEST(Errors, UnsupportedFioOption) {
  expect_rejected("--name=j --filename=ram:16M --ioengine=libaio --nrfiles=2",
                  "command line: nrfiles: fio option not supported by iostack");
}

TEST(Errors, EngineOptionOfAnotherEngine) {
  expect_rejected("--name=j --filename=ram:16M --ioengine=libaio --fixedbufs",
                  "command line: fixedbufs: an option of ioengine=io_uring, not of "
                  "ioengine=libaio");
  const auto f = write_file("reap.fio", "[job]\nfilename=ram:16M\nuserspace_reap\n");
  expect_rejected(f, f + ":3: userspace_reap: an option of ioengine=libaio, not of "
                         "ioengine=psync");
}

TEST(Errors, SqthreadPollOnAMissingCpu) {
  expect_rejected(
      "--name=j --filename=ram:16M --ioengine=io_uring --sqthread_poll "
      "--sqthread_poll_cpu=4000",
      "command line: ioengine=io_uring: io_uring_setup (sqthread_poll): Invalid "
      "argument");
}

TEST(Errors, ALaterJobsMistakeStopsTheEarlierOnesToo) {
  const auto f = write_file("later.fio",
                            "[first]\nfilename=ram:16M\nrw=write\n[second]\nstonewall\n"
                            "filename=ram:16M\nnr_requests=-1\n");
  expect_rejected(f, f + ":7: nr_requests=-1: rejected by ram0 (Invalid argument)");
}

TEST(Errors, ToolOptions) {
  const Result r = run("run --output-format=xml");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, "iostack: --output-format=xml: expected normal or json\n");
}

TEST(Errors, VerifyFailureExitsNonZero) {
  const auto f = write_file("corrupt.fio",
                            "[global]\nfilename=null:16M,memory_backed=1,irqmode=0\n"
                            "ioengine=bio\nsize=64k\n"
                            "[w]\nrw=write\nverify=crc32c\ndo_verify=0\n"
                            "[corrupt]\nstonewall\nrw=write\noffset=8k\nsize=4k\n"
                            "[r]\nstonewall\nrw=read\nverify=crc32c\n");
  const Result r = run("run --output-format=json " + f);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("verify: bad magic header"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset 8192"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["jobs"][0]["error"], 0);
  EXPECT_EQ(j["jobs"][2]["error"], 84);  // EILSEQ, as fio reports a verify failure
}

}  // namespace
}  // namespace iostack::tool::test
