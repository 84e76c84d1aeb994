// bfq dispatch order on hand-built cases: weight shares, class priority,
// the idle class and its starvation guard, idling for a sync queue, budget
// timeouts and FIFO expiry.
#include <algorithm>
#include <functional>
#include <map>

#include "bfq_fixture.hpp"

namespace iostack::sched::test {
namespace {

using block::blk_rq_pos;
using block::Request;
using Sectors = std::vector<block::sector_t>;

constexpr std::uint16_t kBe0 = task::prio_value(task::kClassBe, 0);
constexpr std::uint16_t kBe4 = task::prio_value(task::kClassBe, 4);
constexpr std::uint16_t kBe7 = task::prio_value(task::kClassBe, 7);
constexpr std::uint16_t kRt = task::prio_value(task::kClassRt, 4);
constexpr std::uint16_t kIdle = task::prio_value(task::kClassIdle, 0);

class BfqDispatch : public BfqTest {};

TEST_F(BfqDispatch, BestEffortLevelsShareByWeight) {
  // Levels 0 and 7 weigh 80 and 10: 8/9 and 1/9 of the sectors.
  set("low_latency", "0");
  Proc* hi = proc(100, kBe0, 0);
  Proc* lo = proc(200, kBe7, 1u << 30);
  auto served = backlogged({hi, lo}, 2'000'000);
  const double share = static_cast<double>(served[100]) / (served[100] + served[200]);
  EXPECT_NEAR(share, 8.0 / 9.0, 0.02) << served[100] << " vs " << served[200];
}

TEST_F(BfqDispatch, EqualWeightsShareEqually) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  auto served = backlogged({a, b}, 2'000'000);
  const double share = static_cast<double>(served[100]) / (served[100] + served[200]);
  EXPECT_NEAR(share, 0.5, 0.02) << served[100] << " vs " << served[200];
}

TEST_F(BfqDispatch, RealTimeGoesBeforeBestEffort) {
  set("low_latency", "0");
  Proc* be = proc(100, kBe0, 0);
  Proc* rt = proc(200, kRt, 1u << 30);
  auto served = backlogged({be, rt}, 500'000);
  EXPECT_EQ(served[100], 0u);
  EXPECT_GE(served[200], 500'000u);
}

TEST_F(BfqDispatch, IdleClassWaitsWhileOthersAreBusy) {
  set("low_latency", "0");
  Proc* be = proc(100, kBe4, 0);
  Proc* idle = proc(200, kIdle, 1u << 30);
  auto served = backlogged({be, idle}, 500'000);
  EXPECT_EQ(served[200], 0u);
}

TEST_F(BfqDispatch, IdleClassGetsATurnAfterItsTimeout) {
  // BFQ_CL_IDLE_TIMEOUT: after 200 ms without service the idle class is
  // picked once, and gives the device back after one request.
  set("low_latency", "0");
  Proc* be = proc(100, kBe4, 0);
  Proc* idle = proc(200, kIdle, 1u << 30);
  std::vector<int> order;
  auto served = backlogged({be, idle}, 200'000, 256, [&](Request* rq) {
    order.push_back(rq->pid);
    if (order.size() == 10) advance_ms(250);
  });
  EXPECT_EQ(served[200], 256u);
  EXPECT_EQ(std::count(order.begin(), order.begin() + 10, 200), 0);
}

TEST_F(BfqDispatch, IdlingKeepsTheSyncQueuesTurn) {
  // One sync reader with one request at a time: while it thinks, bfq idles
  // the device for it instead of serving the other queue, until slice_idle
  // (8 ms) passes without a new request.
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  Request* ra = read_next(a);
  for (int i = 0; i < 4; ++i) read_next(b);
  Request* first = dispatch();
  ASSERT_EQ(first, ra);
  EXPECT_EQ(dispatch(), nullptr);  // a has requests in flight and may send more
  advance_ms(5);                   // the device serves it
  complete(first);
  EXPECT_TRUE(bfq_->idling());
  EXPECT_EQ(dispatch(), nullptr);
  // The next read arrives within slice_idle, after a short think time (a
  // process idle more than a fifth of the time is not I/O-bound and would
  // not be idled for on its own merit).
  advance_ms(1);
  Request* again = read_next(a, 64);  // not a small request: idling stops
  EXPECT_FALSE(bfq_->idling());
  EXPECT_EQ(dispatch(), again);
  advance_ms(5);
  complete(again);
  EXPECT_TRUE(bfq_->idling());
  const int kicks = kicks_;
  advance_ms(9);  // slice_idle passes: a expires (too idle), b's turn
  EXPECT_FALSE(bfq_->idling());
  EXPECT_GT(kicks_, kicks);
  Request* rb = dispatch();
  ASSERT_NE(rb, nullptr);
  EXPECT_EQ(rb->pid, 200);
  complete(rb);
}

TEST_F(BfqDispatch, NoIdlingWithSliceIdleZero) {
  set("low_latency", "0");
  set("slice_idle", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  Request* ra = read_next(a);
  read_next(b);
  ASSERT_EQ(dispatch(), ra);
  Request* rb = dispatch();  // a is empty: no reason to wait for it
  ASSERT_NE(rb, nullptr);
  EXPECT_EQ(rb->pid, 200);
  complete(ra);
  complete(rb);
}

TEST_F(BfqDispatch, BudgetTimeoutEndsTheTurn) {
  // A queue still in service after timeout_sync (124 ms at HZ=250) is
  // expired at its next dispatch even with budget and requests left.
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  for (int i = 0; i < 8; ++i) read_next(a);
  for (int i = 0; i < 8; ++i) read_next(b);
  Request* r = dispatch();
  ASSERT_NE(r, nullptr);
  const int first = r->pid;
  complete(r);
  r = dispatch();
  EXPECT_EQ(r->pid, first);  // same turn
  complete(r);
  advance_ms(130);
  r = dispatch();
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->pid, first);
  complete(r);
}

TEST_F(BfqDispatch, ExpiredFifoHeadGoesFirstOncePerBudget) {
  // The oldest request, past fifo_expire_sync (125 ms), is served right after
  // the first dispatch of the budget, ahead of sector order.
  Proc* a = proc(100, kBe4, 0);
  insert(make(a, 10000));
  advance_ms(130);
  insert(make(a, 5000));
  insert(make(a, 5016));
  Sectors order;
  while (Request* rq = dispatch()) {
    order.push_back(blk_rq_pos(rq));
    complete(rq);
  }
  EXPECT_EQ(order, (Sectors{5000, 10000, 5016}));
}

TEST_F(BfqDispatch, UnexpiredFifoKeepsSectorOrder) {
  Proc* a = proc(100, kBe4, 0);
  set("fifo_expire_sync", "1000");
  insert(make(a, 10000));
  advance_ms(130);
  insert(make(a, 5000));
  insert(make(a, 5016));
  Sectors order;
  while (Request* rq = dispatch()) {
    order.push_back(blk_rq_pos(rq));
    complete(rq);
  }
  EXPECT_EQ(order, (Sectors{5000, 5016, 10000}));
}

TEST_F(BfqDispatch, ShortBackwardSeekIsPreferredOverLongForwardOne) {
  // From position 1008, 1000 lies 8 sectors back (cost 16 with penalty 2),
  // 1100 lies 92 ahead.
  Proc* a = proc(100, kBe4, 0);
  insert(make(a, 1000 - 8));
  Request* r = dispatch();
  ASSERT_EQ(blk_rq_pos(r), 992u);
  insert(make(a, 1100));
  insert(make(a, 980));
  complete(r);
  Sectors order;
  while (Request* rq = dispatch()) {
    order.push_back(blk_rq_pos(rq));
    complete(rq);
  }
  EXPECT_EQ(order, (Sectors{980, 1100}));
}

TEST_F(BfqDispatch, BackwardSeekBeyondBackSeekMaxWaits) {
  Proc* a = proc(100, kBe4, 0);
  set("back_seek_max", "1");  // 2 sectors
  insert(make(a, 992));
  Request* r = dispatch();
  insert(make(a, 1100));
  insert(make(a, 980));
  complete(r);
  Sectors order;
  while (Request* rq = dispatch()) {
    order.push_back(blk_rq_pos(rq));
    complete(rq);
  }
  EXPECT_EQ(order, (Sectors{1100, 980}));
}

TEST_F(BfqDispatch, QueuesFollowTheProcessNotTheRequest) {
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 20);
  read_next(a);
  read_next(b);
  read_next(a);
  auto qs = bfq_->queues();
  ASSERT_EQ(qs.size(), 2u);
  for (const auto& q : qs) {
    EXPECT_TRUE(q.sync);
    EXPECT_EQ(q.ioprio_class, static_cast<unsigned>(task::kClassBe));
    EXPECT_EQ(q.weight, 40u * 30);  // level 4, raised as a new interactive queue
  }
}

TEST_F(BfqDispatch, AsyncRequestsShareOneQueuePerClassAndLevel) {
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 20);
  insert(make(a, 0, 8, block::REQ_OP_WRITE));
  insert(make(b, 1u << 20, 8, block::REQ_OP_WRITE));
  auto qs = bfq_->queues();
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_FALSE(qs[0].sync);
}

TEST_F(BfqDispatch, WeightsFollowIoprio) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe0, 0);
  Proc* b = proc(200, kBe7, 1u << 20);
  Proc* c = proc(300, kIdle, 1u << 21);
  read_next(a);
  read_next(b);
  read_next(c);
  std::map<int, unsigned> w;
  for (const auto& q : bfq_->queues()) w[q.pid] = q.weight;
  EXPECT_EQ(w[100], 80u);
  EXPECT_EQ(w[200], 10u);
  EXPECT_EQ(w[300], 10u);  // idle class: level 7
}

