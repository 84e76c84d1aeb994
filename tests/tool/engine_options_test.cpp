// fio's io_uring and libaio engine options through the binary: the example
// job runs, every I/O completes, and IOSTACK_ENGINE_STATS shows each option
// at work in the engines and at the device.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <regex>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

using json = nlohmann::json;

// "iostack: job 'NAME' ioengine=E: k=v k=v ..." -> {NAME: {k: v}}.
std::map<std::string, std::map<std::string, std::uint64_t>> engine_lines(const std::string& err) {
  std::map<std::string, std::map<std::string, std::uint64_t>> out;
  static const std::regex line(R"(iostack: job '([^']*)' ioengine=[a-z_]+:(.*))");
  static const std::regex kv(R"(([a-z_]+)=([0-9]+))");
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_match(l, m, line)) continue;
    const std::string rest = m[2];
    auto& job = out[m[1]];
    for (std::sregex_iterator it(rest.begin(), rest.end(), kv), end; it != end; ++it)
      job[(*it)[1]] = std::stoull((*it)[2]);
  }
  return out;
}

// The mq-deadline line: completed requests per class.
std::map<std::string, std::uint64_t> dd_completed(const std::string& err) {
  std::map<std::string, std::uint64_t> out;
  static const std::regex cls(
      R"((rt|be|idle) inserted=\d+ merged=\d+ dispatched=\d+ completed=(\d+))");
  const auto pos = err.find(" mq-deadline:");
  if (pos == std::string::npos) return out;
  const std::string l = err.substr(pos, err.find('\n', pos) - pos);
  for (std::sregex_iterator it(l.begin(), l.end(), cls), end; it != end; ++it)
    out[(*it)[1]] = std::stoull((*it)[2]);
  return out;
}

Result run_with_stats(const std::string& args) {
  setenv("IOSTACK_ENGINE_STATS", "1", 1);
  Result r = run(args);
  unsetenv("IOSTACK_ENGINE_STATS");
  return r;
}

TEST(EngineOptions, ExampleJobShowsEachOptionAtWork) {
  const Result r = run_with_stats("run --output-format=json " + example("io_uring-options.fio"));
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["jobs"].size(), 4u);
  std::uint64_t issued = 0;
  for (const auto& job : j["jobs"]) {
    EXPECT_EQ(job["error"], 0) << job["jobname"];
    for (const char* d : {"read", "write"})
      EXPECT_EQ(job[d]["total_ios"], job[d]["clat_ns"]["N"]) << job["jobname"] << " " << d;
    issued += job["read"]["total_ios"].get<std::uint64_t>() +
              job["write"]["total_ios"].get<std::uint64_t>();
  }
  const auto& disk = j["disk_util"][0];
  EXPECT_EQ(issued, disk["read_ios"].get<std::uint64_t>() + disk["write_ios"].get<std::uint64_t>() +
                        disk["read_merges"].get<std::uint64_t>() +
                        disk["write_merges"].get<std::uint64_t>());

  auto e = engine_lines(r.err);
  ASSERT_EQ(e.size(), 4u) << r.err;
  // fixedbufs + registerfiles: 4096 writes and their 4096 verify reads.
  EXPECT_EQ(e["fixed"]["ios"], 8192u);
  EXPECT_EQ(e["fixed"]["fixed_buf_ios"], 8192u);
  EXPECT_EQ(e["fixed"]["fixed_file_ios"], 8192u);
  // sqthread_poll: the SQ thread submitted; the job entered only to wake it.
  EXPECT_EQ(e["sqpoll"]["ios"], 4096u);
  EXPECT_EQ(e["sqpoll"]["fixed_buf_ios"], 0u);
  EXPECT_EQ(e["sqpoll"]["fixed_file_ios"], 4096u);
  EXPECT_LT(e["sqpoll"]["enter_calls"], 4096u / 20);
  EXPECT_EQ(e["sqpoll"]["enter_calls"], e["sqpoll"]["sq_wakeups"]);
  EXPECT_GE(e["cmdprio"]["enter_calls"], 4096u) << "one per I/O at least, without SQPOLL";
  // cmdprio_percentage=50 and 25 of 4096 reads each.
  EXPECT_NEAR(static_cast<double>(e["cmdprio"]["prio_ios"]), 2048.0, 200.0);
  EXPECT_NEAR(static_cast<double>(e["reap"]["prio_ios"]), 1024.0, 150.0);
  // userspace_reap: no io_getevents at all.
  EXPECT_EQ(e["reap"]["getevents_calls"], 0u);
  EXPECT_EQ(e["reap"]["user_reaped"], 4096u);
  // The device saw exactly those as RT requests (random 4k reads do not merge).
  const auto dd = dd_completed(r.err);
  ASSERT_EQ(dd.size(), 3u) << r.err;
  const std::uint64_t rt = e["cmdprio"]["prio_ios"] + e["reap"]["prio_ios"];
  EXPECT_LE(dd.at("rt"), rt);
  EXPECT_GE(dd.at("rt") + 20, rt);
  EXPECT_EQ(dd.at("idle"), 0u);
}

TEST(EngineOptions, FromTheCommandLine) {
  const Result r = run_with_stats(
      "run --name=cl --filename=ram:16M --ioengine=io_uring --rw=randwrite --size=2M "
      "--iodepth=8 --fixedbufs --sqthread_poll --sqthread_poll_cpu=0 --verify=md5");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("cl: (groupid=0, jobs=1): err= 0"), std::string::npos) << r.out;
  auto e = engine_lines(r.err);
  EXPECT_EQ(e["cl"]["fixed_buf_ios"], 1024u);
  EXPECT_EQ(e["cl"]["fixed_file_ios"], 1024u);
}

TEST(EngineOptions, NoStatsLinesUnlessAsked) {
  const Result r = run("run --name=q --filename=ram:4M --ioengine=libaio --size=256k");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace iostack::tool::test
