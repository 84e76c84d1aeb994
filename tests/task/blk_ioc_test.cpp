// get/create_task_io_context, including the exiting and ENOMEM rules.
#include <gtest/gtest.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/task_ioprio.hpp"
#include "task_fixture.hpp"

namespace iostack::task {
namespace {

using BlkIoc = testing::TaskTest;

TEST_F(BlkIoc, GetCreatesOnceAndTakesAReference) {
  Task* t = make();
  IoContext* a = get_task_io_context(t, t);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(t->io_context.load(), a);
  EXPECT_EQ(a->refcount.load(), 2);  // the task's and ours
  IoContext* b = get_task_io_context(t, t);
  EXPECT_EQ(b, a);
  EXPECT_EQ(a->refcount.load(), 3);
  put_io_context(a);
  put_io_context(b);
  EXPECT_EQ(a->refcount.load(), 1);
}

TEST_F(BlkIoc, AllocationFailureIsNullAndEnomem) {
  Task* t = make();
  inject_ioc_alloc_failures(1);
  int err = 0;
  EXPECT_EQ(get_task_io_context(t, t, &err), nullptr);
  EXPECT_EQ(err, -ENOMEM);
  EXPECT_EQ(t->io_context.load(), nullptr);
  EXPECT_EQ(create_task_io_context(t, t), 0);  // the next allocation works
}

TEST_F(BlkIoc, NoInstallOnAnotherTasksExit) {
  Task* caller = make();
  Task* dying = make();
  dying->flags |= kPfExiting;
  EXPECT_EQ(create_task_io_context(dying, caller), -EBUSY);
  int err = 0;
  EXPECT_EQ(get_task_io_context(dying, caller, &err), nullptr);
  EXPECT_EQ(err, -EBUSY);
  EXPECT_EQ(dying->io_context.load(), nullptr);

  // set_task_ioprio on it succeeds without doing anything, as in the kernel.
  EXPECT_EQ(set_task_ioprio(caller, dying, prio_value(kClassBe, 1)), 0);
  EXPECT_EQ(dying->io_context.load(), nullptr);
  dying->flags &= ~kPfExiting;
}

TEST_F(BlkIoc, ExitingTaskMayGiveItselfOne) {
  // Its exit path can still issue I/O before exit_io_context.
  Task* dying = make();
  dying->flags |= kPfExiting;
  EXPECT_EQ(create_task_io_context(dying, dying), 0);
  EXPECT_NE(dying->io_context.load(), nullptr);
  dying->flags &= ~kPfExiting;
}

TEST_F(BlkIoc, ExistingIoContextIsReturnedEvenWhileExiting) {
  Task* caller = make();
  Task* t = make();
  IoContext* ioc = get_task_io_context(t, t);
  t->flags |= kPfExiting;
  EXPECT_EQ(get_task_io_context(t, caller), ioc);
  put_io_context(ioc);
  put_io_context(ioc);
  t->flags &= ~kPfExiting;
}

TEST_F(BlkIoc, RacingCreatorsInstallExactlyOne) {
  Task* t = make();
  std::vector<std::thread> threads;
  std::vector<IoContext*> got(8);
  for (int i = 0; i < 8; i++) threads.emplace_back([&, i] { got[i] = get_task_io_context(t, t); });
  for (auto& th : threads) th.join();
  for (IoContext* g : got) EXPECT_EQ(g, t->io_context.load());
  EXPECT_EQ(t->io_context.load()->refcount.load(), 9);
  for (IoContext* g : got) put_io_context(g);
}

TEST_F(BlkIoc, ExitDropsTheTasksShare) {
  Task* t = make();
  IoContext* ioc = get_task_io_context(t, t);  // keep it alive to look at
  task_exit(t);
  EXPECT_EQ(ioc->nr_tasks.load(), 0);
  EXPECT_EQ(ioc->active_ref.load(), 0);
  EXPECT_EQ(ioc->refcount.load(), 1);
  put_io_context(ioc);
}

}  // namespace
}  // namespace iostack::task
