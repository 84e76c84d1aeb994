// mq-deadline's lone steps (a request inserted into an empty scheduler and
// dispatched at once, without the lock) leave the scheduler as the locked
// calls do: same requests, same batch state and counters, and steps of
// several threads folded in the order they were taken.
#include <atomic>
#include <string>
#include <thread>

#include "block/disk.hpp"
#include "block/hctx.hpp"
#include "block/plug.hpp"
#include "core/tsc.hpp"
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

// A fold that ends on reads still moves the writes' last position to its
// last write: a write batch that starts after it goes on from there
// (sector order from 1000 gives 1100 before 900; from the position before
// the fold, 900 first).
TEST_F(DdLoneTest, FoldKeepsTheOtherDirectionsLastPosition) {
  auto steps = [&](bool lone) {
    Sectors out;
    const std::pair<block::sector_t, std::uint32_t> seq[] = {{10, block::REQ_OP_READ},
                                                             {1000, block::REQ_OP_WRITE},
                                                             {50, block::REQ_OP_READ},
                                                             {60, block::REQ_OP_READ}};
    for (auto [sector, op] : seq) {
      block::Request* rq = make(sector, 8, op);
      if (lone) {
        for (block::Request* d : insert_and_dispatch(rq)) {
          out.push_back(block::blk_rq_pos(d));
          dd_->finish_request(d);
        }
      } else {
        insert(rq);
        block::Request* d = dispatch();
        EXPECT_EQ(d, rq);
        out.push_back(block::blk_rq_pos(d));
        dd_->finish_request(d);
      }
    }
    add(900, block::REQ_OP_WRITE);
    add(1100, block::REQ_OP_WRITE);
    for (block::sector_t x : drain()) out.push_back(x);
    return out;
  };
  const Sectors locked = steps(false);
  EXPECT_EQ(locked, (Sectors{10, 1000, 50, 60, 1100, 900}));
  fresh_queue();
  EXPECT_EQ(steps(true), locked);
  EXPECT_EQ(dd_->lone_steps(), 3u);
}

// The turn-taking tests' steps: rising sectors, so that in the order taken
// (alternating between two threads) the batches run their full length, and
// in thread order each thread's first step after the other's would start a
// new one. Enough steps that the threads' logs fill and are folded while the
// gate stays open; the batch state is read now and then (a fold with the
// gate closed).
constexpr int kTurns = 3 * static_cast<int>(MqDeadline::kLoneLog) - 71;
block::sector_t turn_sector(int i) { return static_cast<block::sector_t>(100 + i * 16); }
bool turn_checkpoint(int i) { return i == kTurns - 501 || i == kTurns - 494; }

class DdTurnsTest : public DdLoneTest {
 protected:
  // The batch state and counters, and where the batch goes on from.
  Sectors state() {
    Sectors st{dd_->batching(), dd_->starved()};
    const DdStats s = dd_->stats(DD_BE_PRIO);
    st.insert(st.end(), {s.inserted, s.dispatched, s.completed});
    for (block::sector_t x :
         {block::sector_t{50}, turn_sector(kTurns) + 8, turn_sector(kTurns - 1) - 8})
      add(x);
    for (block::sector_t x : drain()) st.push_back(x);
    return st;
  }

  // The steps by locked calls, one after the other: the batch state at the
  // checkpoints into *seen, the final state returned.
  Sectors locked_turns(Sectors* seen) {
    for (int i = 0; i < kTurns; ++i) {
      add(turn_sector(i));
      block::Request* rq = dispatch();
      EXPECT_NE(rq, nullptr);
      if (!rq) break;
      dd_->finish_request(rq);
      if (turn_checkpoint(i)) seen->push_back(dd_->batching());
    }
    return state();
  }

  // Two threads taking turns at `step(i)`, each after the other's.
  template <class Step>
  void take_turns(Sectors* seen, Step step) {
    std::atomic<int> turn{0};
    auto thread = [&](int parity) {
      for (int i = parity; i < kTurns; i += 2) {
        while (turn.load(std::memory_order_acquire) != i) {
        }
        step(i);
        if (turn_checkpoint(i)) seen->push_back(dd_->batching());
        turn.store(i + 1, std::memory_order_release);
      }
    };
    std::thread a(thread, 0), b(thread, 1);
    a.join();
    b.join();
  }
};

