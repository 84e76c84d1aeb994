// mq-deadline's dispatch batches under one hold of its lock (dispatch_batch,
// insert_and_dispatch) give the requests, in the order, that insert_requests
// and dispatch_request calls one by one give.
#include <string>

#include "block/hctx.hpp"
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

using Sectors = std::vector<block::sector_t>;

// Rounds of a few inserts (mixed directions and classes, an at-head one now
// and then, the clock moving so that deadlines and aging expire) each followed
// by a dispatch of everything the scheduler gives before it returns nothing;
// then what was dispatched completes, now or (every third round) a round
// later. `batched` takes each round's last insert
// and its dispatch in one insert_and_dispatch call, else insert_requests and
// dispatch_request one by one. Returns the dispatched sectors, rounds
// separated by a marker.
class DdBatchTest : public DdTest {
 protected:
  static constexpr block::sector_t kRoundEnd = ~block::sector_t{0};

  Sectors run(bool batched) {
    Sectors out;
    block::HwCtx* hctx = q_->hctx(0);
    int n = 0;
    std::vector<block::Request*> with_driver;  // complete a round later
    for (int round = 0; round < 40; ++round) {
      for (block::Request* rq : with_driver) dd_->finish_request(rq);
      with_driver.clear();
      std::vector<block::Request*> fresh;
      for (int i = 0; i < 1 + round % 4; ++i, ++n) {
        const std::uint32_t op = n % 3 == 0 ? block::REQ_OP_WRITE : block::REQ_OP_READ;
        const std::uint16_t prio = n % 5 == 0 ? kRt : n % 7 == 0 ? kIdle : kBe;
        fresh.push_back(make(static_cast<block::sector_t>((n * 37) % 64) * 16, 8, op, prio));
      }
      const unsigned flags = round % 9 == 8 ? block::INSERT_AT_HEAD : block::INSERT_NONE;
      for (std::size_t i = 0; i + 1 < fresh.size(); ++i) insert(fresh[i]);
      std::vector<block::Request*> got;
      if (batched) {
        core::ListHead list, batch;
        fresh.back()->queuelist.add_tail(&list);
        bool held_back = false;
        dd_->insert_and_dispatch(hctx, &list, flags, &batch, 64, &held_back);
        while (!batch.empty()) {
          block::Request* rq = block::rq_from_queuelist(batch.first());
          rq->queuelist.del();
          got.push_back(rq);
        }
      } else {
        insert(fresh.back(), flags);
        while (block::Request* rq = dispatch()) got.push_back(rq);
      }
      for (block::Request* rq : got) {
        out.push_back(block::blk_rq_pos(rq));
        // The batch took driver tags as the block layer's loop does.
        if (rq->tag >= 0) {
          hctx->tags->put(rq->tag);
          rq->tag = -1;
        }
        if (round % 3 == 1)
          with_driver.push_back(rq);  // a higher class holds the lower ones back meanwhile
        else
          dd_->finish_request(rq);
      }
      out.push_back(kRoundEnd);
      advance_ms(round % 5 == 0 ? 600 : 40);
    }
    return out;
  }
};

TEST_F(DdBatchTest, InsertAndDispatchGivesWhatOneByOneCallsGive) {
  const Sectors one_by_one = run(false);
  // A second queue and scheduler, as fresh as the first.
  TearDown();
  dd_ = nullptr;
  q_.reset();
  rqs_.clear();
  SetUp();
  const Sectors batched = run(true);
  EXPECT_EQ(batched, one_by_one);
  EXPECT_GT(one_by_one.size(), 40u + 80u) << "most of the 100 requests were dispatched";
}

TEST_F(DdBatchTest, ABatchStopsAtMaxAndTheNextGoesOn) {
  for (block::sector_t s : {800, 100, 500, 300, 200}) add(s);
  core::ListHead batch;
  bool held_back = false;
  EXPECT_EQ(dd_->dispatch_batch(q_->hctx(0), &batch, 3, &held_back), 3u);
  EXPECT_FALSE(held_back);
  Sectors got;
  while (!batch.empty()) {
    block::Request* rq = block::rq_from_queuelist(batch.first());
    rq->queuelist.del();
    got.push_back(block::blk_rq_pos(rq));
    q_->hctx(0)->tags->put(rq->tag);
    rq->tag = -1;
  }
  EXPECT_EQ(got, (Sectors{100, 200, 300}));
  EXPECT_EQ(drain(), (Sectors{500, 800}));
}

TEST_F(DdBatchTest, WorkHeldBackBehindAHigherClassIsReported) {
  block::Request* rt = add(100, block::REQ_OP_READ, kRt);
  block::Request* got = dispatch();
  ASSERT_EQ(got, rt);
  add(200, block::REQ_OP_READ, kBe);  // waits while the RT one is with the driver
  core::ListHead batch;
  bool held_back = false;
  EXPECT_EQ(dd_->dispatch_batch(q_->hctx(0), &batch, 8, &held_back), 0u);
  EXPECT_TRUE(held_back);
  EXPECT_TRUE(batch.empty());
  dd_->finish_request(rt);
}

}  // namespace
}  // namespace iostack::sched::test
