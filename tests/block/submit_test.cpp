// submit_bio's checks, splitting to the queue limits, requeue, partial and
// failed completion, and sleeping for a tag.
#include <fcntl.h>
#include <sys/resource.h>

#include "block/bdev_file.hpp"
#include "block/blk_trace.hpp"
#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

class SubmitTest : public BlockTest {};

TEST_F(SubmitTest, BeyondTheEndOfTheDeviceIsAnIoError) {
  make("none");
  Io* io = submit(REQ_OP_READ, kCapacity - 4, 4096);
  EXPECT_EQ(io->err, -EIO);
  EXPECT_TRUE(drv.issued.empty());
  EXPECT_EQ(submit(REQ_OP_READ, kCapacity - 8, 4096)->err, 0) << "the last block is fine";
}

TEST_F(SubmitTest, MisalignedToTheLogicalBlockIsAnIoError) {
  QueueLimits lim;
  lim.logical_block_size = 4096;
  make("none", lim);
  EXPECT_EQ(submit(REQ_OP_WRITE, 1, 4096)->err, -EIO);
  EXPECT_EQ(submit(REQ_OP_WRITE, 8, 512)->err, -EIO);
  EXPECT_EQ(submit(REQ_OP_WRITE, 8, 4096)->err, 0);
  EXPECT_EQ(drv.issued.size(), 1u);
}

TEST_F(SubmitTest, UnsupportedDiscardAndWriteZeroesAreNotSupp) {
  make("none");
  EXPECT_EQ(submit(REQ_OP_DISCARD, 0, 4096)->err, -EOPNOTSUPP);
  EXPECT_EQ(submit(REQ_OP_WRITE_ZEROES, 0, 4096)->err, -EOPNOTSUPP);
  EXPECT_TRUE(drv.issued.empty());
}

TEST_F(SubmitTest, WriteToReadOnlyDiskIsReportedNotFailed) {
  make("none");
  disk->set_read_only(true);
  EXPECT_EQ(submit(REQ_OP_WRITE, 0, 4096)->err, 0);
  EXPECT_EQ(disk->ro_write_warnings.load(), 1u);
  // Opening for write is where Linux refuses a read-only device.
  EXPECT_EQ(bdev_file_open(disk.get(), O_RDWR), -EACCES);
}

TEST_F(SubmitTest, LargeBioIsSplitAtMaxSectors) {
  make("mq-deadline");
  ASSERT_EQ(q->attr_store("max_sectors_kb", "64"), 0);
  Io* io = submit(REQ_OP_WRITE, 0, 256 * 1024);
  EXPECT_EQ(io->done, 1) << "the parent completes once, after every piece";
  EXPECT_EQ(io->err, 0);
  ASSERT_EQ(drv.issued.size(), 4u);
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(drv.issued[i].sector, 128u * i);
    EXPECT_EQ(drv.issued[i].bytes, 64u * 1024);
  }
  EXPECT_EQ(q->split_count.load(), 3u);
}

TEST_F(SubmitTest, SplitAtChunkBoundaries) {
  QueueLimits lim;
  lim.chunk_sectors = 64;  // 32 KiB chunks
  make("none", lim);
  submit(REQ_OP_WRITE, 48, 32 * 1024);  // crosses the boundary at 64
  ASSERT_EQ(drv.issued.size(), 2u);
  EXPECT_EQ(drv.issued[0].sector, 48u);
  EXPECT_EQ(drv.issued[0].bytes, 16u * 512);
  EXPECT_EQ(drv.issued[1].sector, 64u);
}

TEST_F(SubmitTest, SplitAtMaxSegments) {
  QueueLimits lim;
  lim.max_segments = 4;
  make("none", lim);
  submit(REQ_OP_WRITE, 0, 32 * 1024);  // 8 pages: 8 segments
  ASSERT_EQ(drv.issued.size(), 2u);
  EXPECT_EQ(drv.issued[0].segments, 4u);
  EXPECT_EQ(drv.issued[0].bytes, 16u * 1024);
}

TEST_F(SubmitTest, SplitPiecesDoNotMergeBack) {
  make("none");
  ASSERT_EQ(q->attr_store("max_sectors_kb", "8"), 0);
  BlkPlug plug;
  blk_start_plug(&plug);
  submit(REQ_OP_WRITE, 0, 16 * 1024);
  blk_finish_plug(&plug);
  EXPECT_EQ(drv.issued.size(), 2u);
}

