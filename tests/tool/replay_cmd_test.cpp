// iostack replay from the command line: one job per traced process in the
// report, and one line for each kind of bad input.
#include <gtest/gtest.h>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

TEST(ReplayCmd, MsrTraceOneJobPerDiskInTheJsonReport) {
  const auto f = write_file("msr.csv",
                            "128166372003061629,web,0,Read,3329134592,4096,2687\n"
                            "128166372003061639,web,0,Write,4096,8192,100\n"
                            "128166372003061649,db,1,Read,65536,4096,7\n");
  const Result r = run("replay " + f + " --filename=ram:4M --output-format=json --speed=10");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["jobs"].size(), 2u);
  EXPECT_EQ(j["jobs"][0]["jobname"], "web.0");
  EXPECT_EQ(j["jobs"][0]["read"]["total_ios"], 1);
  EXPECT_EQ(j["jobs"][0]["write"]["total_ios"], 1);
  EXPECT_EQ(j["jobs"][1]["jobname"], "db.1");
  EXPECT_EQ(j["jobs"][1]["read"]["io_bytes"], 4096);
}

TEST(ReplayCmd, NormalReportWithAScheduler) {
  const auto f = write_file("v2.log",
                            "fio version 2 iolog\n/dev/x add\n/dev/x read 0 4096\n"
                            "/dev/x write 8192 4096\n");
  const Result r = run("replay " + f + " --filename=ram:4M --afap --ioscheduler=kyber --eta=never");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("v2.log: (groupid=0, jobs=1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("issued rwts: total=1,1,0,0"), std::string::npos) << r.out;
}

void expect_one_line(const std::string& args, const std::string& message) {
  const Result r = run("replay " + args);
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, "iostack: replay: " + message + "\n");
  EXPECT_EQ(lines(r.err), 1);
  EXPECT_EQ(r.out, "");
}

TEST(ReplayCmd, BadInputIsOneLine) {
  const auto good = write_file("good.log", "fio version 2 iolog\n/x read 0 4096\n");
  expect_one_line(good, "--filename=SPEC is needed: the device to replay onto");
  expect_one_line("--filename=ram:1M", "no TRACE given (see iostack replay --help)");
  expect_one_line(good + " --filename=ram:1M --speed=fast",
                  "--speed=fast: expected a factor above 0, such as 2 or 0.5");
  const auto bad = write_file("bad.csv", "1,h,0,Read,0,4096,1\n2,h,0,Read,x,4096,1\n");
  expect_one_line(bad + " --filename=ram:1M", bad + ":2: Offset 'x': expected bytes");
  // An I/O larger than the device is refused before anything runs.
  const auto big = write_file("big.log", "fio version 2 iolog\n/x read 0 2097152\n");
  const Result r = run("replay " + big + " --filename=ram:1M");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, "iostack: command line: size=1048576: smaller than the block size 2097152\n");
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace iostack::tool::test
