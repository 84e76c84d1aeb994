// format_diskstats_line reproduces diskstats_show()'s layout: checked by
// round-tripping every line of this machine's /proc/diskstats byte for byte.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "trace/diskstats.hpp"

namespace iostack::trace {
namespace {

TEST(DiskStats, FieldOrderAndWidths) {
  DiskStats s;
  s.read = {1, 2, 3, 4};
  s.write = {5, 6, 7, 8};
  s.in_flight = 9;
  s.io_ticks_ms = 10;
  s.time_in_queue_ms = 11;
  s.discard = {12, 13, 14, 15};
  s.flush = {16, 0, 0, 17};
  EXPECT_EQ(format_diskstats_line(8, 0, "sda", s),
            "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n");
  EXPECT_EQ(format_diskstats_line(259, 12, "nvme0n1p1", DiskStats{}),
            " 259      12 nvme0n1p1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
}

TEST(DiskStats, CountersAre64BitTicksWrapAt32) {
  DiskStats s;
  s.read.ios = 5000000000ull;          // unsigned long in the kernel
  s.read.ticks_ms = (1ull << 32) + 7;  // (unsigned int) cast in the kernel
  s.time_in_queue_ms = (1ull << 32) + 9;
  EXPECT_EQ(format_diskstats_line(1, 2, "x", s),
            "   1       2 x 5000000000 0 0 7 0 0 0 0 0 0 9 0 0 0 0 0 0\n");
}

TEST(DiskStats, ParseRejectsMalformedLines) {
  unsigned major, minor;
  std::string name, err;
  DiskStats s;
  EXPECT_FALSE(parse_diskstats_line("   8 0 sda 1 2 3", &major, &minor, &name, &s, &err));
  EXPECT_NE(err.find("got 6 fields"), std::string::npos) << err;
  EXPECT_FALSE(
      parse_diskstats_line("   8 0 sda 1 2 3 4 5 6 7 8 9 10 x", &major, &minor, &name, &s, &err));
  EXPECT_NE(err.find("field 14 not a number"), std::string::npos) << err;
}

TEST(DiskStats, RoundTripsThisMachinesProcDiskstats) {
  std::ifstream in("/proc/diskstats");
  if (!in) GTEST_SKIP() << "/proc/diskstats not readable";
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    unsigned major, minor;
    std::string name, err;
    DiskStats s;
    ASSERT_TRUE(parse_diskstats_line(line, &major, &minor, &name, &s, &err)) << err;
    // Kernels before 5.5 print fewer fields; only the current layout can
    // round-trip exactly.
    int fields = 0;
    bool in_field = false;
    for (char c : line) {
      if (c != ' ' && !in_field) ++fields;
      in_field = c != ' ';
    }
    if (fields != 20) continue;
    EXPECT_EQ(format_diskstats_line(major, minor, name, s), line + "\n");
    ++lines;
  }
  if (lines == 0) GTEST_SKIP() << "no 20-field lines in /proc/diskstats";
}

}  // namespace
}  // namespace iostack::trace
