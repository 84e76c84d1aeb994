// Merge rules (block/blk-merge.c, elevator.c): where a bio may join a queued
// request and where it may not. Requests stay in the scheduler because the
// device takes one at a time and holds it.
#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

class MergeTest : public BlockTest {
 protected:
  // mq-deadline, queue depth 1, a held request occupying the device.
  void SetUp() override {
    make("mq-deadline", {}, 1);
    // One driver tag, but room in the scheduler for what the tests queue.
    ASSERT_EQ(q->attr_store("nr_requests", "64"), 0);
    drv.mode = RecordingDriver::Mode::kHold;
    submit(REQ_OP_WRITE, 1u << 20, 4096);  // occupies the only driver tag
    // The next request leaves the scheduler and waits on the dispatch list
    // for a tag, as in the kernel; later ones stay in the scheduler.
    submit(REQ_OP_WRITE, kParked, 4096);
    ASSERT_EQ(drv.issued.size(), 1u);
    drv.issued.clear();
  }
  static constexpr sector_t kParked = 1u << 19;
  // Lets everything through and returns what the driver saw.
  std::vector<Issued> drain() {
    drv.mode = RecordingDriver::Mode::kInline;
    drv.complete_held();
    clock.run_until_idle();
    std::vector<Issued> out;
    for (const auto& r : drv.issued)
      if (r.sector != kParked) out.push_back(r);
    return out;
  }
};

TEST_F(MergeTest, BackMergeThroughTheOneHitCache) {
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 8, 4096);
  submit(REQ_OP_WRITE, 16, 4096);
  const auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sector, 0u);
  EXPECT_EQ(out[0].bytes, 12288u);
  EXPECT_EQ(out[0].bios, 3u);
}

TEST_F(MergeTest, BackMergeThroughTheHashWhenTheCacheMisses) {
  submit(REQ_OP_WRITE, 0, 4096);    // last_merge
  submit(REQ_OP_WRITE, 500, 4096);  // another request
  submit(REQ_OP_WRITE, 508, 4096);  // cache (0) misses; hash finds the one ending at 508
  const auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].sector, 500u);
  EXPECT_EQ(out[1].bytes, 8192u);
}

TEST_F(MergeTest, FrontMergeThroughTheScheduler) {
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 508, 4096);
  submit(REQ_OP_WRITE, 500, 4096);  // ends where the queued one starts
  const auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].sector, 500u);
  EXPECT_EQ(out[1].bytes, 8192u);
  EXPECT_EQ(stats().write.merges, 1u);
}

TEST_F(MergeTest, FrontMergesOffKeepsThemApart) {
  ASSERT_EQ(q->attr_store("iosched/front_merges", "0"), 0);
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 508, 4096);
  submit(REQ_OP_WRITE, 500, 4096);
  EXPECT_EQ(drain().size(), 3u);
}

TEST_F(MergeTest, BioMergeThenRequestMergeClosesTheGap) {
  submit(REQ_OP_WRITE, 0, 4096);   // [0, 8)
  submit(REQ_OP_WRITE, 16, 4096);  // [16, 24)
  submit(REQ_OP_WRITE, 8, 4096);   // joins [0,8), then [0,16) swallows [16,24)
  const auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 12288u);
  EXPECT_EQ(out[0].bios, 3u);
  const auto s = stats();
  EXPECT_EQ(s.write.merges, 2u) << "one bio merge and one request merge";
  EXPECT_EQ(s.write.ios, 3u) << "the held, the parked and the merged request";
}

TEST_F(MergeTest, DifferentOpsDoNotMerge) {
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_READ, 8, 4096);
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(MergeTest, DifferentPrioritiesDoNotMerge) {
  submit(REQ_OP_WRITE, 0, 4096, kPrioBe);
  submit(REQ_OP_WRITE, 8, 4096, kPrioRt);
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(MergeTest, DifferentWriteHintsDoNotMerge) {
  Io* a = make_io(REQ_OP_WRITE, 0, 4096);
  Io* b = make_io(REQ_OP_WRITE, 8, 4096);
  a->bio.bi_write_hint = 2;
  b->bio.bi_write_hint = 3;
  submit_bio(&a->bio);
  submit_bio(&b->bio);
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(MergeTest, NomergeFlagKeepsABioApart) {
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE | REQ_NOMERGE, 8, 4096);
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(MergeTest, MaxSectorsCapsAMerge) {
  ASSERT_EQ(q->attr_store("max_sectors_kb", "8"), 0);
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 8, 4096);
  submit(REQ_OP_WRITE, 16, 4096);  // would make 12 KiB
  const auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bytes, 8192u);
}

