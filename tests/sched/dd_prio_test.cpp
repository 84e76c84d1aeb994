// mq-deadline priority classes: strict RT > BE > IDLE order, NONE served as
// BE, prio_aging_expire, and the per-class statistics.
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

TEST(DdPrioOf, MapsIoprioClasses) {
  EXPECT_EQ(dd_prio_of(0), DD_BE_PRIO);  // IOPRIO_CLASS_NONE
  EXPECT_EQ(dd_prio_of(kRt | 7), DD_RT_PRIO);
  EXPECT_EQ(dd_prio_of(kBe | 4), DD_BE_PRIO);
  EXPECT_EQ(dd_prio_of(kIdle), DD_IDLE_PRIO);
}

TEST_F(DdTest, HigherClassWithQueuedWorkHoldsBackLowerClasses) {
  add(100, block::REQ_OP_READ, kIdle);
  add(200, block::REQ_OP_READ, kBe);
  add(300, block::REQ_OP_READ, 0);  // class NONE: queued as BE
  block::Request* rt = add(400, block::REQ_OP_READ, kRt);

  EXPECT_EQ(dispatch(), rt);
  // RT still counts as queued until it completes, so nothing else goes.
  EXPECT_EQ(dispatch(), nullptr);
  EXPECT_EQ(dd_->queued(DD_RT_PRIO), 1u);
  dd_->finish_request(rt);

  block::Request* be1 = dispatch();
  block::Request* be2 = dispatch();
  ASSERT_NE(be1, nullptr);
  ASSERT_NE(be2, nullptr);
  EXPECT_EQ(block::blk_rq_pos(be1), 200u);
  EXPECT_EQ(block::blk_rq_pos(be2), 300u);
  EXPECT_EQ(dispatch(), nullptr);  // IDLE waits for both BE requests
  dd_->finish_request(be1);
  EXPECT_EQ(dispatch(), nullptr);
  dd_->finish_request(be2);
  block::Request* idle = dispatch();
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(block::blk_rq_pos(idle), 100u);
  dd_->finish_request(idle);

  const DdStats rts = dd_->stats(DD_RT_PRIO), bes = dd_->stats(DD_BE_PRIO),
                idles = dd_->stats(DD_IDLE_PRIO);
  EXPECT_EQ(rts.inserted, 1u);
  EXPECT_EQ(rts.dispatched, 1u);
  EXPECT_EQ(rts.completed, 1u);
  EXPECT_EQ(bes.inserted, 2u);
  EXPECT_EQ(bes.dispatched, 2u);
  EXPECT_EQ(bes.completed, 2u);
  EXPECT_EQ(idles.inserted, 1u);
  EXPECT_EQ(idles.completed, 1u);
  EXPECT_EQ(dd_->queued(DD_BE_PRIO), 0u);
}

// The dispatch rule behind an idle reader's share next to a sequential
// best-effort reader with one read outstanding at a time: an idle request
// goes only in a dispatch that finds no best-effort request inserted and
// not yet completed, whether queued here or in the driver; a best-effort
// request inserted meanwhile always goes first.
TEST_F(DdTest, IdleGoesOnlyWhileNoBestEffortRequestIsOutstanding) {
  block::Request* idle = add(100, block::REQ_OP_READ, kIdle);
  block::sector_t pos = 1000;
  for (int read = 0; read < 3; ++read, pos += 8) {
    block::Request* be = add(pos, block::REQ_OP_READ, kBe);
    EXPECT_EQ(dispatch(), be);
    EXPECT_EQ(dispatch(), nullptr) << "the best-effort read is in the driver";
    dd_->finish_request(be);
    if (read < 2) continue;  // the reader's next read arrives before a dispatch
    EXPECT_EQ(dispatch(), idle) << "a dispatch between two best-effort reads";
  }
  // From now on the idle request is outstanding; best effort is not held back.
  block::Request* be = add(pos, block::REQ_OP_READ, kBe);
  EXPECT_EQ(dispatch(), be);
  EXPECT_EQ(dd_->queued(DD_IDLE_PRIO), 1u);
  EXPECT_EQ(dd_->stats(DD_IDLE_PRIO).dispatched, 1u);
}

TEST_F(DdTest, RtAtHeadStillBeatsBe) {
  add(100, block::REQ_OP_READ, kBe);
  block::Request* rt = make(900, 8, block::REQ_OP_READ, kRt);
  insert(rt, block::INSERT_AT_HEAD);
  EXPECT_EQ(dispatch(), rt);
}

TEST_F(DdTest, AgedLowerClassRequestOvertakes) {
  set("prio_aging_expire", "100");
  block::Request* idle = add(100, block::REQ_OP_READ, kIdle);
  block::Request* rt1 = add(500, block::REQ_OP_READ, kRt);
  EXPECT_EQ(dispatch(), rt1);  // held by the driver from here on

  advance_ms(50);
  block::Request* rt2 = add(600, block::REQ_OP_READ, kRt);
  EXPECT_EQ(dispatch(), rt2);  // IDLE is 50 ms old: not aged yet

  advance_ms(49);
  block::Request* rt3 = add(700, block::REQ_OP_READ, kRt);
  EXPECT_EQ(dispatch(), rt3);  // 99 ms

  advance_ms(1);
  block::Request* rt4 = add(800, block::REQ_OP_READ, kRt);
  EXPECT_EQ(dispatch(), idle);  // 100 ms: aged, goes before RT
  EXPECT_EQ(dispatch(), rt4);
  EXPECT_EQ(dd_->stats(DD_IDLE_PRIO).dispatched, 1u);
}

TEST_F(DdTest, AgingAppliesToBeBehindRt) {
  set("prio_aging_expire", "10");
  block::Request* be = add(100, block::REQ_OP_READ, kBe);
  block::Request* rt1 = add(500, block::REQ_OP_READ, kRt);
  EXPECT_EQ(dispatch(), rt1);
  EXPECT_EQ(dispatch(), nullptr);
  advance_ms(10);
  EXPECT_EQ(dispatch(), be);
}

TEST_F(DdTest, AgingNeedsTwoBusyClasses) {
  // An IDLE request alone is served at once, aged or not.
  set("prio_aging_expire", "0");
  block::Request* idle = add(100, block::REQ_OP_READ, kIdle);
  EXPECT_EQ(dispatch(), idle);
}

TEST_F(DdTest, RequeueIsNotCountedAsASecondInsert) {
  block::Request* rq = add(100);
  ASSERT_EQ(dispatch(), rq);
  rq->rq_flags &= ~block::RQF_STARTED;  // as the block layer's requeue does
  insert(rq, block::INSERT_AT_HEAD);
  ASSERT_EQ(dispatch(), rq);
  DdStats s = dd_->stats(DD_BE_PRIO);
  EXPECT_EQ(s.inserted, 1u);
  EXPECT_EQ(s.dispatched, 2u);
  EXPECT_EQ(dd_->owned_by_driver(DD_BE_PRIO), 2u);
  dd_->finish_request(rq);
  EXPECT_EQ(dd_->queued(DD_BE_PRIO), 0u);
}

TEST_F(DdTest, FinishWithoutInsertIsNotCounted) {
  block::Request* rq = make(100);  // bypassed the scheduler
  dd_->finish_request(rq);
  EXPECT_EQ(dd_->stats(DD_BE_PRIO).completed, 0u);
}

}  // namespace
}  // namespace iostack::sched::test
