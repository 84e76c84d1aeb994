// The hard disk model's arithmetic on hand-computed cases.
#include "dev/hdd_model.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace iostack::dev {
namespace {

constexpr core::Nanos kUs = core::kNsPerUs;
constexpr core::Nanos kMs = core::kNsPerMs;

// 6000 rpm: one revolution is 10 ms; 100 sectors a track: 100 us a sector.
HddConfig simple(unsigned heads, std::uint64_t cylinders) {
  HddConfig c;
  c.rpm = 6000;
  c.heads = heads;
  c.zones = 1;
  c.spt_outer = c.spt_inner = 100;
  c.seek_track = 1000 * kUs;
  c.seek_avg = 10000 * kUs;
  c.seek_full = 20000 * kUs;
  c.head_switch = 500 * kUs;
  c.size_bytes = 100 * heads * cylinders * 512;
  return c;
}

TEST(HddModel, ZonesHoldFewerSectorsPerTrackInward) {
  HddConfig c = simple(2, 0);
  c.zones = 2;
  c.spt_outer = 100;
  c.spt_inner = 50;
  c.size_bytes = 600 * 512;  // 2 cylinders per zone: 2*2*100 + 2*2*50 sectors
  const HddModel m(c);
  ASSERT_EQ(m.cylinders(), 4u);
  EXPECT_EQ(m.zones()[1].first_lba, 400u);
  EXPECT_EQ(m.zones()[1].first_cyl, 2u);
  auto at = [&](std::uint64_t lba) {
    const HddPos p = m.locate(lba);
    return std::vector<std::uint32_t>{p.cyl, p.head, p.sector, p.spt};
  };
  EXPECT_EQ(at(0), (std::vector<std::uint32_t>{0, 0, 0, 100}));
  EXPECT_EQ(at(150), (std::vector<std::uint32_t>{0, 1, 50, 100}));
  EXPECT_EQ(at(250), (std::vector<std::uint32_t>{1, 0, 50, 100}));
  EXPECT_EQ(at(400), (std::vector<std::uint32_t>{2, 0, 0, 50}));
  EXPECT_EQ(at(475), (std::vector<std::uint32_t>{2, 1, 25, 50}));
}

TEST(HddModel, SeekCurveIsSqrtThenLinear) {
  const HddModel m(simple(1, 3001));  // knee at 3001/3 = 1000 cylinders
  ASSERT_EQ(m.cylinders(), 3001u);
  EXPECT_EQ(m.seek_ns(0), 0u);
  EXPECT_EQ(m.seek_ns(1), 1000 * kUs);
  EXPECT_EQ(m.seek_ns(1000), 10000 * kUs);
  EXPECT_EQ(m.seek_ns(2000), 15000 * kUs);  // halfway along the line
  EXPECT_EQ(m.seek_ns(3000), 20000 * kUs);
  // settle + a*sqrt(100) with a = 9 ms / (sqrt(1000) - 1): 1 ms + 9a.
  const double a = 9000.0 * kUs / (std::sqrt(1000.0) - 1);
  EXPECT_NEAR(static_cast<double>(m.seek_ns(100)), 1000.0 * kUs + 9 * a, 1.0);
  EXPECT_LT(m.seek_ns(100), m.seek_ns(101));
}

TEST(HddModel, RotationalLatencyFollowsTheClock) {
  const HddModel m(simple(1, 3001));
  ASSERT_EQ(m.rev_ns(), 10 * kMs);
  const HddHead h;
  // Sector 25 of track 0 passes 2.5 ms after the index mark.
  EXPECT_EQ(m.position_ns(h, 0, 25), 2500 * kUs);
  EXPECT_EQ(m.position_ns(h, 3 * kMs, 25), 9500 * kUs);  // just missed: most of a turn
  EXPECT_EQ(m.position_ns(h, 12 * kMs, 25), 500 * kUs);  // the next turn
  // Cylinder 1000 after the seek: its track is skewed 1000 * 1 ms, a whole
  // number of turns, so sector 50 is at 5 ms; the seek ends at 10 ms.
  EXPECT_EQ(m.position_ns(h, 0, 1000 * 100 + 50), 10 * kMs + 5 * kMs);
}

TEST(HddModel, SequentialAccessCrossesTracksWithTheSkew) {
  const HddModel m(simple(2, 100));
  ASSERT_EQ(m.skew_ns(), 1000 * kUs);  // max(head switch 0.5 ms, one-cylinder seek 1 ms)
  HddHead h;
  // Sectors 90-99 of track 0 from 9 ms (no wait), to 10 ms; head switch
  // 0.5 ms; track 1 starts 1 ms (skew) past the mark: wait 0.5 ms; 10
  // sectors there, 1 ms: 12 ms.
  EXPECT_EQ(m.access(&h, 9 * kMs, 90, 20), 12 * kMs);
  EXPECT_EQ(h.cyl, 0u);
  EXPECT_EQ(h.head, 1u);
  // Then on to cylinder 1 (head 0): a one-cylinder seek fits the skew too.
  std::uint32_t dist = 7;
  EXPECT_EQ(m.access(&h, 20 * kMs, 190, 20, &dist), 20 * kMs + 3 * kMs);
  EXPECT_EQ(dist, 0u);  // started on the same cylinder
  EXPECT_EQ(h.cyl, 1u);
}

// SPTF visits candidates by their rotational distance r and relies on the
// cost being r whenever the arm's move fits within it (and r plus whole
// turns otherwise): position_from() must agree with position_ns() for
// short, long and multi-turn moves, head switches and start times.
TEST(HddModel, PositionFromTheRotationalDistanceEqualsPositionNs) {
  HddConfig c = simple(4, 3000);
  c.seek_full = 35000 * kUs;  // seeks of up to three and a half turns
  const HddModel m(c);
  const core::Nanos rev = m.rev_ns();
  std::uint64_t x = 88172645463325252ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::uint64_t sectors = c.size_bytes / 512;
  for (int i = 0; i < 20000; ++i) {
    const HddPos at = m.locate(next() % sectors);
    const HddHead h{at.cyl, at.head};
    // Half the targets near the head (same track, other surface, short seeks).
    const std::uint64_t lba = i % 2 ? next() % sectors : (next() % 2000 + at.cyl * 400) % sectors;
    const HddPos p = m.locate(lba);
    const core::Nanos t = next() % (1000 * rev);
    const core::Nanos r = (p.offset + rev - t % rev) % rev;
    const core::Nanos want = m.position_ns(h, t, p);
    ASSERT_EQ(m.position_from(m.move_ns(h, p), r), want) << "lba " << lba << " t " << t;
    if (m.move_ns(h, p) <= r) {
      EXPECT_EQ(want, r);
    } else {
      EXPECT_GT(want, r);
    }
  }
}

}  // namespace
}  // namespace iostack::dev
