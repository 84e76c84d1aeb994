// The virtual and real clocks: ordering, cancel, try_cancel, re-arm.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "core/list.hpp"
#include "core/real_clock.hpp"
#include "core/virtual_clock.hpp"

namespace iostack::core {
namespace {

struct Fired {
  std::vector<int>* order;
  int id;
};

void record(Timer* t) {
  auto* f = static_cast<Fired*>(t->priv);
  f->order->push_back(f->id);
}

TEST(VirtualClock, FiresInDeadlineOrderAndAdvancesTime) {
  VirtualClock clock(100);
  std::vector<int> order;
  Fired f1{&order, 1}, f2{&order, 2}, f3{&order, 3};
  Timer t1{record, &f1}, t2{record, &f2}, t3{record, &f3};
  clock.arm(&t1, 500);
  clock.arm(&t2, 200);
  clock.arm(&t3, 200);  // same deadline as t2: armed later, fires later
  clock.advance_to(300);
  EXPECT_EQ(order, (std::vector<int>{2, 3}));
  EXPECT_EQ(clock.now(), 300u);
  EXPECT_TRUE(clock.cancel(&t1));
  EXPECT_FALSE(clock.cancel(&t1));
  EXPECT_EQ(clock.run_until_idle(), 0u);
  EXPECT_EQ(order.size(), 2u);
}

TEST(VirtualClock, RearmMovesTimer) {
  VirtualClock clock;
  std::vector<int> order;
  Fired f1{&order, 1}, f2{&order, 2};
  Timer t1{record, &f1}, t2{record, &f2};
  clock.arm(&t1, 10);
  clock.arm(&t2, 20);
  clock.arm(&t1, 30);
  clock.run_until_idle();
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
  EXPECT_EQ(clock.now(), 30u);
}

TEST(RealClock, TimerFiresAfterDeadline) {
  Clock& clock = real_clock();
  std::atomic<bool> fired{false};
  Timer t{[](Timer* tm) { static_cast<std::atomic<bool>*>(tm->priv)->store(true); }, &fired};
  const Nanos start = clock.now();
  clock.arm(&t, start + 2 * kNsPerMs);
  while (!fired.load()) std::this_thread::yield();
  EXPECT_GE(clock.now(), start + 2 * kNsPerMs);
  EXPECT_FALSE(clock.cancel(&t));
}

TEST(RealClock, CancelledTimerNeverFires) {
  Clock& clock = real_clock();
  // The timer thread is held in a callback while the timer is armed and
  // cancelled, so the cancel always finds it pending, however loaded the
  // machine.
  struct Gate {
    std::atomic<bool> entered{false};
    std::atomic<bool> open{false};
  } gate;
  Timer blocker{[](Timer* tm) {
                  auto* g = static_cast<Gate*>(tm->priv);
                  g->entered.store(true);
                  while (!g->open.load()) std::this_thread::yield();
                },
                &gate};
  clock.arm(&blocker, clock.now());
  while (!gate.entered.load()) std::this_thread::yield();
  std::atomic<bool> fired{false};
  Timer t{[](Timer* tm) { static_cast<std::atomic<bool>*>(tm->priv)->store(true); }, &fired};
  const Nanos deadline = clock.now() + 1 * kNsPerMs;
  clock.arm(&t, deadline);
  EXPECT_TRUE(clock.cancel(&t));
  // A later timer firing means the timer thread went past the cancelled
  // one's deadline: timers fire in deadline order.
  std::atomic<bool> later{false};
  Timer witness{[](Timer* tm) { static_cast<std::atomic<bool>*>(tm->priv)->store(true); }, &later};
  clock.arm(&witness, deadline + 1 * kNsPerMs);
  gate.open.store(true);
  while (!later.load()) std::this_thread::yield();
  EXPECT_FALSE(fired.load());
}

// hrtimer_try_to_cancel: a caller holding the lock a running callback waits
// for is told the callback runs (-1) instead of waiting for it, which would
// deadlock; a pending timer is disarmed (1); an idle one is not (0).
TEST(RealClock, TryCancelDoesNotWaitForARunningCallback) {
  Clock& clock = real_clock();
  struct State {
    std::mutex mu;
    std::atomic<bool> entered{false};
    std::atomic<bool> done{false};
  } st;
  Timer t{[](Timer* tm) {
            auto* s = static_cast<State*>(tm->priv);
            s->entered.store(true);
            std::lock_guard lock(s->mu);
            s->done.store(true);
          },
          &st};
  {
    std::lock_guard lock(st.mu);
    clock.arm(&t, clock.now());
    while (!st.entered.load()) std::this_thread::yield();
    EXPECT_EQ(clock.try_cancel(&t), -1);
  }
  while (!st.done.load()) std::this_thread::yield();
  EXPECT_FALSE(clock.cancel(&t));  // waits until the callback has returned
  EXPECT_EQ(clock.try_cancel(&t), 0);
  clock.arm(&t, clock.now() + 3600 * kNsPerSec);
  EXPECT_EQ(clock.try_cancel(&t), 1);
  EXPECT_EQ(clock.try_cancel(&t), 0);
}

TEST(VirtualClock, TryCancelDisarms) {
  VirtualClock clock;
  std::vector<int> order;
  Fired f{&order, 1};
  Timer t{record, &f};
  clock.arm(&t, 10);
  EXPECT_EQ(clock.try_cancel(&t), 1);
  EXPECT_EQ(clock.try_cancel(&t), 0);
  EXPECT_EQ(clock.run_until_idle(), 0u);
  EXPECT_TRUE(order.empty());
}

struct Item {
  int v;
  ListHead node;
};

TEST(ListHead, AddDelSplice) {
  ListHead a, b;
  Item i1{1, {}}, i2{2, {}}, i3{3, {}};
  i1.node.add_tail(&a);
  i2.node.add_tail(&a);
  i3.node.add_head(&a);
  std::vector<int> got;
  for (ListHead* n = a.first(); n != &a; n = n->next)
    got.push_back(list_entry<Item, &Item::node>(n)->v);
  EXPECT_EQ(got, (std::vector<int>{3, 1, 2}));
  i1.node.del();
  EXPECT_FALSE(i1.node.linked());
  a.splice_tail_init(&b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ((list_entry<Item, &Item::node>(b.first())->v), 3);
  EXPECT_EQ((list_entry<Item, &Item::node>(b.last())->v), 2);
}

}  // namespace
}  // namespace iostack::core
