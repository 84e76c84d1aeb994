// mq-deadline's lone steps (a request inserted into an empty scheduler and
// dispatched at once, without the lock) leave the scheduler as the locked
// calls do: same requests, same batch state and counters, and steps of
// several threads folded in the order they were taken.
#include <atomic>
#include <string>
#include <thread>

#include "block/hctx.hpp"
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

using Sectors = std::vector<block::sector_t>;

class DdLoneTest : public DdTest {
 protected:
  // Everything a batch gave, its driver tags back.
  std::vector<block::Request*> take(core::ListHead* batch) {
    std::vector<block::Request*> got;
    while (!batch->empty()) {
      block::Request* rq = block::rq_from_queuelist(batch->first());
      rq->queuelist.del();
      if (rq->tag >= 0) {
        q_->hctx(0)->tags->put(rq->tag);
        rq->tag = -1;
      }
      got.push_back(rq);
    }
    return got;
  }

  std::vector<block::Request*> insert_and_dispatch(block::Request* rq) {
    core::ListHead list, batch;
    rq->queuelist.add_tail(&list);
    bool held_back = false;
    dd_->insert_and_dispatch(q_->hctx(0), &list, block::INSERT_NONE, &batch, 64, &held_back);
    return take(&batch);
  }

  // Steps of one request each: runs up and down the disk, a write now and
  // then, sometimes with a read and a write waiting, an RT or IDLE
  // request now and then (some kept by the driver for a
  // few steps, so that two classes are queued and the lock decides), and
  // fifo_batch changed midway. `lone` takes each step with one
  // insert_and_dispatch, else insert_requests and dispatch_request calls.
  // Records the dispatched sectors and, every few steps, the batch state and
  // counters.
  Sectors run(bool lone) {
    Sectors out;
    std::vector<std::pair<block::Request*, int>> held;  // completes at that step
    for (int n = 0; n < 300; ++n) {
      for (auto it = held.begin(); it != held.end();) {
        if (it->second == n) {
          dd_->finish_request(it->first);
          it = held.erase(it);
        } else {
          ++it;
        }
      }
      if (n == 150) set("fifo_batch", "5");
      const block::sector_t sector =
          static_cast<block::sector_t>((n % 40) < 25 ? n * 64 : (300 - n) * 48);
      const std::uint32_t op = n % 7 == 3 ? block::REQ_OP_WRITE : block::REQ_OP_READ;
      const std::uint16_t prio = n % 23 == 5 ? kRt : n % 31 == 7 ? kIdle : kBe;
      if (n % 37 == 11) {
        // A read and a write waiting with the step's request: a locked step
        // with directions to choose from.
        add(sector + 4000, block::REQ_OP_WRITE);
        add(sector + 5000);
      }
      block::Request* rq = make(sector, 8, op, prio);
      std::vector<block::Request*> got;
      if (lone) {
        got = insert_and_dispatch(rq);
      } else {
        insert(rq);
        core::ListHead batch;
        while (block::Request* d = dispatch()) {
          (void)block::elv_dispatch_add(d, &batch);
        }
        got = take(&batch);
      }
      for (block::Request* d : got) {
        out.push_back(block::blk_rq_pos(d));
        if (prio != kBe && n % 2)
          held.emplace_back(d, n + 4);
        else
          dd_->finish_request(d);
      }
      out.push_back(~block::sector_t{0});
      if (n % 9 == 0) {
        out.push_back(dd_->batching());
        out.push_back(dd_->starved());
        for (DdPrio p : {DD_RT_PRIO, DD_BE_PRIO, DD_IDLE_PRIO}) {
          const DdStats s = dd_->stats(p);
          out.insert(out.end(), {s.inserted, s.dispatched, s.completed, s.merged});
        }
      }
      advance_ms(3);
    }
    for (auto& h : held) dd_->finish_request(h.first);
    return out;
  }

  void fresh_queue() {
    TearDown();
    dd_ = nullptr;
    q_.reset();
    rqs_.clear();
    SetUp();
  }
};

TEST_F(DdLoneTest, LoneStepsGiveWhatLockedCallsGive) {
  const Sectors locked = run(false);
  EXPECT_EQ(dd_->lone_steps(), 0u);
  fresh_queue();
  const Sectors lone = run(true);
  EXPECT_EQ(lone, locked);
  // Most steps were lone: one BE request into an empty scheduler.
  EXPECT_GT(dd_->lone_steps(), 100u);
}