TEST_F(BfqDispatch, NewQueuesAreWeightRaisedWithLowLatency) {
  Proc* a = proc(100, kBe4, 0);
  read_next(a);
  auto qs = bfq_->queues();
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].wr_coeff, 30u);
  set("low_latency", "0");  // ends every raising period
  qs = bfq_->queues();
  EXPECT_EQ(qs[0].wr_coeff, 1u);
}

TEST_F(BfqDispatch, InteractiveRaisingEndsAfterMaxServiceFromWr) {
  // A greedy reader loses its raising once it got more than an application
  // start needs (max_service_from_wr, 120000 sectors).
  Proc* a = proc(100, kBe4, 0);
  unsigned raised = 0, total = 0;
  backlogged({a}, 200'000, 256, [&](Request*) {
    ++total;
    if (bfq_->queues()[0].wr_coeff > 1) ++raised;
  });
  EXPECT_GT(raised, 0u);
  EXPECT_LT(raised, total);
  EXPECT_EQ(bfq_->queues()[0].wr_coeff, 1u);
}

TEST_F(BfqDispatch, StrictGuaranteesServeOneRequestAtATime) {
  set("strict_guarantees", "1");
  Proc* a = proc(100, kBe4, 0);
  read_next(a);
  read_next(a);
  Request* r = dispatch();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(dispatch(), nullptr);
  complete(r);
  Request* r2 = dispatch();
  ASSERT_NE(r2, nullptr);
  complete(r2);
}

}  // namespace
}  // namespace iostack::sched::test

