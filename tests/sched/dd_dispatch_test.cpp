// mq-deadline dispatch order within one priority class: sector order,
// batching, FIFO expiry, write starvation and the at-head dispatch list.
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using Sectors = std::vector<block::sector_t>;

TEST_F(DdTest, ReadsGoInSectorOrderFromTheLastPosition) {
  for (block::sector_t s : {800, 100, 500, 300}) add(s);
  EXPECT_EQ(drain(), (Sectors{100, 300, 500, 800}));
}

TEST_F(DdTest, NothingAfterLastPositionRestartsFromFifoHead) {
  add(500);
  EXPECT_EQ(drain(), (Sectors{500}));
  // Both lie below 500: the oldest goes first, then sector order resumes.
  add(300);
  add(100);
  add(200);
  EXPECT_EQ(drain(), (Sectors{300, 100, 200}));
}

TEST_F(DdTest, ExpiredReadIsTakenFromFifoHeadNotSectorOrder) {
  add(900);
  advance_ms(1);
  add(100);
  advance_ms(600);  // both past read_expire (500 ms); 900 is the older
  EXPECT_EQ(drain(), (Sectors{900, 100}));
}

TEST_F(DdTest, UnexpiredReadsStayInSectorOrder) {
  add(900);
  advance_ms(1);
  add(100);
  advance_ms(400);
  EXPECT_EQ(drain(), (Sectors{100, 900}));
}

TEST_F(DdTest, ExpiredWriteIsTakenFromFifoHead) {
  set("write_expire", "100");
  set("fifo_batch", "1");  // each dispatch below starts a new batch
  auto at_zero = [&] {     // leaves the last write position at sector 0
    add(0, REQ_OP_WRITE);
    dd_->finish_request(dispatch());
  };
  at_zero();
  add(900, REQ_OP_WRITE);
  advance_ms(1);
  add(100, REQ_OP_WRITE);
  advance_ms(50);
  EXPECT_EQ(drain(), (Sectors{100, 900}));
  at_zero();
  add(900, REQ_OP_WRITE);
  advance_ms(1);
  add(100, REQ_OP_WRITE);
  advance_ms(150);
  EXPECT_EQ(drain(), (Sectors{900, 100}));
}

TEST_F(DdTest, BatchIgnoresExpiryUntilFifoBatchRequests) {
  set("read_expire", "10");
  set("fifo_batch", "3");
  add(100);
  block::Request* first = dispatch();  // starts a batch at sector 100
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(block::blk_rq_pos(first), 100u);
  dd_->finish_request(first);
  add(10);  // will expire first
  advance_ms(1);
  for (block::sector_t s : {200, 300, 400, 500}) add(s);
  advance_ms(20);  // everything has expired
  // The batch runs on to 3 requests in sector order, then the expired FIFO
  // head starts the next batch, which continues in sector order.
  EXPECT_EQ(drain(), (Sectors{200, 300, 10, 400, 500}));
}

TEST_F(DdTest, DefaultBatchServesAllInSectorOrderDespiteExpiry) {
  set("read_expire", "10");
  add(100);
  dd_->finish_request(dispatch());
  add(10);
  advance_ms(1);
  for (block::sector_t s : {200, 300, 400, 500}) add(s);
  advance_ms(20);
  EXPECT_EQ(drain(), (Sectors{200, 300, 400, 500, 10}));
}

TEST_F(DdTest, WritesGetOneBatchAfterWritesStarvedReadBatches) {
  set("fifo_batch", "1");  // every dispatch chooses a direction
  start_read_batch();
  for (block::sector_t s : {100, 200}) add(s, REQ_OP_WRITE);
  for (block::sector_t s : {1000, 1100, 1200, 1300, 1400}) add(s);
  // writes_starved = 2: two read batches, then a write batch.
  EXPECT_EQ(drain(), (Sectors{1000, 1100, 100, 1200, 1300, 200, 1400}));
}

TEST_F(DdTest, WritesStarvedZeroPrefersWaitingWrites) {
  set("fifo_batch", "1");
  set("writes_starved", "0");
  start_read_batch();
  add(100, REQ_OP_WRITE);
  add(1000);
  add(200, REQ_OP_WRITE);
  add(1100);
  EXPECT_EQ(drain(), (Sectors{100, 200, 1000, 1100}));
}

TEST_F(DdTest, NegativeWritesStarvedNeverPicksWritesOverReads) {
  // The kernel compares an unsigned counter with the int tunable.
  set("fifo_batch", "1");
  set("writes_starved", "-1");
  start_read_batch();
  add(100, REQ_OP_WRITE);
  for (block::sector_t s : {1000, 1100, 1200, 1300}) add(s);
  EXPECT_EQ(drain(), (Sectors{1000, 1100, 1200, 1300, 100}));
}

TEST_F(DdTest, ExpiredWriteStillWaitsForStarvation) {
  set("write_expire", "1");
  set("fifo_batch", "1");
  start_read_batch();
  add(100, REQ_OP_WRITE);
  advance_ms(10);
  add(1000);
  add(1100);
  add(1200);
  EXPECT_EQ(drain(), (Sectors{1000, 1100, 100, 1200}));
}

TEST_F(DdTest, BatchStaysInOneDirection) {
  // After a write, the batch continues with writes in sector order even
  // though reads are waiting and normally preferred.
  add(100, REQ_OP_WRITE);
  EXPECT_EQ(drain(), (Sectors{100}));
  add(200, REQ_OP_WRITE);
  add(300, REQ_OP_WRITE);
  add(50);
  add(60);
  // last_dir is WRITE and 200 lies after position 100: the batch goes on.
  EXPECT_EQ(drain(), (Sectors{200, 300, 50, 60}));
}

TEST_F(DdTest, AtHeadInsertGoesFirst) {
  add(100);
  add(200);
  block::Request* head = make(900);
  insert(head, block::INSERT_AT_HEAD);
  EXPECT_EQ(head->fifo_time, clock_.now());
  EXPECT_EQ(drain(), (Sectors{900, 100, 200}));
}

TEST_F(DdTest, HasWorkFollowsQueuedRequests) {
  EXPECT_FALSE(dd_->has_work(q_->hctx(0)));
  add(100);
  EXPECT_TRUE(dd_->has_work(q_->hctx(0)));
  insert(make(900), block::INSERT_AT_HEAD);
  dd_->finish_request(dispatch());
  EXPECT_TRUE(dd_->has_work(q_->hctx(0)));
  block::Request* rq = dispatch();
  ASSERT_NE(rq, nullptr);
  EXPECT_TRUE(rq->rq_flags & block::RQF_STARTED);
  EXPECT_FALSE(dd_->has_work(q_->hctx(0)));
  EXPECT_EQ(dispatch(), nullptr);
}

TEST_F(DdTest, FifoTimeIsInsertionPlusExpire) {
  advance_ms(7);
  block::Request* r = add(100);
  block::Request* w = add(200, REQ_OP_WRITE);
  EXPECT_EQ(r->fifo_time, 507 * core::kNsPerMs);
  EXPECT_EQ(w->fifo_time, 5007 * core::kNsPerMs);
}

}  // namespace
}  // namespace iostack::sched::test