// Each step a handshake after the other thread's: the fold must put the
// steps in that order. All must be what the same steps by locked calls give.
TEST_F(DdTurnsTest, TwoThreadsStepsFoldInTheOrderTaken) {
  Sectors locked_seen;
  const Sectors locked = locked_turns(&locked_seen);
  fresh_queue();

  std::vector<block::Request*> rqs;
  for (int i = 0; i < kTurns; ++i) rqs.push_back(make(turn_sector(i)));
  Sectors seen;
  take_turns(&seen, [&](int i) {
    for (block::Request* d : insert_and_dispatch(rqs[static_cast<std::size_t>(i)])) {
      EXPECT_EQ(d, rqs[static_cast<std::size_t>(i)]);
      dd_->finish_request(d);
    }
  });
  EXPECT_GT(dd_->lone_steps(), kTurns - 10u);
  EXPECT_EQ(seen, locked_seen);
  EXPECT_EQ(state(), locked);
}

template <class F>
struct AtExit {
  F f;
  ~AtExit() { f(); }
};

// Ends each request inside queue_rq (null_blk's irqmode=0) and counts the
// requests whose plug kept an ordered clock reading (blk_plug_stamp).
class InlineDriver final : public block::BlockDriver {
 public:
  const char* name() const override { return "inline"; }
  block::BlkStatus queue_rq(block::HwCtx*, block::Request* rq, bool) override {
    if (block::blk_plug_stamp()) stamped.fetch_add(1, std::memory_order_relaxed);
    block::blk_mq_end_request(rq, block::BlkStatus::OK);
    return block::BlkStatus::OK;
  }
  std::atomic<unsigned> stamped{0};
};

// The same turns as bios through submit_bio on the real clock: a step's
// place in time is then its plug's clock reading, taken in order inside the
// submitter's call (blk_plug_stamp), and the fold must still follow the
// handshakes.
TEST_F(DdTurnsTest, TwoThreadsSubmittingBiosFoldInTheOrderTaken) {
  Sectors locked_seen;
  const Sectors locked = locked_turns(&locked_seen);
  TearDown();
  InlineDriver drv;
  std::unique_ptr<block::Disk> disk;
  // The disk goes first, then the queue, both before the driver.
  AtExit gone{[&] {
    disk.reset();
    TearDown();
    dd_ = nullptr;
    q_.reset();
  }};
  q_ = std::make_unique<block::RequestQueue>(&drv, block::TagSetConfig{1, 64}, block::QueueLimits{},
                                             &core::real_clock());
  disk = std::make_unique<block::Disk>("dd0", 7, 0, block::sector_t{1} << 21, q_.get());
  ASSERT_EQ(q_->set_elevator("mq-deadline"), 0);
  dd_ = dynamic_cast<MqDeadline*>(q_->elevator());
  ASSERT_NE(dd_, nullptr);
  // No request of state()'s may expire on a slow run (the locked run's clock
  // stood still).
  set("read_expire", "3600000");

  // Where the TSC can be the time, readings until it is (they calibrate it).
  const std::uint64_t deadline = core::clock_ns(CLOCK_MONOTONIC) + core::kNsPerSec;
  while (core::tsc_in_step() && !core::monotonic_uses_tsc() &&
         core::clock_ns(CLOCK_MONOTONIC) < deadline)
    (void)q_->now();

  std::vector<char> buf(4096);
  std::vector<block::Bio> bios(kTurns);
  std::atomic<int> done{0};
  Sectors seen;
  take_turns(&seen, [&](int i) {
    block::Bio& bio = bios[static_cast<std::size_t>(i)];
    block::bio_init(&bio, disk.get(), bio.bi_inline_vecs, block::kBioInlineVecs,
                    block::REQ_OP_READ);
    block::bio_add_vec(&bio, buf.data(), 4096);
    bio.bi_iter.bi_sector = turn_sector(i);
    bio.bi_ioprio = kBe;
    bio.bi_private = &done;
    bio.bi_end_io = [](block::Bio* b) {
      static_cast<std::atomic<int>*>(b->bi_private)->fetch_add(1, std::memory_order_relaxed);
    };
    block::submit_bio(&bio);
  });
  EXPECT_EQ(done.load(), kTurns) << "every bio ends inside its submission";
  EXPECT_GT(dd_->lone_steps(), kTurns - 10u);
  // Once both threads step, each step's plug has an ordered reading (where
  // the time is the TSC's).
  if (core::monotonic_uses_tsc()) {
    EXPECT_GT(drv.stamped.load(), kTurns - 10u);
  }
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