namespace iostack::sched::test {
namespace {

// Stable merging: a process whose queue was created within 180 ms of
// another of the same priority is merged into that queue after 600 ms,
// unless idling for its own queue would pay off.
class BfqMerge : public BfqDispatch {
 protected:
  // Runs both readers for `ms` of virtual time, 5 ms per request.
  void run_for(Proc* a, Proc* b, unsigned ms) {
    unsigned n = 0;
    backlogged({a, b}, ~0ull, 8, [&](Request*) {
      advance_ms(5);
      if (++n * 5 >= ms) stop_ = true;
    });
  }
  std::map<int, std::uint64_t> backlogged(std::vector<Proc*> procs, std::uint64_t,
                                          std::uint32_t rq_sectors,
                                          const std::function<void(Request*)>& each) {
    stop_ = false;
    auto& owner = owner_;  // requests left queued by an earlier run stay owned
    if (owner.empty())
      for (Proc* p : procs)
        for (int i = 0; i < 4; ++i) owner[read_next(p, rq_sectors)] = p;
    while (!stop_) {
      Request* rq = dispatch();
      if (!rq) {
        if (!clock_.run_one()) break;
        continue;
      }
      each(rq);
      Proc* p = owner[rq];
      complete(rq);
      owner[read_next(p, rq_sectors)] = p;
    }
    return {};
  }
  bool shared() {
    for (const auto& q : bfq_->queues())
      if (q.sync && q.pid == -1) return true;
    return false;
  }
  unsigned sync_queues() {
    unsigned n = 0;
    for (const auto& q : bfq_->queues()) n += q.sync;
    return n;
  }
  bool stop_ = false;
  std::map<Request*, Proc*> owner_;
};

TEST_F(BfqMerge, RaisedReadersStartedTogetherShareOneQueueAfter600Ms) {
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  run_for(a, b, 500);
  EXPECT_FALSE(shared());
  run_for(a, b, 1500);
  EXPECT_TRUE(shared());
  // b's own queue went away once its last requests were served.
  EXPECT_EQ(sync_queues(), 1u);
}

TEST_F(BfqMerge, ReadersStartedTogetherInDifferentCgroupsAreNotMerged) {
  // Each group remembers its own newest queue for stable merging.
  task::Blkcg* ga = nullptr;
  task::Blkcg* gb = nullptr;
  ASSERT_EQ(task::blkcg_lookup_create("bfqtest/merge/a", &ga), 0);
  ASSERT_EQ(task::blkcg_lookup_create("bfqtest/merge/b", &gb), 0);
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  a->cg = ga;
  b->cg = gb;
  run_for(a, b, 2000);
  EXPECT_FALSE(shared());
  EXPECT_EQ(sync_queues(), 2u);
}

TEST_F(BfqMerge, NoMergeWhenIdlingServesASequentialReader) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  run_for(a, b, 2000);
  EXPECT_FALSE(shared());
  EXPECT_EQ(sync_queues(), 2u);
}

TEST_F(BfqMerge, NoMergeAcrossPriorities) {
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, task::prio_value(task::kClassBe, 3), 1u << 30);
  run_for(a, b, 2000);
  EXPECT_FALSE(shared());
  EXPECT_EQ(sync_queues(), 2u);
}

}  // namespace
}  // namespace iostack::sched::test

