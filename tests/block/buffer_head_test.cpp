// submit_bh and its completions (fs/buffer.c).
#include "block/buffer_head.hpp"

#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

class BufferHeadTest : public BlockTest {
 protected:
  void SetUp() override { make("mq-deadline"); }
  void init(BufferHead* bh, sector_t block, std::uint32_t size, BhEndIo end) {
    bh->b_blocknr = block;
    bh->b_size = size;
    bh->b_data = buffer(0, size);  // page aligned: a buffer never crosses a page
    bh->b_bdev = disk.get();
    bh->b_end_io = end;
    bh->set(BH_Mapped);
    lock_buffer(bh);
    get_bh(bh);
  }
};

TEST_F(BufferHeadTest, SectorIsBlockTimesBlockSize) {
  BufferHead bh;
  init(&bh, 3, 4096, end_buffer_read_sync);
  ASSERT_EQ(submit_bh(REQ_OP_READ, &bh), 0);
  ASSERT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(drv.issued[0].sector, 24u);
  EXPECT_EQ(drv.issued[0].bytes, 4096u);
  EXPECT_EQ(drv.issued[0].segments, 1u);
  EXPECT_TRUE(bh.test(BH_Req));
  EXPECT_TRUE(bh.test(BH_Uptodate));
  EXPECT_FALSE(bh.test(BH_Lock)) << "completion unlocks";
  EXPECT_EQ(bh.b_count.load(), 0) << "and drops the reference";
}

TEST_F(BufferHeadTest, ReadErrorClearsUptodate) {
  BufferHead bh;
  bh.set(BH_Uptodate);
  init(&bh, 0, 1024, end_buffer_read_sync);
  drv.fail_status = BlkStatus::IOERR;
  ASSERT_EQ(submit_bh(REQ_OP_READ, &bh), 0);
  EXPECT_FALSE(bh.test(BH_Uptodate));
  EXPECT_FALSE(bh.test(BH_Lock));
}

TEST_F(BufferHeadTest, WriteErrorMarksWriteEioAndRewriteClearsIt) {
  BufferHead bh;
  init(&bh, 1, 512, end_buffer_write_sync);
  drv.fail_status = BlkStatus::IOERR;
  ASSERT_EQ(submit_bh(REQ_OP_WRITE, &bh), 0);
  EXPECT_TRUE(bh.test(BH_Write_EIO));
  EXPECT_FALSE(bh.test(BH_Uptodate));
  // The second submission of the same buffer (BH_Req already set) clears
  // the old error before the new write starts.
  drv.fail_status = BlkStatus::OK;
  lock_buffer(&bh);
  get_bh(&bh);
  drv.mode = RecordingDriver::Mode::kHold;
  ASSERT_EQ(submit_bh(REQ_OP_WRITE, &bh), 0);
  EXPECT_FALSE(bh.test(BH_Write_EIO));
  drv.complete_held();
  EXPECT_TRUE(bh.test(BH_Uptodate));
}

TEST_F(BufferHeadTest, FirstSubmissionKeepsAnEarlierWriteError) {
  BufferHead bh;
  bh.set(BH_Write_EIO);
  init(&bh, 1, 512, end_buffer_write_sync);
  drv.mode = RecordingDriver::Mode::kHold;
  ASSERT_EQ(submit_bh(REQ_OP_WRITE, &bh), 0);
  EXPECT_TRUE(bh.test(BH_Write_EIO)) << "only a rewrite (BH_Req set) clears it";
  drv.complete_held();
}

TEST_F(BufferHeadTest, MetaAndPrioBecomeRequestFlags) {
  BufferHead bh;
  init(&bh, 0, 512, end_buffer_read_sync);
  bh.set(BH_Meta);
  bh.set(BH_Prio);
  ASSERT_EQ(submit_bh(REQ_OP_READ, &bh), 0);
  EXPECT_TRUE(drv.issued[0].opf & REQ_META);
  EXPECT_TRUE(drv.issued[0].opf & REQ_PRIO);
}

TEST_F(BufferHeadTest, PreconditionsAreErrorsNotCrashes) {
  BufferHead bh;
  init(&bh, 0, 512, end_buffer_read_sync);
  unlock_buffer(&bh);
  EXPECT_EQ(submit_bh(REQ_OP_READ, &bh), -EINVAL) << "not locked";
  lock_buffer(&bh);
  bh.clear(BH_Mapped);
  EXPECT_EQ(submit_bh(REQ_OP_READ, &bh), -EINVAL) << "not mapped";
  bh.set(BH_Mapped);
  bh.b_end_io = nullptr;
  EXPECT_EQ(submit_bh(REQ_OP_READ, &bh), -EINVAL) << "no b_end_io";
  EXPECT_TRUE(drv.issued.empty());
}

TEST_F(BufferHeadTest, BufferStraddlingTheEndIsCut) {
  BufferHead bh;
  init(&bh, kCapacity / 8 - 1, 8192, end_buffer_read_sync);  // last 4 KiB block + 4 KiB past
  bh.b_blocknr = (kCapacity - 8) / 16;
  ASSERT_EQ(submit_bh(REQ_OP_READ, &bh), 0);
  ASSERT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(drv.issued[0].sector + drv.issued[0].bytes / 512, kCapacity);
}

TEST_F(BufferHeadTest, WaitOnBufferReturnsAfterCompletion) {
  BufferHead bh;
  init(&bh, 0, 512, end_buffer_read_sync);
  drv.mode = RecordingDriver::Mode::kTimer;
  ASSERT_EQ(submit_bh(REQ_OP_READ, &bh), 0);
  EXPECT_TRUE(bh.test(BH_Lock));
  clock.run_until_idle();
  wait_on_buffer(&bh);
  EXPECT_TRUE(bh.test(BH_Uptodate));
}

}  // namespace
}  // namespace iostack::block::test
