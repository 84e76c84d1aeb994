// Batched request allocation through the plug (blk_start_plug_nr_ios,
// __blk_mq_alloc_requests_batch, __sbitmap_queue_get_batch and
// blk_mq_free_plug_rqs): tags taken together, unused ones given back when
// the plug flushes, nothing held past a freeze, and a batch cut short when
// the tags run out.
#include <atomic>

#include "block/hctx.hpp"
#include "block/tags.hpp"
#include "block_fixture.hpp"
#include "core/sbitmap.hpp"

namespace iostack::block::test {
namespace {

TEST(SbitmapBatch, TakesTheWindowFromTheFirstFreeBitWithOneAtomic) {
  std::atomic<std::uint64_t> word{0b1011};  // bits 0, 1 and 3 taken
  unsigned first = 99;
  const std::uint64_t got =
      core::sbitmap_word_get_batch(word, 0xffff, 4, &first, std::memory_order_acquire);
  EXPECT_EQ(first, 2u);
  EXPECT_EQ(got, 0b1101u) << "bits 2, 4 and 5: bit 3 stays with its owner";
  EXPECT_EQ(word.load(), 0b111111u);
}

TEST(SbitmapBatch, AWindowPastTheWordsEndTakesNothing) {
  std::atomic<std::uint64_t> word{0b0111};
  unsigned first = 0;
  EXPECT_EQ(core::sbitmap_word_get_batch(word, 0xff, 6, &first, std::memory_order_acquire), 0u);
  EXPECT_EQ(word.load(), 0b0111u);
  EXPECT_EQ(core::sbitmap_word_get_batch(word, 0xff, 5, &first, std::memory_order_acquire),
            0b11111u);
  EXPECT_EQ(first, 3u);
  EXPECT_EQ(core::sbitmap_word_get_batch(word, 0xff, 1, &first, std::memory_order_acquire), 0u)
      << "a full word";
}

TEST(SbitmapBatch, TagsComeFromTheFirstWordWithRoomForTheBatch) {
  BlkMqTags tags(32, 0);  // 8 bits per word, as sbitmap_calculate_shift picks
  ASSERT_EQ(tags.bits_per_word(), 8u);
  ASSERT_EQ(tags.try_get(), 0);
  unsigned offset = 0;
  EXPECT_EQ(tags.try_get_batch(8, &offset), 0xffu) << "word 0 has no 8 free bits from bit 1";
  EXPECT_EQ(offset, 8u);
  EXPECT_EQ(tags.try_get_batch(7, &offset), 0x7fu);
  EXPECT_EQ(offset, 1u);
  EXPECT_EQ(tags.busy(), 16u);
}

class TagBatchTest : public BlockTest, public ::testing::WithParamInterface<const char*> {
 protected:
  BlkMqTags* alloc_tags() {
    HwCtx* h = q->hctx(0);
    return h->sched_tags ? h->sched_tags : h->tags;
  }
};

TEST_P(TagBatchTest, APlugForEightIosTakesEightTagsOnItsFirstRequest) {
  make(GetParam(), {}, 32);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 8);
  submit(REQ_OP_READ, 0, 4096);
  EXPECT_EQ(alloc_tags()->busy(), 8u);
  EXPECT_EQ(q->usage(), 8) << "each cached request holds a queue reference";
  for (int i = 1; i < 8; ++i) submit(REQ_OP_READ, 1000 * i, 4096);
  EXPECT_EQ(alloc_tags()->busy(), 8u) << "the other seven used the cached requests";
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.issued.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(drv.issued[i].sector, 1000u * i) << "submission order";
  drv.complete_held();
  EXPECT_EQ(alloc_tags()->busy(), 0u);
  EXPECT_EQ(q->hctx(0)->tags->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
}

TEST_P(TagBatchTest, UnusedCachedRequestsAreFreedWhenThePlugFinishes) {
  make(GetParam(), {}, 32);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 8);
  submit(REQ_OP_READ, 0, 4096);
  submit(REQ_OP_READ, 8, 4096);  // merges into the first in the plug
  EXPECT_EQ(alloc_tags()->busy(), 8u);
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(alloc_tags()->busy(), 1u) << "seven unused requests went back";
  EXPECT_EQ(q->usage(), 1);
  drv.complete_held();
  EXPECT_EQ(alloc_tags()->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
  const auto s = stats();
  EXPECT_EQ(s.read.ios, 1u) << "unused requests are not accounted";
  EXPECT_EQ(s.read.merges, 1u);
}

TEST_P(TagBatchTest, ASleepBeforeTheFinishFreesTheCachedRequests) {
  make(GetParam(), {}, 32);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 8);
  submit(REQ_OP_READ, 0, 4096);
  blk_flush_current_plug_before_sleep();
  EXPECT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(alloc_tags()->busy(), 1u);
  submit(REQ_OP_READ, 1000, 4096);
  EXPECT_EQ(alloc_tags()->busy(), 2u) << "one tag at a time once the batch is spent";
  blk_finish_plug(&plug);
  drv.complete_held();
  EXPECT_EQ(alloc_tags()->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
}

TEST_P(TagBatchTest, AnElevatorSwitchInsideThePlugLeaksNoRequest) {
  make(GetParam(), {}, 32);
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 8);
  submit(REQ_OP_READ, 0, 4096);
  submit(REQ_OP_READ, 1000, 4096);
  // The freeze waits like a sleep: it flushes this plug, whose six unused
  // requests (with their references and tags) go back first.
  const char* other = std::string(GetParam()) == "none" ? "mq-deadline" : "none";
  ASSERT_EQ(q->attr_store("scheduler", other), 0);
  EXPECT_EQ(q->usage(), 0);
  submit(REQ_OP_READ, 2000, 4096);
  blk_finish_plug(&plug);
  ASSERT_EQ(ios.size(), 3u);
  for (auto& io : ios) {
    EXPECT_EQ(io->done, 1);
    EXPECT_EQ(io->err, 0);
  }
  EXPECT_EQ(alloc_tags()->busy(), 0u);
  EXPECT_EQ(q->hctx(0)->tags->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
}

TEST_P(TagBatchTest, ABatchCutShortByBusyTagsLeavesTheRestToSingleAllocations) {
  make(GetParam(), {}, 32);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkMqTags* tags = alloc_tags();
  ASSERT_EQ(tags->bits_per_word(), q->nr_requests() >= 64 ? 16u : 8u);
  // Hold tags 0-3, then free 0 and 2: the batch window 0-3 finds two free.
  for (int i = 0; i < 4; ++i) submit(REQ_OP_READ, 1000 * i, 4096);
  ASSERT_EQ(drv.held.size(), 4u);
  Request* held[4];
  for (int i = 0; i < 4; ++i) held[i] = drv.held[i];
  drv.held = {held[1], held[3]};
  blk_mq_end_request(held[0], BlkStatus::OK);
  blk_mq_end_request(held[2], BlkStatus::OK);
  ASSERT_EQ(tags->busy(), 2u);

  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 4);
  submit(REQ_OP_READ, 10000, 4096);
  EXPECT_EQ(tags->busy(), 4u) << "two of the four asked for";
  submit(REQ_OP_READ, 11000, 4096);
  submit(REQ_OP_READ, 12000, 4096);
  submit(REQ_OP_READ, 13000, 4096);
  EXPECT_EQ(tags->busy(), 6u);
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 8u);
  drv.complete_held();
  EXPECT_EQ(tags->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
}

TEST_P(TagBatchTest, NoFreeTagFailsANowaitBioWithoutLeaking) {
  make(GetParam(), {}, 8);
  drv.mode = RecordingDriver::Mode::kHold;
  BlkMqTags* tags = alloc_tags();
  for (unsigned i = 0; i < tags->depth(); ++i) submit(REQ_OP_READ, 1000 * i, 4096);
  ASSERT_EQ(tags->busy(), tags->depth());
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 4);
  Io* io = submit(REQ_OP_READ | REQ_NOWAIT, 50000, 4096);
  blk_finish_plug(&plug);
  EXPECT_EQ(io->done, 1);
  EXPECT_EQ(io->err, -EAGAIN);
  EXPECT_EQ(tags->busy(), tags->depth());
  EXPECT_EQ(q->usage(), static_cast<long>(tags->depth()));
  while (!drv.held.empty()) drv.complete_held();  // the scheduler holds some back
  EXPECT_EQ(tags->busy(), 0u);
  EXPECT_EQ(q->usage(), 0);
}

TEST_P(TagBatchTest, RequestsOfOnePlugShareOneTimeStamp) {
  make(GetParam(), {}, 32);
  drv.mode = RecordingDriver::Mode::kHold;
  clock.advance_by(1000);  // a reading of 0 counts as none, as in the kernel
  BlkPlug plug;
  blk_start_plug_nr_ios(&plug, 4);
  submit(REQ_OP_READ, 0, 4096);
  clock.advance_by(5000);
  submit(REQ_OP_READ, 1000, 4096);
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.held.size(), 2u);
  EXPECT_EQ(drv.held[0]->start_time_ns, drv.held[1]->start_time_ns)
      << "blk_time_get_ns reads the clock once per plug";
  submit(REQ_OP_READ, 2000, 4096);
  ASSERT_EQ(drv.held.size(), 3u);
  EXPECT_EQ(drv.held[2]->start_time_ns, drv.held[0]->start_time_ns + 5000)
      << "the next plug reads it again";
}

INSTANTIATE_TEST_SUITE_P(Sched, TagBatchTest, ::testing::Values("none", "mq-deadline"));

}  // namespace
}  // namespace iostack::block::test