namespace iostack::sched::test {
namespace {

// Large bursts: from the 8th queue created within 180 ms of the previous
// one, the queues of the burst are not weight-raised (a service starting
// many workers, not an application the user waits for).
TEST_F(BfqDispatch, SevenQueuesCreatedTogetherAreRaised) {
  for (int i = 0; i < 7; ++i) read_next(proc(100 + i, kBe4, block::sector_t(i) << 24));
  for (const auto& q : bfq_->queues()) EXPECT_EQ(q.wr_coeff, 30u) << q.pid;
}

TEST_F(BfqDispatch, TheEighthQueueMakesTheBurstLarge) {
  for (int i = 0; i < 8; ++i) {
    read_next(proc(100 + i, kBe4, block::sector_t(i) << 24));
    advance_ms(20);  // within burst_interval of the previous one
  }
  std::map<int, unsigned> wr;
  for (const auto& q : bfq_->queues()) wr[q.pid] = q.wr_coeff;
  EXPECT_EQ(wr[100], 30u);  // raised when it came, before the burst was large
  EXPECT_EQ(wr[107], 1u);
  // Dispatching ends the raising of every queue of the burst.
  for (;;) {
    if (Request* rq = dispatch())
      complete(rq);
    else if (!clock_.run_one())  // idling: let the timer end it
      break;
  }
  for (const auto& q : bfq_->queues()) EXPECT_EQ(q.wr_coeff, 1u) << q.pid;
}

TEST_F(BfqDispatch, QueuesFarApartAreNoBurst) {
  for (int i = 0; i < 8; ++i) {
    read_next(proc(100 + i, kBe4, block::sector_t(i) << 24));
    advance_ms(200);  // beyond burst_interval
  }
  for (const auto& q : bfq_->queues()) EXPECT_EQ(q.wr_coeff, 30u) << q.pid;
}

}  // namespace
}  // namespace iostack::sched::test

