// mq-deadline behind the real submission path: bios through submit_bio to a
// driver that holds what it is given, on a virtual clock.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/driver.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "core/virtual_clock.hpp"
#include "sched/mq_deadline.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched::test {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using block::sector_t;

constexpr std::uint16_t kRt = task::prio_value(task::kClassRt, 0);
constexpr std::uint16_t kBe = task::prio_value(task::kClassBe, 0);
constexpr std::uint16_t kIdle = task::prio_value(task::kClassIdle, 0);

// Records each request it is given and keeps it until told to complete.
class HoldingDriver final : public block::BlockDriver {
 public:
  const char* name() const override { return "holding"; }
  block::BlkStatus queue_rq(block::HwCtx*, block::Request* rq, bool) override {
    issued.push_back(block::blk_rq_pos(rq));
    sizes.push_back(block::blk_rq_sectors(rq));
    if (pass_through)
      block::blk_mq_end_request(rq, block::BlkStatus::OK);
    else
      held.push_back(rq);
    return block::BlkStatus::OK;
  }
  void complete_oldest() {
    ASSERT_FALSE(held.empty());
    block::Request* rq = held.front();
    held.erase(held.begin());
    block::blk_mq_end_request(rq, block::BlkStatus::OK);
  }
  void complete_all() {
    pass_through = true;
    while (!held.empty()) complete_oldest();
  }
  bool pass_through = false;
  std::vector<sector_t> issued;
  std::vector<std::uint32_t> sizes;
  std::vector<block::Request*> held;
};

struct Io {
  block::Bio bio;
  int err = 1;  // 1 until completed
};

class DdE2eTest : public ::testing::Test {
 protected:
  void make(unsigned depth) {
    q_ = std::make_unique<block::RequestQueue>(&drv_, block::TagSetConfig{1, depth},
                                               block::QueueLimits{}, &clock_);
    disk_ = std::make_unique<block::Disk>("dd0", 7, 0, sector_t{1} << 21, q_.get());
    ASSERT_EQ(q_->set_elevator("mq-deadline"), 0);
    ASSERT_EQ(q_->attr_store("nr_requests", "64"), 0);
    dd_ = dynamic_cast<MqDeadline*>(q_->elevator());
    ASSERT_NE(dd_, nullptr);
  }

  void TearDown() override {
    if (!q_) return;
    drv_.complete_all();
    clock_.run_until_idle();
  }

  Io* submit(std::uint32_t opf, sector_t sector, std::uint16_t prio = kBe) {
    Io* io = ios_.emplace_back(std::make_unique<Io>()).get();
    block::bio_init(&io->bio, disk_.get(), io->bio.bi_inline_vecs, block::kBioInlineVecs, opf);
    io->bio.bi_iter.bi_sector = sector;
    io->bio.bi_ioprio = prio;
    block::bio_add_vec(&io->bio, buf_.data(), 4096);
    io->bio.bi_private = io;
    io->bio.bi_end_io = [](block::Bio* b) {
      static_cast<Io*>(b->bi_private)->err = block::blk_status_to_errno(b->bi_status);
    };
    block::submit_bio(&io->bio);
    return io;
  }

  core::VirtualClock clock_{0};
  HoldingDriver drv_;
  std::unique_ptr<block::RequestQueue> q_;
  std::unique_ptr<block::Disk> disk_;
  MqDeadline* dd_ = nullptr;
  std::vector<std::unique_ptr<Io>> ios_;
  std::vector<char> buf_ = std::vector<char>(4096);
};

TEST_F(DdE2eTest, QueuedReadsReachTheDriverInSectorOrder) {
  make(1);
  submit(REQ_OP_WRITE, 1 << 20);  // holds the only driver tag
  submit(REQ_OP_WRITE, 1 << 19);  // leaves the scheduler and waits for a tag
  for (sector_t s : {800, 100, 500, 300}) submit(REQ_OP_READ, s);
  drv_.complete_all();
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{1 << 20, 1 << 19, 100, 300, 500, 800}));
  for (DdPrio p : {DD_RT_PRIO, DD_BE_PRIO, DD_IDLE_PRIO}) EXPECT_EQ(dd_->queued(p), 0u);
  const DdStats be = dd_->stats(DD_BE_PRIO);
  EXPECT_EQ(be.inserted, 6u);
  EXPECT_EQ(be.dispatched, 6u);
  EXPECT_EQ(be.completed, 6u);
}

TEST_F(DdE2eTest, FrontMergeGrowsTheQueuedRequest) {
  make(1);
  submit(REQ_OP_WRITE, 1 << 20);
  submit(REQ_OP_WRITE, 1 << 19);
  submit(REQ_OP_READ, 0);     // last_merge
  submit(REQ_OP_READ, 1008);  // queued
  submit(REQ_OP_READ, 1000);  // ends where 1008 starts: front merge
  drv_.complete_all();
  ASSERT_EQ(drv_.issued.size(), 4u);
  EXPECT_EQ(drv_.issued[3], 1000u);
  EXPECT_EQ(drv_.sizes[3], 16u);
}

