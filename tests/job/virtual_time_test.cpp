// The job engine's virtual clock: its jiffies.
#include "job/virtual_time.hpp"

#include <gtest/gtest.h>

namespace iostack::job {
namespace {

// HZ=250 as on this machine: jiffies move in 4 ms steps on a fixed grid.
TEST(VirtualTime, ClockHasJiffiesAtHz250) {
  VirtualTime vt;
  core::VirtualClock& c = vt.clock();
  EXPECT_EQ(c.jiffy(), 4 * core::kNsPerMs);
  c.advance_to(4 * core::kNsPerMs - 1);
  EXPECT_EQ(c.coarse_now(), 0u);
  c.advance_to(11 * core::kNsPerMs);
  EXPECT_EQ(c.coarse_now(), 8 * core::kNsPerMs);
  EXPECT_EQ(c.now(), 11 * core::kNsPerMs);
}

}  // namespace
}  // namespace iostack::job