namespace iostack::sched::test {
namespace {

// Injection: while a random reader with the larger weight is idled for (its
// share needs it, its throughput does not), the other queue's requests may
// go to the device, up to the reader's inject limit, which its measured
// service times raise from 0 to 1 and beyond. (On a rotational device that
// queues one request at a time idling always pays, and nothing is injected.)
class BfqNonrot : public BfqDispatch {
 protected:
  void SetUp() override {
    rotational_ = false;
    BfqDispatch::SetUp();
  }
};

TEST_F(BfqNonrot, OtherQueuesAreInjectedWhileARandomReaderIsIdledFor) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe0, 0);
  Proc* b = proc(200, kBe4, 1u << 30);
  std::map<Request*, Proc*> owner;
  block::sector_t next_random = 0;
  auto read_a = [&] {
    next_random = (next_random + 7919) % 997 * 100000;  // far apart: seeky
    Request* rq = make(a, next_random);
    insert(rq);
    owner[rq] = a;
  };
  read_a();
  for (int i = 0; i < 4; ++i) owner[read_next(b)] = b;
  unsigned injected = 0, served_b = 0;
  for (int i = 0; i < 400; ++i) {
    const int in_service_before = bfq_->in_service_pid();
    Request* rq = dispatch();
    if (!rq) {
      if (!clock_.run_one()) break;
      continue;
    }
    if (rq->pid == 200) {
      ++served_b;
      if (in_service_before == 100 && bfq_->in_service_pid() == 100) ++injected;
    }
    advance_ms(2);  // service time
    Proc* p = owner[rq];
    complete(rq);
    if (p == a) {
      // a thinks for 1 ms; the block layer runs the queue meanwhile.
      if (Request* other = dispatch()) {
        EXPECT_EQ(other->pid, 200);
        if (bfq_->in_service_pid() == 100) ++injected;
        ++served_b;
        advance_ms(1);
        complete(other);
        owner[read_next(b)] = b;
      } else {
        advance_ms(1);
      }
      read_a();
    } else {
      owner[read_next(b)] = b;
    }
  }
  EXPECT_GT(served_b, 0u);
  EXPECT_GT(injected, 0u);
}

}  // namespace
}  // namespace iostack::sched::test

namespace iostack::sched::test {
namespace {

// Close cooperators: two processes reading interleaved blocks of one file
// (as a parallel cp or a VM's I/O threads do) are merged into one queue as
// soon as one's request lands next to where the other's service is.
TEST_F(BfqDispatch, InterleavedReadersAreMergedIntoOneQueue) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 0);
  insert(make(a, 0));
  Request* first = dispatch();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->pid, 100);
  // b's first request only makes it busy (with one busy queue there is
  // nobody to merge with); its next one, close to where a is served, moves
  // b to a's queue.
  insert(make(b, 8));
  Request* rb = make(b, 24);
  insert(rb);
  bool shared = false;
  for (const auto& q : bfq_->queues()) shared |= q.sync && q.pid == -1 && q.in_service;
  EXPECT_TRUE(shared) << "b's request went to a's (now shared) queue";
  EXPECT_EQ(rb->elv_priv[1], first->elv_priv[1]);
  complete(first);
}

TEST_F(BfqDispatch, ReadersFarApartAreNotMerged) {
  set("low_latency", "0");
  Proc* a = proc(100, kBe4, 0);
  Proc* b = proc(200, kBe4, 1u << 20);
  insert(make(a, 0));
  Request* first = dispatch();
  insert(make(b, 1u << 20));
  for (const auto& q : bfq_->queues()) EXPECT_NE(q.pid, -1);
  complete(first);
}

}  // namespace
}  // namespace iostack::sched::test