TEST_F(MergeTest, MaxSegmentsCapsAMerge) {
  ASSERT_EQ(q->attr_store("max_segments", "2"), 0);
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 8, 4096);
  submit(REQ_OP_WRITE, 16, 4096);
  const auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].segments, 2u);
}

TEST_F(MergeTest, Nomerges2DisablesEveryMerge) {
  ASSERT_EQ(q->attr_store("nomerges", "2"), 0);
  submit(REQ_OP_WRITE, 0, 4096);
  submit(REQ_OP_WRITE, 8, 4096);
  EXPECT_EQ(drain().size(), 2u);
}

TEST_F(MergeTest, Nomerges1TriesOnlyTheCache) {
  ASSERT_EQ(q->attr_store("nomerges", "1"), 0);
  submit(REQ_OP_WRITE, 0, 4096);  // last_merge
  submit(REQ_OP_WRITE, 8, 4096);  // cache hit: merges
  submit(REQ_OP_WRITE, 500, 4096);
  submit(REQ_OP_WRITE, 508, 4096);  // only the hash would find it
  const auto out = drain();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].bytes, 8192u);
}

TEST_F(MergeTest, InsertMergeJoinsRequestsFromAPlug) {
  submit(REQ_OP_WRITE, 0, 4096);  // queued in the scheduler
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 8, 4096);  // plug merge does not see the scheduler
  blk_finish_plug(&plug);         // inserted: merges with [0, 8)
  const auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 8192u);
}

class NoneMergeTest : public BlockTest {};

TEST_F(NoneMergeTest, SoftwareQueueMergeLooksAtTheLastEightRequests) {
  make("none", {}, 16);
  // A busy driver parks the first request on the dispatch list.
  drv.busy = 1000;
  submit(REQ_OP_WRITE, 1u << 20, 4096);
  // A plug flushed as its thread goes to sleep inserts into the software
  // queue, which stays put while the dispatch list cannot move.
  BlkPlug plug;
  blk_start_plug(&plug);
  for (int i = 0; i < 10; ++i) submit(REQ_OP_WRITE, 1000 * (i + 1), 4096);
  blk_flush_current_plug_before_sleep();
  blk_finish_plug(&plug);
  submit(REQ_OP_WRITE, 1000 * 10 + 8, 4096);  // newest: found
  submit(REQ_OP_WRITE, 1000 * 1 + 8, 4096);   // 10th from the end: not tried
  EXPECT_TRUE(drv.issued.empty());
  drv.busy = 0;
  clock.run_until_idle();  // the busy queue is rerun after BLK_MQ_RESOURCE_DELAY
  EXPECT_EQ(drv.issued.size(), 1u + 10u + 1u);
  EXPECT_EQ(stats().write.merges, 1u);
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
}

class DiscardMergeTest : public BlockTest {
 protected:
  // Discards queued in mq-deadline behind a held and a parked write, then
  // everything let through; returns what the driver saw.
  std::vector<Issued> discards(std::uint16_t max_discard_segments, std::vector<sector_t> at) {
    QueueLimits lim;
    lim.max_discard_sectors = 1u << 20;
    lim.max_discard_segments = max_discard_segments;
    make("mq-deadline", lim, 1);
    EXPECT_EQ(q->attr_store("nr_requests", "64"), 0);
    drv.mode = RecordingDriver::Mode::kHold;
    submit(REQ_OP_WRITE, 1u << 20, 4096);
    submit(REQ_OP_WRITE, 1u << 19, 4096);  // parked for the driver tag
    for (sector_t s : at) submit(REQ_OP_DISCARD, s, 4096);
    drv.mode = RecordingDriver::Mode::kInline;
    drv.complete_held();
    clock.run_until_idle();
    return drv.issued;
  }
};

TEST_F(DiscardMergeTest, MultiSegmentDiscardsMergeAcrossGaps) {
  const auto out = discards(4, {0, 800, 1600});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].bios, 3u);
  EXPECT_EQ(out[2].segments, 3u);
  EXPECT_EQ(stats().discard.merges, 2u);
}

TEST_F(DiscardMergeTest, SingleSegmentDiscardsMergeOnlyWhenContiguous) {
  EXPECT_EQ(discards(1, {0, 8, 1600}).size(), 4u);
}

}  // namespace
}  // namespace iostack::block::test
