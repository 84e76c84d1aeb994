// PREFLUSH / FUA sequencing (block/blk-flush.c) for devices with and without
// a volatile write cache and with and without FUA.
#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

struct Cache {
  bool wc;
  bool fua;
};

class FlushTest : public BlockTest {
 protected:
  void make_cache(Cache c, const char* sched = "mq-deadline") {
    QueueLimits lim;
    lim.wc_feature = c.wc;
    lim.fua_feature = c.fua;
    make(sched, lim);
  }
  // The ops the driver saw, as "F" (flush), "W" (write) and "W+FUA".
  std::vector<std::string> ops() const {
    std::vector<std::string> out;
    for (const auto& r : drv.issued) {
      if (req_op(r.opf) == REQ_OP_FLUSH)
        out.push_back("F");
      else
        out.push_back(std::string(op_is_write(r.opf) ? "W" : "R") +
                      (r.opf & REQ_FUA ? "+FUA" : ""));
    }
    return out;
  }
};

using Ops = std::vector<std::string>;

TEST_F(FlushTest, NoCacheDropsPreflushAndFua) {
  make_cache({false, false});
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, 4096);
  EXPECT_EQ(ops(), (Ops{"W"}));
  EXPECT_FALSE(drv.issued[0].opf & REQ_PREFLUSH);
  EXPECT_EQ(io->err, 0);
}

TEST_F(FlushTest, NoCacheEmptyFlushCompletesWithoutTheDevice) {
  make_cache({false, false});
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH, 0, 0);
  EXPECT_TRUE(drv.issued.empty());
  EXPECT_EQ(io->done, 1);
  EXPECT_EQ(io->err, 0);
}

TEST_F(FlushTest, CacheWithFuaFlushesThenWritesFua) {
  make_cache({true, true});
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, 4096);
  EXPECT_EQ(ops(), (Ops{"F", "W+FUA"}));
  EXPECT_EQ(io->err, 0);
  EXPECT_EQ(stats().flush.ios, 1u);
}

TEST_F(FlushTest, CacheWithoutFuaFlushesAroundTheWrite) {
  make_cache({true, false});
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, 4096);
  EXPECT_EQ(ops(), (Ops{"F", "W", "F"}));
  EXPECT_EQ(io->done, 1);
  EXPECT_EQ(stats().flush.ios, 2u);
  EXPECT_EQ(stats().write.ios, 1u) << "the data step is accounted once";
}

TEST_F(FlushTest, FuaWriteWithoutFuaSupportGetsAPostflush) {
  make_cache({true, false});
  submit(REQ_OP_WRITE | REQ_FUA, 0, 4096);
  EXPECT_EQ(ops(), (Ops{"W", "F"}));
}

TEST_F(FlushTest, EmptyPreflushIsOneFlush) {
  make_cache({true, false}, "none");
  Io* io = submit(REQ_OP_FLUSH, 0, 0);
  EXPECT_EQ(ops(), (Ops{"F"}));
  EXPECT_EQ(io->err, 0);
}

TEST_F(FlushTest, CompletionWaitsForEveryStep) {
  make_cache({true, false});
  drv.mode = RecordingDriver::Mode::kHold;
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, 0, 4096);
  for (const char* step : {"F", "W", "F"}) {
    ASSERT_EQ(drv.held.size(), 1u) << "one step at a time, expecting " << step;
    EXPECT_EQ(io->done, 0);
    drv.complete_held();
  }
  EXPECT_EQ(io->done, 1);
  EXPECT_EQ(ops(), (Ops{"F", "W", "F"}));
}

TEST_F(FlushTest, WaitersShareOneFlush) {
  make_cache({true, true}, "none");
  drv.mode = RecordingDriver::Mode::kHold;
  submit(REQ_OP_WRITE | REQ_PREFLUSH, 0, 4096);    // starts a flush
  submit(REQ_OP_WRITE | REQ_PREFLUSH, 100, 4096);  // waits for the next one
  submit(REQ_OP_WRITE | REQ_PREFLUSH, 200, 4096);  // shares it
  ASSERT_EQ(drv.held.size(), 1u);
  drv.mode = RecordingDriver::Mode::kInline;
  drv.complete_held();
  clock.run_until_idle();
  EXPECT_EQ(ops(), (Ops{"F", "W", "F", "W", "W"}));
  for (auto& io : ios) EXPECT_EQ(io->err, 0);
}

TEST_F(FlushTest, FlushErrorFailsTheWaiter) {
  make_cache({true, true});
  drv.fail_status = BlkStatus::IOERR;
  Io* io = submit(REQ_OP_WRITE | REQ_PREFLUSH, 0, 4096);
  EXPECT_EQ(ops(), (Ops{"F"})) << "the data step never runs after a failed flush";
  EXPECT_EQ(io->err, -EIO);
}

}  // namespace
}  // namespace iostack::block::test