TEST_F(DdE2eTest, RequestMergeIsCountedForTheGoner) {
  make(1);
  submit(REQ_OP_WRITE, 1 << 20);
  submit(REQ_OP_WRITE, 1 << 19);
  submit(REQ_OP_READ, 0);
  submit(REQ_OP_READ, 16);
  submit(REQ_OP_READ, 8);  // back merge into [0,8), then [16,24) joins
  EXPECT_EQ(dd_->stats(DD_BE_PRIO).merged, 1u);
  EXPECT_EQ(dd_->queued(DD_BE_PRIO), 3u);  // the goner counts as completed
  drv_.complete_all();
  ASSERT_EQ(drv_.issued.size(), 3u);
  EXPECT_EQ(drv_.issued[2], 0u);
  EXPECT_EQ(drv_.sizes[2], 24u);
}

TEST_F(DdE2eTest, LowerClassesWaitUntilTheHigherOneCompletes) {
  make(4);
  block::BlkPlug plug;
  block::blk_start_plug(&plug);
  submit(REQ_OP_READ, 100, kIdle);
  submit(REQ_OP_READ, 300, kBe);
  submit(REQ_OP_READ, 500, kRt);
  block::blk_finish_plug(&plug);
  // The device has free tags, but only RT goes while it is outstanding.
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{500}));
  clock_.advance_by(10 * core::kNsPerMs);
  EXPECT_EQ(drv_.issued.size(), 1u);
  drv_.complete_oldest();
  // The kernel reruns a queue whose scheduler held work back after
  // BLK_MQ_BUDGET_DELAY (3 ms).
  clock_.advance_by(3 * core::kNsPerMs);
  ASSERT_EQ(drv_.issued, (std::vector<sector_t>{500, 300}));
  drv_.complete_oldest();
  clock_.advance_by(3 * core::kNsPerMs);
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{500, 300, 100}));
}

// A sequential best-effort reader with one read outstanding and an idle
// reader waiting behind it: the idle request goes on the rerun the block
// layer scheduled BLK_MQ_BUDGET_DELAY after the first fruitless dispatch,
// if the best-effort reader has nothing outstanding then. Fruitless
// dispatches after each new best-effort read leave that rerun where it is
// (blk_mq_delay_run_hw_queues skips a pending one), so the rerun does not
// follow the best-effort reader's submissions around.
TEST_F(DdE2eTest, HeldBackWorkRerunIsNotPostponedByLaterDispatches) {
  make(4);
  submit(REQ_OP_READ, 1000, kBe);
  submit(REQ_OP_READ, 100, kIdle);  // held back: rerun armed for t = 3 ms
  ASSERT_EQ(drv_.issued, (std::vector<sector_t>{1000}));
  clock_.advance_by(2 * core::kNsPerMs);
  drv_.complete_oldest();
  submit(REQ_OP_READ, 1008, kBe);  // another fruitless dispatch at t = 2 ms
  ASSERT_EQ(drv_.issued, (std::vector<sector_t>{1000, 1008}));
  clock_.advance_by(core::kNsPerMs / 2);
  drv_.complete_oldest();  // t = 2.5 ms: the reader has nothing outstanding
  clock_.advance_by(core::kNsPerMs / 2);
  // The rerun at 3 ms found no best-effort request; had the dispatch at
  // 2 ms pushed it to 5 ms, the reader's next read would have come first.
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{1000, 1008, 100}));
}

TEST_F(DdE2eTest, HeldBackWorkIsRerunOnTheSecondTickAfterTheFruitlessDispatch) {
  // HZ=250: BLK_MQ_BUDGET_DELAY (3 ms) is one jiffy, and the timer wheel
  // fires it one jiffy later still, as the kernel's loop device shows
  // (reruns 8 ms apart, each just after a tick).
  clock_.set_jiffy(4 * core::kNsPerMs);
  clock_.advance_to(core::kNsPerMs);
  make(4);
  submit(REQ_OP_READ, 1000, kBe);
  submit(REQ_OP_READ, 100, kIdle);  // held back at t = 1 ms, in jiffy 0
  clock_.advance_to(3 * core::kNsPerMs);
  drv_.complete_oldest();
  // Not on the next tick (4 ms) ...
  clock_.advance_to(8 * core::kNsPerMs - 1);
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{1000}));
  // ... but on the one after it.
  clock_.advance_to(8 * core::kNsPerMs);
  EXPECT_EQ(drv_.issued, (std::vector<sector_t>{1000, 100}));
}

TEST_F(DdE2eTest, AsyncDepthLimitsWriteTagsNotReads) {
  make(1);
  // 64 scheduler tags in words of 16: async_depth 8 -> 2 bits per word.
  ASSERT_EQ(q_->attr_store("iosched/async_depth", "8"), 0);
  int write_ok = 0, write_again = 0;
  for (int i = 0; i < 12; ++i) {
    Io* io = submit(std::uint32_t{REQ_OP_WRITE} | block::REQ_NOWAIT, 1000 + 100 * i);
    (io->err == -EAGAIN ? write_again : write_ok)++;
  }
  EXPECT_EQ(write_ok, 8);
  EXPECT_EQ(write_again, 4);
  int read_again = 0;
  for (int i = 0; i < 12; ++i)
    if (submit(std::uint32_t{REQ_OP_READ} | block::REQ_NOWAIT, 5000 + 100 * i)->err == -EAGAIN)
      ++read_again;
  EXPECT_EQ(read_again, 0);
}

}  // namespace
}  // namespace iostack::sched::test
