// Crash states of a log-writes record, hand-computed: a commit record
// written without a FLUSH after its data has a state with the commit and
// without the data; with the FLUSH it has none.
#include "dev/crash_states.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_WRITE;
using test::io;

constexpr std::uint32_t kFlush = REQ_OP_WRITE | block::REQ_PREFLUSH;

struct TempLog {
  TempLog() {
    char name[] = "/tmp/iostack-crash-XXXXXX";
    const int fd = mkstemp(name);
    close(fd);
    path = name;
  }
  ~TempLog() { unlink(path.c_str()); }
  std::string path;
};

// data at sector 8, then a commit record at sector 0; `barrier` puts a
// FLUSH between them, as a correct program does (fsync before rename).
std::vector<LogEntry> record(bool barrier) {
  TempLog log;
  {
    std::string err;
    auto d = create_device("log-writes,log=" + log.path + ":ram:1M", nullptr, &err);
    EXPECT_TRUE(d) << err;
    std::vector<unsigned char> data(512, 'D'), commit(512, 'C'), other(512, 'O');
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 100, other.data(), 512), 0);
    EXPECT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 8, data.data(), 512), 0);
    if (barrier) {
      EXPECT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
    }
    EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, commit.data(), 512), 0);
    EXPECT_EQ(io(*d, kFlush, 0, nullptr, 0), 0);
  }
  std::vector<LogEntry> e;
  std::uint32_t ss;
  std::string err;
  EXPECT_TRUE(read_log(log.path, &e, &ss, &err)) << err;
  return e;
}

// A state is consistent when a commit record implies its data.
bool consistent(const std::vector<LogEntry>& log, const CrashState& s) {
  std::vector<char> img(1 << 20, 0);
  EXPECT_EQ(apply_crash_state(log, s,
                              [&](std::uint64_t off, const char* p, std::size_t len) {
                                std::memcpy(img.data() + off, p, len);
                                return 0;
                              }),
            0);
  return img[0] != 'C' || img[8 * 512] == 'D';
}

TEST(CrashStates, PointsAreTheStartEachFlushAndTheEnd) {
  const auto log = record(true);  // W100 F W8 F W0 F M(end)
  ASSERT_EQ(log.size(), 7u);
  const auto states = crash_states(log, 4, 1);
  // start, after each of 3 flushes (each but the last with one pending
  // write, whose only non-empty subset is itself), and the whole log.
  std::vector<std::string> d;
  for (const auto& s : states) d.push_back(describe(log, s));
  const std::vector<std::string> want = {"log start",
                                         "log start + entries 0",
                                         "after entry 1 (FLUSH)",
                                         "after entry 1 (FLUSH) + entries 2",
                                         "after entry 3 (FLUSH)",
                                         "after entry 3 (FLUSH) + entries 4",
                                         "after entry 5 (FLUSH)",
                                         "whole log"};
  EXPECT_EQ(d, want);
  for (const auto& s : states) EXPECT_TRUE(consistent(log, s)) << describe(log, s);
}

TEST(CrashStates, AMissingFlushShowsAnInconsistentState) {
  const auto log = record(false);                    // W100 F W8 W0 F M(end)
  const auto states = crash_states(log, 8, 3);       // W8 W0 pending: 3 subsets
  EXPECT_EQ(states.size(), 1 + 1 + 1 + 3 + 1 + 1u);  // start(+W100), F(+3), F, end
  int bad = 0;
  for (const auto& s : states) {
    if (!consistent(log, s)) {
      ++bad;
      EXPECT_EQ(describe(log, s), "after entry 1 (FLUSH) + entries 3");  // commit, no data
    }
  }
  EXPECT_GE(bad, 1);
}

TEST(CrashStates, FuaWritesArePersistencePoints) {
  TempLog log;
  {
    std::string err;
    auto d = create_device("log-writes,log=" + log.path + ":ram:1M", nullptr, &err);
    ASSERT_TRUE(d) << err;
    std::vector<unsigned char> b(512, 1);
    ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_FUA, 0, b.data(), 512), 0);
  }
  std::vector<LogEntry> e;
  std::uint32_t ss;
  std::string err;
  ASSERT_TRUE(read_log(log.path, &e, &ss, &err)) << err;
  const auto states = crash_states(e, 2, 1);
  ASSERT_EQ(states.size(), 3u);  // start, after the FUA write, whole log
  EXPECT_EQ(describe(e, states[1]), "after entry 0 (FUA)");
}

}  // namespace
}  // namespace iostack::dev
