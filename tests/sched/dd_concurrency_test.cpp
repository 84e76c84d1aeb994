// mq-deadline used from several threads at once: inserting, dispatching and
// completing, while tunables and statistics are read and written.
#include <atomic>
#include <thread>

#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

TEST_F(DdTest, ConcurrentInsertDispatchAndTunables) {
  constexpr int kN = 3000;
  std::vector<block::Request*> rqs;
  for (int i = 0; i < kN; ++i) {
    const std::uint16_t prio = i % 3 == 0 ? kRt : i % 3 == 1 ? kBe : kIdle;
    // 16-sector gaps: no two requests are adjacent, so nothing merges.
    rqs.push_back(make(static_cast<block::sector_t>(i) * 16, 8,
                       i % 2 ? block::REQ_OP_WRITE : block::REQ_OP_READ, prio));
  }
  std::atomic<bool> inserted{false};
  std::atomic<int> dispatched{0};
  std::vector<int> seen(kN, 0);

  std::thread producer([&] {
    for (block::Request* rq : rqs) insert(rq);
    inserted = true;
  });
  std::thread consumer([&] {
    while (!inserted || dd_->has_work(q_->hctx(0))) {
      if (block::Request* rq = dispatch()) {
        ++seen[static_cast<std::size_t>(block::blk_rq_pos(rq) / 16)];
        ++dispatched;
        dd_->finish_request(rq);
      }
    }
  });
  std::thread tuner([&] {
    std::string v;
    for (int i = 0; !inserted; ++i) {
      EXPECT_EQ(dd_->attr_store("fifo_batch", std::to_string(1 + i % 20)), 0);
      EXPECT_EQ(dd_->attr_show("writes_starved", &v), 0);
      block::AllocData ad{q_.get(), block::REQ_OP_WRITE, 0, q_->hctx(0)};
      dd_->limit_depth(&ad);
      (void)dd_->stats(DD_BE_PRIO);
    }
  });
  producer.join();
  tuner.join();
  consumer.join();

  EXPECT_EQ(dispatched.load(), kN);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], 1) << i;
  std::uint32_t inserted_total = 0;
  for (DdPrio p : {DD_RT_PRIO, DD_BE_PRIO, DD_IDLE_PRIO}) {
    EXPECT_EQ(dd_->queued(p), 0u);
    inserted_total += dd_->stats(p).inserted;
  }
  EXPECT_EQ(inserted_total, static_cast<std::uint32_t>(kN));
}

}  // namespace
}  // namespace iostack::sched::test
