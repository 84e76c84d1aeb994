// fio's value syntax (HOWTO "Parameter types").
#include "job/parse.hpp"

#include <gtest/gtest.h>

namespace iostack::job {
namespace {

std::uint64_t size(const char* s) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_size(s, &v)) << s;
  return v;
}

TEST(Parse, SizesUseKbBase1024WithFiosInversion) {
  EXPECT_EQ(size("4096"), 4096u);
  EXPECT_EQ(size("4k"), 4096u);
  EXPECT_EQ(size("4K"), 4096u);
  EXPECT_EQ(size("4kb"), 4096u);
  EXPECT_EQ(size("4KB"), 4096u);
  EXPECT_EQ(size("1m"), 1048576u);
  EXPECT_EQ(size("1g"), 1ull << 30);
  EXPECT_EQ(size("1t"), 1ull << 40);
  EXPECT_EQ(size("512b"), 512u);
  EXPECT_EQ(size("0x1000"), 4096u);
  // kb_base=1024 keeps old scripts working: "ki" means 1000 (HOWTO examples).
  EXPECT_EQ(size("1mi"), 1000000u);
  EXPECT_EQ(size("1000ki"), 1000000u);
  std::uint64_t v;
  for (const char* bad : {"", "k", "-4k", "4q", "4kk", "1.5m", "abc"})
    EXPECT_FALSE(parse_size(bad, &v)) << bad;
}

TEST(Parse, TimesDefaultToSeconds) {
  std::uint64_t ns;
  ASSERT_TRUE(parse_time_ns("10", 1000000000ull, &ns));
  EXPECT_EQ(ns, 10'000'000'000ull);
  ASSERT_TRUE(parse_time_ns("500ms", 1000000000ull, &ns));
  EXPECT_EQ(ns, 500'000'000ull);
  ASSERT_TRUE(parse_time_ns("2m", 1000000000ull, &ns));
  EXPECT_EQ(ns, 120'000'000'000ull);
  ASSERT_TRUE(parse_time_ns("3us", 1000000000ull, &ns));
  EXPECT_EQ(ns, 3000u);
  ASSERT_TRUE(parse_time_ns("1h", 1000000000ull, &ns));
  EXPECT_EQ(ns, 3600'000'000'000ull);
  EXPECT_FALSE(parse_time_ns("5 parsecs", 1000000000ull, &ns));
}

TEST(Parse, BoolsPercentsAndRanges) {
  bool b = false;
  EXPECT_TRUE(parse_bool("", &b) && b);
  EXPECT_TRUE(parse_bool("0", &b) && !b);
  EXPECT_TRUE(parse_bool("yes", &b) && b);
  EXPECT_FALSE(parse_bool("2", &b));
  double p;
  EXPECT_TRUE(parse_percent("50%", &p));
  EXPECT_EQ(p, 50.0);
  EXPECT_FALSE(parse_percent("50", &p));
  EXPECT_FALSE(parse_percent("150%", &p));
  std::uint64_t lo, hi;
  ASSERT_TRUE(parse_size_range("64k-4k", &lo, &hi));  // reversed ranges are swapped
  EXPECT_EQ(lo, 4096u);
  EXPECT_EQ(hi, 65536u);
  ASSERT_TRUE(parse_size_range("1k:4k", &lo, &hi));
  EXPECT_EQ(lo, 1024u);
}

}  // namespace
}  // namespace iostack::job
