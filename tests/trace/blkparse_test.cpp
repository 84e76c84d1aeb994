// The real blkparse and btt (package blktrace) read what BlkTrace writes:
// no warnings, the right action letters, RWBS, sectors, sizes and payloads.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "trace/blktrace.hpp"
#include "trace/blktrace_reader.hpp"
#include "trace_test_util.hpp"

namespace iostack::trace {
namespace {

using testing::SynthEvent;
using testing::TempDir;

constexpr core::Nanos kStart = 7 * core::kNsPerSec;

std::string find_tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

// Runs `cmd` in `cwd` (tools like btt drop .dat files in their cwd).
CmdResult run_in(const std::string& cwd, const std::string& cmd) {
  const std::string full =
      "cd '" + cwd + "' && " + cmd + " > '" + cwd + "/cmd.out' 2> '" + cwd + "/cmd.err'";
  CmdResult r;
  const int st = std::system(full.c_str());
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(cwd + "/cmd.out");
  r.err = slurp(cwd + "/cmd.err");
  return r;
}

struct ParsedLine {
  unsigned major = 0, minor = 0, cpu = 0, seq = 0;
  std::uint64_t time_ns = 0;
  std::uint32_t pid = 0;
  std::string act, rwbs, tail;
};

// Lines of blkparse's default format:
// "%3d,%-3d %2d %8d %5d.%09lu %5u %2s %3s <action specific>".
std::vector<ParsedLine> parse_blkparse(const std::string& out) {
  static const std::regex re(
      R"(^\s*(\d+),(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\.(\d{9})\s+(\d+)\s+(\S+)\s+(\S+) (.*)$)");
  std::vector<ParsedLine> lines;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    ParsedLine p;
    p.major = static_cast<unsigned>(std::stoul(m[1]));
    p.minor = static_cast<unsigned>(std::stoul(m[2]));
    p.cpu = static_cast<unsigned>(std::stoul(m[3]));
    p.seq = static_cast<unsigned>(std::stoul(m[4]));
    p.time_ns = std::stoull(m[5]) * core::kNsPerSec + std::stoull(m[6]);
    p.pid = static_cast<std::uint32_t>(std::stoul(m[7]));
    p.act = m[8];
    p.rwbs = m[9];
    p.tail = m[10];
    lines.push_back(p);
  }
  return lines;
}

// Writes the two-thread synthetic trace of device "vdx" into `dir`.
testing::TwoThreadRun write_trace(const std::string& dir) {
  std::string err;
  auto bt = BlkTrace::open(dir, "vdx", testing::kTestDev, kStart, &err);
  EXPECT_NE(bt, nullptr) << err;
  if (bt == nullptr) return {};
  return testing::write_two_thread_trace(*bt, kStart);
}

void expect_lines(const std::vector<SynthEvent>& want, const std::vector<ParsedLine>& got,
                  const std::string& comm, core::Nanos genesis) {
  ASSERT_EQ(got.size(), want.size()) << comm;
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(comm + " event " + std::to_string(i));
    EXPECT_EQ(got[i].act, want[i].act);
    EXPECT_EQ(got[i].rwbs, want[i].rwbs);
    EXPECT_EQ(got[i].tail, testing::blkparse_tail(want[i], comm));
    EXPECT_EQ(got[i].time_ns, want[i].rel_time - genesis);
    EXPECT_EQ(got[i].major, kernel_major(testing::kTestDev));
    EXPECT_EQ(got[i].minor, kernel_minor(testing::kTestDev));
  }
}

TEST(Blkparse, PrintsEveryEventOfASyntheticTrace) {
  const std::string blkparse = find_tool("blkparse");
  if (blkparse.empty()) GTEST_SKIP() << "blkparse not installed (package blktrace)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const testing::TwoThreadRun run = write_trace(dir.path());
  ASSERT_FALSE(run.a.empty());

  const CmdResult r = run_in(dir.path(), "'" + blkparse + "' -i vdx -D '" + dir.path() + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "") << "blkparse complained";
  EXPECT_EQ(r.out.find("(null)"), std::string::npos) << "an event without a process name";
  const std::size_t total = run.a.size() + run.b.size();
  EXPECT_NE(r.out.find("Events (vdx): " + std::to_string(total) + " entries"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Skips: 0 forward"), std::string::npos) << r.out;

  const std::vector<ParsedLine> lines = parse_blkparse(r.out);
  ASSERT_EQ(lines.size(), total) << r.out;
  std::map<std::uint32_t, std::vector<ParsedLine>> by_pid;
  for (const ParsedLine& l : lines) by_pid[l.pid].push_back(l);
  // blkparse prints times relative to the first event (the writer's Q at 1us).
  const core::Nanos genesis = run.a.front().rel_time;
  expect_lines(run.a, by_pid[static_cast<std::uint32_t>(run.tid_a)], testing::kWriterComm, genesis);
  expect_lines(run.b, by_pid[static_cast<std::uint32_t>(run.tid_b)], testing::kReaderComm, genesis);

  // The cpu and sequence columns name the record our reader finds there.
  std::vector<std::vector<TraceRecord>> per_cpu;
  std::string err;
  ASSERT_TRUE(read_blktrace(dir.path(), "vdx", &per_cpu, &err)) << err;
  for (const ParsedLine& l : lines) {
    ASSERT_LT(l.cpu, per_cpu.size());
    const TraceRecord* found = nullptr;
    for (const TraceRecord& rec : per_cpu[l.cpu]) {
      if (!rec.is_notify() && rec.t.sequence == l.seq) found = &rec;
    }
    ASSERT_NE(found, nullptr) << "cpu " << l.cpu << " seq " << l.seq;
    EXPECT_EQ(found->t.pid, l.pid);
  }
}

TEST(Blkparse, BinaryDumpFeedsBttQ2CAndD2C) {
  const std::string blkparse = find_tool("blkparse");
  const std::string btt = find_tool("btt");
  if (blkparse.empty() || btt.empty()) GTEST_SKIP() << "blkparse/btt not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_FALSE(write_trace(dir.path()).a.empty());

  const CmdResult p =
      run_in(dir.path(), "'" + blkparse + "' -i vdx -D '" + dir.path() + "' -d all.bin");
  ASSERT_EQ(p.rc, 0) << p.err;
  EXPECT_EQ(p.err, "");
  const CmdResult r = run_in(dir.path(), "'" + btt + "' -i all.bin");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "") << "btt complained";

  // "Q2C   MIN AVG MAX N" rows of the All Devices table.
  std::map<std::string, std::vector<std::string>> rows;
  std::stringstream ss(r.out);
  std::string line;
  while (std::getline(ss, line)) {
    std::stringstream ls(line);
    std::string key, f;
    ls >> key;
    std::vector<std::string> fields;
    while (ls >> f) fields.push_back(f);
    if (fields.size() == 4 && !rows.count(key)) rows[key] = fields;
  }
  for (const char* key : {"Q2C", "D2C", "Q2G", "G2I", "I2D", "Q2M"}) {
    ASSERT_TRUE(rows.count(key)) << key << " missing in\n" << r.out;
    EXPECT_GT(std::stoul(rows[key][3]), 0u) << key;
  }
  // Every issue in the synthetic trace completes 10us later, except the
  // requeued and the split read, so the shortest D2C is exactly 10us.
  EXPECT_EQ(rows["D2C"][0], "0.000010000");
  EXPECT_EQ(rows["Q2M"][0], "0.000010000");
}

}  // namespace
}  // namespace iostack::trace
