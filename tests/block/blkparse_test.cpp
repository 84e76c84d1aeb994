// A scripted workload traced through the block layer and read back by the
// real blkparse and btt (Debian package blktrace).
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  *status = pclose(p);
  return out;
}

struct Event {
  std::string action, rwbs;
  unsigned long sector = 0, sectors = 0;
};

// Event lines of blkparse's default format:
// "  7,0    1        1     0.000000000  1234  Q  WS 0 + 8 [comm]"
std::vector<Event> parse_events(const std::string& text) {
  std::vector<Event> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string dev, cpu, seq, time, pid;
    Event e;
    if (!(f >> dev >> cpu >> seq >> time >> pid >> e.action >> e.rwbs)) continue;
    if (dev != "7,0") continue;
    std::string plus;
    if (f >> e.sector >> plus >> e.sectors && plus != "+") e.sectors = 0;
    out.push_back(e);
  }
  return out;
}

class BlkparseTest : public BlockTest {
 protected:
  void SetUp() override {
    if (access("/usr/bin/blkparse", X_OK) != 0) GTEST_SKIP() << "blkparse not installed";
    dir_ = fs::temp_directory_path() / ("iostack-blkparse-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    BlockTest::TearDown();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(BlkparseTest, CountsOfQueueMergeIssueCompleteAndMergedSizes) {
  make("mq-deadline");
  std::string err;
  ASSERT_EQ(disk->trace_start(dir_.string(), &err), 0) << err;
  // Eight sequential 4 KiB writes under a plug: one 32 KiB request.
  BlkPlug plug;
  blk_start_plug(&plug);
  for (int i = 0; i < 8; ++i) submit(REQ_OP_WRITE | REQ_SYNC, 8 * i, 4096);
  blk_finish_plug(&plug);
  // Four scattered reads, one at a time.
  for (int i = 0; i < 4; ++i) submit(REQ_OP_READ, 10000 + 1000 * i, 4096);
  // A 256 KiB read split in two at max_sectors_kb = 128.
  ASSERT_EQ(q->attr_store("max_sectors_kb", "128"), 0);
  submit(REQ_OP_READ, 50000, 256 * 1024);
  // A front merge in a plug.
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 200000, 4096);
  submit(REQ_OP_WRITE, 199992, 4096);
  blk_finish_plug(&plug);
  // A busy driver: issued, requeued, issued again after the resource delay.
  drv.busy = 1;
  submit(REQ_OP_READ, 300000, 4096);
  clock.run_until_idle();
  for (auto& io : ios) ASSERT_EQ(io->err, 0);
  disk->trace_stop();

  int status = -1;
  const std::string cmd = "cd " + dir_.string() + " && blkparse -i tst0 2>&1";
  const std::string text = run(cmd, &status);
  ASSERT_EQ(status, 0) << text;
  EXPECT_EQ(text.find("skips"), std::string::npos) << text;
  std::map<std::string, int> n;
  for (const auto& e : parse_events(text)) ++n[e.action];
  EXPECT_EQ(n["Q"], 8 + 4 + 1 + 2 + 1);
  EXPECT_EQ(n["M"], 7);
  EXPECT_EQ(n["F"], 1);
  EXPECT_EQ(n["X"], 1);
  EXPECT_EQ(n["G"], 1 + 4 + 2 + 1 + 1);
  EXPECT_EQ(n["I"], 1 + 4 + 2 + 1 + 1);
  EXPECT_EQ(n["D"], 1 + 4 + 2 + 1 + 2) << "the requeued request is issued twice";
  EXPECT_EQ(n["R"], 1);
  EXPECT_EQ(n["C"], 1 + 4 + 2 + 1 + 1);
  // The two explicit plugs, and the plug __submit_bio puts around each bio
  // submitted without one (4 reads, 2 halves, the busy read), as the
  // kernel's trace shows for a lone O_DIRECT read of a loop device.
  EXPECT_EQ(n["P"], 2 + 4 + 2 + 1);
  EXPECT_EQ(n["U"], 2 + 4 + 2 + 1);
  unsigned long write_d = 0, write_c = 0;
  for (const auto& e : parse_events(text)) {
    if (e.rwbs[0] != 'W') continue;
    if (e.action == "D" && !write_d) write_d = e.sectors;
    if (e.action == "C" && !write_c) write_c = e.sectors;
  }
  EXPECT_EQ(write_d, 64u) << "the eight merged writes are issued as one 32 KiB request";
  EXPECT_EQ(write_c, 64u);

  // btt reads the same trace and reports queue-to-completion times.
  const std::string bin = (dir_ / "all.bin").string();
  ASSERT_EQ(
      run("cd " + dir_.string() + " && blkparse -q -i tst0 -d " + bin + " >/dev/null 2>&1", &status)
          .size(),
      0u);
  ASSERT_EQ(status, 0);
  // btt drops per-device .dat files in its working directory.
  const std::string btt = run("cd " + dir_.string() + " && btt -i " + bin + " 2>&1", &status);
  ASSERT_EQ(status, 0) << btt;
  EXPECT_NE(btt.find("Q2C"), std::string::npos) << btt;
  EXPECT_NE(btt.find("D2C"), std::string::npos) << btt;
}

}  // namespace
}  // namespace iostack::block::test
