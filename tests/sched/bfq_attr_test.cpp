// bfq's iosched/ files: names, defaults and validation as Linux 6.18 shows
// them (checked on a loop device; HZ=250 makes timeout_sync 124 ms).
#include "bfq_fixture.hpp"

namespace iostack::sched::test {
namespace {

using BfqAttr = BfqTest;

TEST_F(BfqAttr, NamesAndDefaults) {
  const std::vector<std::pair<const char*, const char*>> defaults = {
      {"back_seek_max", "16384"},  {"back_seek_penalty", "2"}, {"fifo_expire_async", "250"},
      {"fifo_expire_sync", "125"}, {"low_latency", "1"},       {"max_budget", "0"},
      {"slice_idle", "8"},         {"slice_idle_us", "8000"},  {"strict_guarantees", "0"},
      {"timeout_sync", "124"}};
  EXPECT_EQ(bfq_->attr_names().size(), defaults.size());
  for (const auto& [name, value] : defaults) EXPECT_EQ(show(name), value) << name;
}

TEST_F(BfqAttr, RejectsWhatKstrtoulRejects) {
  for (const char* bad : {"abc", "-1", "0x10", " 5", "5x", "", "18446744073709551616"})
    EXPECT_EQ(bfq_->attr_store("slice_idle", bad), bad[0] == '1' ? -ERANGE : -EINVAL) << bad;
  EXPECT_EQ(show("slice_idle"), "8");
  EXPECT_EQ(bfq_->attr_store("no_such", "1"), -ENOENT);
  set("slice_idle", "+7\n");
  EXPECT_EQ(show("slice_idle"), "7");
}

TEST_F(BfqAttr, ClampsToEachRange) {
  set("back_seek_penalty", "0");
  EXPECT_EQ(show("back_seek_penalty"), "1");
  set("fifo_expire_sync", "0");
  EXPECT_EQ(show("fifo_expire_sync"), "1");
  set("fifo_expire_async", "99999999999");
  EXPECT_EQ(show("fifo_expire_async"), "2147483647");
  set("timeout_sync", "0");
  EXPECT_EQ(show("timeout_sync"), "4");  // one jiffy
  set("timeout_sync", "10");
  EXPECT_EQ(show("timeout_sync"), "12");  // rounded up to jiffies
  set("low_latency", "5");
  EXPECT_EQ(show("low_latency"), "1");
  set("strict_guarantees", "7");
  EXPECT_EQ(show("strict_guarantees"), "1");
  set("max_budget", "5000000000");
  EXPECT_EQ(show("max_budget"), "2147483647");
  EXPECT_EQ(bfq_->max_budget(), 2147483647);
}

TEST_F(BfqAttr, SliceIdleInBothUnitsIsOneU32OfNanoseconds) {
  set("slice_idle_us", "123");
  EXPECT_EQ(show("slice_idle"), "0");
  EXPECT_EQ(show("slice_idle_us"), "123");
  set("slice_idle", "5000");  // 5e9 ns wraps in 32 bits, as in the kernel
  EXPECT_EQ(show("slice_idle"), "705");
  EXPECT_EQ(show("slice_idle_us"), "705032");
  set("slice_idle_us", "4294967296");
  EXPECT_EQ(show("slice_idle_us"), "4294966");
}

TEST_F(BfqAttr, StrictGuaranteesRaiseSliceIdleToEightMs) {
  set("slice_idle", "0");
  set("strict_guarantees", "1");
  EXPECT_EQ(show("slice_idle"), "8");
  set("slice_idle", "2");  // only when switched on
  set("strict_guarantees", "1");
  EXPECT_EQ(show("slice_idle"), "2");
}

TEST_F(BfqAttr, MaxBudgetZeroAutoTunesFromThePeakRate) {
  set("max_budget", "1000");
  EXPECT_EQ(bfq_->max_budget(), 1000);
  set("max_budget", "0");
  EXPECT_EQ(show("max_budget"), "0");
  // peak_rate (sectors/us << 16) times timeout_sync in us.
  EXPECT_EQ(bfq_->max_budget(),
            static_cast<int>((static_cast<std::uint64_t>(bfq_->peak_rate()) * 1000 * 124) >> 16));
}

}  // namespace
}  // namespace iostack::sched::test
