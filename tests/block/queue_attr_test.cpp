// /sys/block/<dev>/queue attribute validation, as Linux 6.18 answers writes
// (checked by hand on this machine's loop devices).
#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

class QueueAttrTest : public BlockTest {
 protected:
  void SetUp() override { make("none", {}, 128); }
  std::string show(const std::string& a) {
    std::string v;
    EXPECT_EQ(q->attr_show(a, &v), 0) << a;
    return v;
  }
};

TEST_F(QueueAttrTest, SchedulerListsNoneFirstAndBracketsTheActiveOne) {
  EXPECT_EQ(show("scheduler").rfind("[none] mq-deadline", 0), 0u) << show("scheduler");
  EXPECT_EQ(q->attr_store("scheduler", "mq-deadline\n"), 0);
  EXPECT_EQ(show("scheduler").rfind("none [mq-deadline]", 0), 0u) << show("scheduler");
  EXPECT_EQ(show("nr_requests"), "256") << "2 * min(depth, 128) with a scheduler";
  EXPECT_EQ(q->attr_store("scheduler", "deadline"), 0) << "the old alias";
  EXPECT_EQ(q->attr_store("scheduler", "foo"), -EINVAL);
  EXPECT_EQ(show("scheduler").rfind("none [mq-deadline]", 0), 0u);
  EXPECT_EQ(q->attr_store("scheduler", "none"), 0);
  EXPECT_EQ(show("nr_requests"), "128");
}

TEST_F(QueueAttrTest, MaxSectorsKb) {
  EXPECT_EQ(show("max_hw_sectors_kb"), "1280");
  EXPECT_EQ(q->attr_store("max_sectors_kb", "2000"), 0);
  EXPECT_EQ(show("max_sectors_kb"), "1280") << "clamped to the hardware limit";
  EXPECT_EQ(q->attr_store("max_sectors_kb", "3"), -EINVAL);
  EXPECT_EQ(q->attr_store("max_sectors_kb", "4"), 0);
  EXPECT_EQ(show("max_sectors_kb"), "4");
  EXPECT_EQ(q->attr_store("max_sectors_kb", "abc"), -EINVAL);
  EXPECT_EQ(q->attr_store("max_sectors_kb", "-1"), -EINVAL);
  EXPECT_EQ(show("max_sectors_kb"), "4") << "a failed store changes nothing";
  EXPECT_EQ(q->attr_store("max_sectors_kb", "0"), 0);
  EXPECT_EQ(show("max_sectors_kb"), "1280") << "0 restores the default";
}

TEST_F(QueueAttrTest, NrRequests) {
  EXPECT_EQ(q->attr_store("nr_requests", "1"), 0);
  EXPECT_EQ(show("nr_requests"), "4") << "raised to BLKDEV_MIN_RQ";
  EXPECT_EQ(q->attr_store("nr_requests", "100000"), -EINVAL);
  EXPECT_EQ(q->attr_store("nr_requests", "x"), -EINVAL);
  EXPECT_EQ(q->attr_store("nr_requests", "64"), 0);
  EXPECT_EQ(show("nr_requests"), "64");
  // Fewer tags really limit what is in flight.
  drv.mode = RecordingDriver::Mode::kHold;
  for (int i = 0; i < 64; ++i) submit(REQ_OP_READ, 1000 * i, 4096);
  EXPECT_EQ(drv.held.size(), 64u);
  EXPECT_EQ(submit(REQ_OP_READ | REQ_NOWAIT, 99999, 4096)->err, -EAGAIN);
}

TEST_F(QueueAttrTest, NomergesRotationalWriteCache) {
  EXPECT_EQ(q->attr_store("nomerges", "5"), 0);
  EXPECT_EQ(show("nomerges"), "1");
  EXPECT_EQ(q->attr_store("nomerges", "2"), 0);
  EXPECT_EQ(show("nomerges"), "2");
  EXPECT_EQ(q->attr_store("nomerges", "x"), -EINVAL);
  EXPECT_EQ(q->attr_store("rotational", "2"), 0);
  EXPECT_EQ(show("rotational"), "1");
  EXPECT_EQ(q->attr_store("write_cache", "write back"), 0);
  EXPECT_EQ(show("write_cache"), "write through") << "no cache to turn on";
  EXPECT_EQ(q->attr_store("write_cache", "bogus"), -EINVAL);
}

TEST_F(QueueAttrTest, WriteCacheTogglesOnADeviceWithOne) {
  QueueLimits lim;
  lim.wc_feature = true;
  lim.fua_feature = true;
  make("none", lim);
  EXPECT_EQ(show("write_cache"), "write back");
  EXPECT_EQ(show("fua"), "1");
  EXPECT_EQ(q->attr_store("write_cache", "write through\n"), 0);
  EXPECT_EQ(show("write_cache"), "write through");
  EXPECT_EQ(show("fua"), "0");
  submit(REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, 4096);
  ASSERT_EQ(drv.issued.size(), 1u);
  EXPECT_FALSE(drv.issued[0].opf & (REQ_FUA | REQ_PREFLUSH));
}

TEST_F(QueueAttrTest, GeometryIsValidated) {
  EXPECT_EQ(q->attr_store("logical_block_size", "1000"), -EINVAL);
  EXPECT_EQ(q->attr_store("logical_block_size", "256"), -EINVAL);
  EXPECT_EQ(q->attr_store("logical_block_size", "4096"), 0);
  EXPECT_EQ(show("physical_block_size"), "4096");
  EXPECT_EQ(q->attr_store("physical_block_size", "512"), -EINVAL);
  EXPECT_EQ(q->attr_store("max_segments", "0"), -EINVAL);
  EXPECT_EQ(q->attr_store("max_segments", "16"), 0);
  EXPECT_EQ(q->attr_store("max_hw_sectors_kb", "8"), -EACCES) << "read-only";
  EXPECT_EQ(q->attr_store("no_such_attr", "1"), -ENOENT);
  EXPECT_EQ(q->attr_store("read_only", "1"), 0);
  EXPECT_TRUE(disk->read_only());
}

TEST_F(QueueAttrTest, SchedulerTunablesAreReachable) {
  ASSERT_EQ(q->attr_store("scheduler", "mq-deadline"), 0);
  EXPECT_EQ(show("iosched/read_expire"), "500");
  EXPECT_EQ(q->attr_store("iosched/read_expire", "250"), 0);
  EXPECT_EQ(show("iosched/read_expire"), "250");
  EXPECT_EQ(q->attr_store("iosched/fifo_batch", "nonsense"), -EINVAL);
  EXPECT_EQ(q->attr_store("iosched/nope", "1"), -ENOENT);
}

TEST_F(QueueAttrTest, SchedulerSwitchUnderLoadKeepsEveryIo) {
  drv.mode = RecordingDriver::Mode::kTimer;
  for (int i = 0; i < 32; ++i) submit(REQ_OP_WRITE, 100 * i, 4096);
  EXPECT_EQ(q->attr_store("scheduler", "mq-deadline"), 0) << "waits for in-flight I/O";
  for (int i = 0; i < 32; ++i) submit(REQ_OP_WRITE, 100 * i + 8, 4096);
  clock.run_until_idle();
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
  EXPECT_EQ(ios.size(), 64u);
}

}  // namespace
}  // namespace iostack::block::test
