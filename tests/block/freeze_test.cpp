// Queue freezing against per-thread usage references (blk_queue_enter and
// blk_mq_freeze_queue): a freeze waits for every thread's references, also
// those dropped on another thread than the one that took them, and holds
// new ones back until the unfreeze.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "block/request_queue.hpp"
#include "block_fixture.hpp"
#include "core/real_clock.hpp"

namespace iostack::block::test {
namespace {

struct RealQueue {
  core::RealClock clock;
  RecordingDriver drv;
  RequestQueue q{&drv, TagSetConfig{1, 64}, QueueLimits{}, &clock};
};

TEST(QueueFreeze, NoThreadIsInsideWhileFrozen) {
  RealQueue rq;
  std::atomic<int> inside{0};
  std::atomic<bool> stop{false};
  std::atomic<int> seen_inside{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        rq.q.enter();
        inside.fetch_add(1);
        inside.fetch_sub(1);
        rq.q.exit();
      }
    });
  }
  for (int round = 0; round < 300; ++round) {
    rq.q.freeze();
    for (int k = 0; k < 100; ++k) seen_inside.fetch_add(inside.load() != 0);
    rq.q.unfreeze();
  }
  stop.store(true);
  for (auto& t : ts) t.join();
  EXPECT_EQ(seen_inside.load(), 0);
}

TEST(QueueFreeze, WaitsForAReferenceThatAnotherThreadDrops) {
  RealQueue rq;
  rq.q.enter();  // taken here, dropped by `dropper`
  std::atomic<bool> frozen{false};
  std::latch dropped(1);
  std::thread freezer([&] {
    rq.q.freeze();
    frozen.store(true);
  });
  std::thread dropper([&] {
    EXPECT_FALSE(frozen.load()) << "a freeze ended with a reference held";
    rq.q.exit();
    dropped.count_down();
  });
  dropped.wait();
  freezer.join();  // returns once the sum of the threads' counts is zero
  dropper.join();
  EXPECT_TRUE(frozen.load());
  rq.q.unfreeze();
}

TEST(QueueFreeze, AnEnterWaitsForTheUnfreeze) {
  RealQueue rq;
  rq.q.freeze();
  std::atomic<bool> entered{false};
  std::thread t([&] {
    rq.q.enter();
    entered.store(true);
    rq.q.exit();
  });
  EXPECT_FALSE(entered.load());
  rq.q.unfreeze();
  t.join();
  EXPECT_TRUE(entered.load());
  rq.q.freeze();  // and its reference is gone again
  rq.q.unfreeze();
}

}  // namespace
}  // namespace iostack::block::test
