// core::PerThread (per-thread slots summed on read) and the asymmetric
// barriers: sums across live and ended threads, slot hand-over, id reuse.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "core/membarrier.hpp"
#include "core/per_thread.hpp"

namespace iostack::core {
namespace {

struct Count {
  std::atomic<std::int64_t> n{0};
};

std::int64_t sum(const PerThread<Count>& c) {
  std::int64_t s = 0;
  c.for_each([&](const Count& x) { s += x.n.load(std::memory_order_acquire); });
  return s;
}

std::size_t slots(const PerThread<Count>& c) {
  std::size_t k = 0;
  c.for_each([&](const Count&) { ++k; });
  return k;
}

TEST(PerThread, EachThreadHasItsOwnSlotAndTheSumCoversAll) {
  PerThread<Count> c;
  local_add(c.local()->n, std::int64_t{5});
  Count* mine = c.local();
  std::latch ready(3), done(1);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&] {
      Count* own = c.local();
      EXPECT_NE(own, mine);
      for (int k = 0; k < 1000; ++k) local_add(own->n, std::int64_t{1});
      ready.count_down();
      done.wait();  // all four threads alive at once: four slots
    });
  }
  ready.wait();
  EXPECT_EQ(sum(c), 3005);
  EXPECT_EQ(slots(c), 4u);
  done.count_down();
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum(c), 3005) << "counts of ended threads stay in the sum";
}

TEST(PerThread, AnEndedThreadsSlotGoesToTheNextThread) {
  PerThread<Count> c;
  for (int i = 0; i < 50; ++i) {
    std::thread([&] { local_add(c.local()->n, std::int64_t{2}); }).join();
  }
  EXPECT_EQ(sum(c), 100);
  EXPECT_EQ(slots(c), 1u) << "one thread at a time reuses one slot";
}

TEST(PerThread, AddsOnOneThreadAndSubtractionsOnAnotherCancel) {
  PerThread<Count> c;
  std::thread a([&] { local_add(c.local()->n, std::int64_t{7}); });
  a.join();
  std::thread b([&] { local_add(c.local()->n, std::int64_t{-7}); });
  b.join();
  EXPECT_EQ(sum(c), 0);
}

TEST(PerThread, AnIdReusedByANewObjectStartsFromZero) {
  auto first = std::make_unique<PerThread<Count>>();
  local_add(first->local()->n, std::int64_t{9});
  first.reset();
  // Likely the same id as `first`: the calling thread's entry for it is stale.
  PerThread<Count> second;
  EXPECT_EQ(second.local()->n.load(), 0);
  local_add(second.local()->n, std::int64_t{1});
  EXPECT_EQ(sum(second), 1);
}

TEST(PerThread, ObjectsOutlivedByThreadsAndThreadsOutlivedByObjects) {
  std::atomic<PerThread<Count>*> obj{nullptr};
  std::latch made(1), used(1), gone(1);
  std::thread t([&] {
    made.wait();  // the object is made after the thread starts
    local_add(obj.load()->local()->n, std::int64_t{1});
    used.count_down();
    gone.wait();  // the object is destroyed while this thread still lives
  });
  auto c = std::make_unique<PerThread<Count>>();
  obj.store(c.get());
  made.count_down();
  used.wait();
  EXPECT_EQ(sum(*c), 1);
  c.reset();
  gone.count_down();
  t.join();  // its exit must not touch the destroyed object
}

// The store-then-load handshake the queue freeze relies on: a thread that
// publishes in its slot and then reads the flag, against one that sets the
// flag, runs heavy_barrier() and then reads the slots. Never may both miss.
TEST(Membarrier, LightAndHeavyBarriersNeverBothMiss) {
  for (int round = 0; round < 200; ++round) {
    PerThread<Count> c;
    std::atomic<bool> flag{false};
    std::atomic<bool> saw_flag{false};
    std::latch go(2);
    std::thread t([&] {
      go.arrive_and_wait();
      local_add(c.local()->n, std::int64_t{1});
      light_barrier();
      saw_flag.store(flag.load(std::memory_order_acquire));
    });
    go.arrive_and_wait();
    flag.store(true, std::memory_order_seq_cst);
    heavy_barrier();
    const std::int64_t seen = sum(c);
    t.join();
    EXPECT_TRUE(seen == 1 || saw_flag.load()) << "round " << round;
  }
}

}  // namespace
}  // namespace iostack::core