// Two threads take turns, each step a handshake after the other's: the fold
// must put the steps in that order. Rising sectors alternate between the
// threads, so in that order the batches run their full length, and in
// thread order each thread's first step after the other's would start a new
// one. Enough steps that the threads' logs fill and are folded while the
// gate stays open; the batch state is read now and then (a fold with the
// gate closed). All must be what the same steps by locked calls give.
TEST_F(DdLoneTest, TwoThreadsStepsFoldInTheOrderTaken) {
  constexpr int kSteps = 3001;
  auto sector = [](int i) { return static_cast<block::sector_t>(100 + i * 16); };
  auto checkpoint = [](int i) { return i == 2500 || i == 2507; };
  Sectors seen;
  auto state = [&] {
    Sectors st{dd_->batching(), dd_->starved()};
    const DdStats s = dd_->stats(DD_BE_PRIO);
    st.insert(st.end(), {s.inserted, s.dispatched, s.completed});
    // Where the batch goes on from.
    for (block::sector_t x : {block::sector_t{50}, sector(kSteps) + 8, sector(kSteps - 1) - 8})
      add(x);
    for (block::sector_t x : drain()) st.push_back(x);
    return st;
  };
  for (int i = 0; i < kSteps; ++i) {
    add(sector(i));
    block::Request* rq = dispatch();
    ASSERT_NE(rq, nullptr);
    dd_->finish_request(rq);
    if (checkpoint(i)) seen.push_back(dd_->batching());
  }
  const Sectors locked = state();
  const Sectors locked_seen = seen;
  fresh_queue();
  seen.clear();

  std::vector<block::Request*> rqs;
  for (int i = 0; i < kSteps; ++i) rqs.push_back(make(sector(i)));
  std::atomic<int> turn{0};
  auto thread = [&](int parity) {
    for (int i = parity; i < kSteps; i += 2) {
      while (turn.load(std::memory_order_acquire) != i) {
      }
      for (block::Request* d : insert_and_dispatch(rqs[static_cast<std::size_t>(i)])) {
        EXPECT_EQ(d, rqs[static_cast<std::size_t>(i)]);
        dd_->finish_request(d);
      }
      if (checkpoint(i)) seen.push_back(dd_->batching());
      turn.store(i + 1, std::memory_order_release);
    }
  };
  std::thread a(thread, 0), b(thread, 1);
  a.join();
  b.join();
  EXPECT_GT(dd_->lone_steps(), kSteps - 10u);
  EXPECT_EQ(seen, locked_seen);
  EXPECT_EQ(state(), locked);
}

// Lone and locked steps of two threads at once, with a reader of counters
// and tunables: every request leaves once and the counts add up.
TEST_F(DdLoneTest, ConcurrentLoneAndLockedSteps) {
  constexpr int kPerThread = 3000;
  std::vector<block::Request*> rqs[2];
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < kPerThread; ++i)
      rqs[t].push_back(make(static_cast<block::sector_t>((i * 2 + t) * 16), 8,
                            i % 5 == 0 ? block::REQ_OP_WRITE : block::REQ_OP_READ,
                            i % 97 == 0 ? kRt : kBe));
  std::vector<std::atomic<int>> seen(2 * kPerThread);
  std::atomic<bool> done{false};
  auto submitter = [&](int t) {
    for (block::Request* rq : rqs[t])
      for (block::Request* d : insert_and_dispatch(rq)) {
        seen[static_cast<std::size_t>(block::blk_rq_pos(d) / 16)].fetch_add(1);
        dd_->finish_request(d);
      }
  };
  std::thread reader([&] {
    std::string v;
    for (int i = 0; !done.load(); ++i) {
      EXPECT_EQ(dd_->attr_store("fifo_batch", std::to_string(1 + i % 20)), 0);
      EXPECT_EQ(dd_->attr_show("read_expire", &v), 0);
      (void)dd_->stats(DD_BE_PRIO);
      (void)dd_->batching();
    }
  });
  std::thread a(submitter, 0), b(submitter, 1);
  a.join();
  b.join();
  done = true;
  reader.join();
  // Work held back behind an RT request another thread still had.
  for (block::sector_t s : drain()) seen[static_cast<std::size_t>(s / 16)].fetch_add(1);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].load(), 1) << i;
  std::uint32_t inserted = 0;
  for (DdPrio p : {DD_RT_PRIO, DD_BE_PRIO, DD_IDLE_PRIO}) {
    const DdStats s = dd_->stats(p);
    EXPECT_EQ(s.dispatched, s.inserted);
    EXPECT_EQ(s.completed, s.inserted);
    EXPECT_EQ(dd_->queued(p), 0u);
    inserted += s.inserted;
  }
  EXPECT_EQ(inserted, 2u * kPerThread);
}

}  // namespace
}  // namespace iostack::sched::test