TEST_F(SubmitTest, BusyDriverRequeuesAndSucceeds) {
  make("mq-deadline");
  drv.busy = 2;
  Io* io = submit(REQ_OP_WRITE, 0, 4096);
  clock.run_until_idle();
  EXPECT_EQ(io->err, 0);
  EXPECT_EQ(drv.issued.size(), 1u);
  EXPECT_EQ(q->hctx(0)->requeued(), 2u);
}

TEST_F(SubmitTest, DriverErrorReachesTheBio) {
  make("none");
  drv.fail_status = BlkStatus::MEDIUM;
  EXPECT_EQ(submit(REQ_OP_READ, 0, 4096)->err, -ENODATA);
}

TEST_F(SubmitTest, PartialCompletionEndsBiosInOrder) {
  make("mq-deadline");
  drv.mode = RecordingDriver::Mode::kHold;
  BlkPlug plug;
  blk_start_plug(&plug);
  Io* a = submit(REQ_OP_WRITE, 0, 4096);
  Io* b = submit(REQ_OP_WRITE, 8, 4096);
  blk_finish_plug(&plug);
  ASSERT_EQ(drv.held.size(), 1u);
  Request* rq = drv.held[0];
  EXPECT_TRUE(blk_update_request(rq, BlkStatus::OK, 4096));
  EXPECT_EQ(a->done, 1);
  EXPECT_EQ(b->done, 0);
  EXPECT_EQ(blk_rq_pos(rq), 8u);
  EXPECT_EQ(blk_rq_bytes(rq), 4096u);
  drv.held.clear();
  blk_mq_end_request(rq, BlkStatus::IOERR);
  EXPECT_EQ(a->err, 0);
  EXPECT_EQ(b->err, -EIO);
}

TEST_F(SubmitTest, SleepsForATagUntilOneIsFreed) {
  make("none", {}, 2);
  drv.mode = RecordingDriver::Mode::kTimer;
  for (int i = 0; i < 6; ++i) submit(REQ_OP_READ, 1000 * i, 4096);
  clock.run_until_idle();
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
  EXPECT_EQ(drv.issued.size(), 6u);
}

TEST_F(SubmitTest, NowaitWithoutATagIsAgain) {
  make("none", {}, 1);
  drv.mode = RecordingDriver::Mode::kHold;
  submit(REQ_OP_READ, 0, 4096);
  EXPECT_EQ(submit(REQ_OP_READ | REQ_NOWAIT, 100, 4096)->err, -EAGAIN);
}

TEST_F(SubmitTest, BioOfClassNoneTakesTheTaskPriority) {
  make("none");
  submit(REQ_OP_READ, 0, 4096, 0);
  ASSERT_EQ(drv.issued.size(), 1u);
  // Since 6.17 a task without an io_context submits at its nice-derived
  // priority (BE, (nice + 20) / 5), not IOPRIO_DEFAULT.
  const int level = (getpriority(PRIO_PROCESS, 0) + 20) / 5;
  EXPECT_EQ(drv.issued[0].ioprio, kPrioBe | level);
  submit(REQ_OP_READ, 100, 4096, kPrioRt | 3);
  EXPECT_EQ(drv.issued[1].ioprio, kPrioRt | 3);
}

TEST_F(SubmitTest, DiskstatsCountIosSectorsAndTime) {
  make("mq-deadline");
  drv.mode = RecordingDriver::Mode::kTimer;
  drv.latency_ns = 2 * core::kNsPerMs;
  submit(REQ_OP_READ, 0, 4096);
  submit(REQ_OP_WRITE, 100, 8192);
  EXPECT_EQ(stats().in_flight, 2u);
  clock.run_until_idle();
  const auto s = stats();
  EXPECT_EQ(s.read.ios, 1u);
  EXPECT_EQ(s.read.sectors, 8u);
  EXPECT_EQ(s.write.ios, 1u);
  EXPECT_EQ(s.write.sectors, 16u);
  EXPECT_EQ(s.read.ticks_ms, 2u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.io_ticks_ms, 2u);
  EXPECT_EQ(s.time_in_queue_ms, 4u);
  EXPECT_NE(disk->diskstats_line().find(" tst0 1 0 8 2 1 0 16 2 0 2 4 "), std::string::npos)
      << disk->diskstats_line();
}

}  // namespace
}  // namespace iostack::block::test
