// I/O priorities from real threads through the whole submission path: each
// thread sets its priority with ioprio_set, writes with bios of class NONE,
// and mq-deadline serves the classes in order (with aging).
#include <sched.h>

#include <thread>

#include "../block/block_fixture.hpp"
#include "iostack/ioprio.h"
#include "task/current.hpp"
#include "task/fork.hpp"
#include "task/io_context.hpp"

namespace iostack::block::test {
namespace {

class PrioThreadsTest : public BlockTest {
 protected:
  void SetUp() override {
    make("mq-deadline", {}, 1);
    ASSERT_EQ(q->attr_store("nr_requests", "64"), 0);
    drv.mode = RecordingDriver::Mode::kHold;
    submit(REQ_OP_WRITE, 1u << 20, 4096);  // holds the only driver tag
    submit(REQ_OP_WRITE, 1u << 19, 4096);  // waits for it on the dispatch list
    drv.issued.clear();
  }

  // A thread that sets its own I/O priority, then writes `n` scattered
  // blocks with bios of class NONE (they take the task's priority).
  void writer(int ioprio, sector_t base, int n) {
    std::thread t([&] {
      ASSERT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio), 0);
      for (int i = 0; i < n; ++i) submit(REQ_OP_WRITE, base + 1000 * i, 4096, 0);
    });
    t.join();
  }

  // Completes one request at a time and returns the classes in issue order.
  std::vector<int> classes_in_dispatch_order() {
    std::vector<int> out;
    // Held requests complete one batch at a time; timers (the scheduler's
    // delayed reruns) fire when nothing is held.
    for (;;) {
      if (!drv.held.empty())
        drv.complete_held();
      else if (!clock.run_one())
        break;
    }
    for (const auto& r : drv.issued)
      if (r.sector < (1u << 19)) out.push_back(task::prio_class(r.ioprio));
    return out;
  }
};

TEST_F(PrioThreadsTest, RealTimeIsServedBeforeIdle) {
  writer(IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0), 0, 4);
  writer(IOPRIO_PRIO_VALUE(IOPRIO_CLASS_RT, 2), 100000, 4);
  EXPECT_EQ(classes_in_dispatch_order(),
            (std::vector<int>{IOPRIO_CLASS_RT, IOPRIO_CLASS_RT, IOPRIO_CLASS_RT, IOPRIO_CLASS_RT,
                              IOPRIO_CLASS_IDLE, IOPRIO_CLASS_IDLE, IOPRIO_CLASS_IDLE,
                              IOPRIO_CLASS_IDLE}));
}

TEST_F(PrioThreadsTest, IdleIsStillServedAfterPrioAgingExpire) {
  ASSERT_EQ(q->attr_store("iosched/prio_aging_expire", "100"), 0);
  writer(IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0), 0, 2);
  clock.advance_by(150 * core::kNsPerMs);  // the IDLE requests are now older than 100 ms
  writer(IOPRIO_PRIO_VALUE(IOPRIO_CLASS_RT, 2), 100000, 2);
  const auto order = classes_in_dispatch_order();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], IOPRIO_CLASS_IDLE) << "aged IDLE work goes ahead of newer RT work";
}

TEST_F(PrioThreadsTest, CloneIoThreadsShareOneIoContextAndItsPriority) {
  // A parent task and two children made with CLONE_IO, each run by a thread.
  task::Task* parent = task::current();
  ASSERT_NE(task::current_io_context(), nullptr);
  int err = 0;
  task::Task* a = task::task_clone(parent, CLONE_IO, &err);
  task::Task* b = task::task_clone(parent, CLONE_IO, &err);
  ASSERT_TRUE(a && b) << err;
  task::IoContext* ioc_a = nullptr;
  task::IoContext* ioc_b = nullptr;
  std::thread ta([&] {
    ASSERT_EQ(task::attach_current(a), 0);
    ioc_a = task::current_io_context();
    // Setting the priority of one sharer sets it for the io_context.
    ASSERT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_RT, 1)), 0);
  });
  ta.join();
  std::thread tb([&] {
    ASSERT_EQ(task::attach_current(b), 0);
    ioc_b = task::current_io_context();
    submit(REQ_OP_WRITE, 0, 4096, 0);
  });
  tb.join();
  EXPECT_EQ(ioc_a, ioc_b);
  EXPECT_EQ(ioc_a, parent->io_context.load());
  const auto order = classes_in_dispatch_order();
  ASSERT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0], IOPRIO_CLASS_RT) << "b's bio carries the priority a set";
  // Restore this thread's own priority for the other tests.
  iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, 0);
}

}  // namespace
}  // namespace iostack::block::test
