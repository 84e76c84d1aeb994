// Default I/O priorities from nice and scheduling policy.
#include <gtest/gtest.h>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/task_ioprio.hpp"
#include "task_fixture.hpp"

namespace iostack::task {
namespace {

using DefaultPrio = testing::TaskTest;

TEST_F(DefaultPrio, LevelFollowsNice) {
  const struct {
    int nice, level;
  } cases[] = {{-20, 0}, {-16, 0}, {-15, 1}, {-11, 1}, {-10, 2}, {-1, 3},
               {0, 4},   {4, 4},   {5, 5},   {10, 6},  {15, 7},  {19, 7}};
  for (const auto& c : cases) {
    Task* t = make(1000, 0, c.nice);
    EXPECT_EQ(task_nice_ioprio(t), c.level) << "nice " << c.nice;
    EXPECT_EQ(task_effective_ioprio(t), prio_value(kClassBe, c.level)) << "nice " << c.nice;
    task_exit(t);
  }
}

TEST_F(DefaultPrio, ClassFollowsPolicy) {
  const struct {
    int policy, cls;
  } cases[] = {{SCHED_OTHER, kClassBe}, {SCHED_BATCH, kClassBe}, {SCHED_IDLE, kClassIdle},
               {SCHED_FIFO, kClassRt},  {SCHED_RR, kClassRt},    {SCHED_DEADLINE, kClassRt},
               {kSchedExt, kClassBe}};
  for (const auto& c : cases) {
    for (int nice : {-20, 0, 7, 19}) {
      Task* t = make(1000, 0, nice, c.policy);
      EXPECT_EQ(task_nice_ioclass(t), c.cls) << "policy " << c.policy;
      EXPECT_EQ(task_effective_ioprio(t), prio_value(c.cls, (nice + 20) / 5))
          << "policy " << c.policy << " nice " << nice;
      task_exit(t);
    }
  }
}

TEST_F(DefaultPrio, SetPriorityWinsOverNiceAndPolicy) {
  Task* t = make(1000, 0, 19, SCHED_IDLE);
  IoContext* ioc = get_task_io_context(t, t);
  ioc->ioprio = prio_value(kClassBe, 1, 3);
  EXPECT_EQ(task_effective_ioprio(t), prio_value(kClassBe, 1, 3));
  EXPECT_EQ(task_raw_ioprio(t), prio_value(kClassBe, 1, 3));

  // A NONE value (even with a hint) means "derive it": hints are dropped.
  ioc->ioprio = 0x0008;
  EXPECT_EQ(task_effective_ioprio(t), prio_value(kClassIdle, 7));
  EXPECT_EQ(task_raw_ioprio(t), 0x0008);
  put_io_context(ioc);
}

TEST_F(DefaultPrio, RawIsZeroWithoutIoContext) {
  Task* t = make(1000, 0, -5, SCHED_FIFO);
  EXPECT_EQ(task_raw_ioprio(t), kIoprioDefault);
  EXPECT_EQ(task_effective_ioprio(t), prio_value(kClassRt, 3));
}

TEST_F(DefaultPrio, CreateRejectsWhatLinuxRejects) {
  TaskSpec spec;
  spec.ns = ns_.get();
  int err = 0;
  spec.nice = 20;
  EXPECT_EQ(task_create(spec, &err), nullptr);
  EXPECT_EQ(err, -EINVAL);
  spec.nice = 0;
  spec.policy = 4;  // unused number
  EXPECT_EQ(task_create(spec, &err), nullptr);
  EXPECT_EQ(err, -EINVAL);
  spec.policy = SCHED_OTHER;
  spec.pid = 4242;
  Task* t = task_create(spec, &err);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(task_create(spec, &err), nullptr);
  EXPECT_EQ(err, -EEXIST);
}

}  // namespace
}  // namespace iostack::task
