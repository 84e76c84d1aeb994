// copy_io at task creation, with and without CLONE_IO.
#include <gtest/gtest.h>

#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/fork.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/task_ioprio.hpp"
#include "task_fixture.hpp"

namespace iostack::task {
namespace {

using CopyIo = testing::TaskTest;

// Gives `t` an io_context holding `prio`, as ioprio_set would.
IoContext* give_ioc(Task* t, std::uint16_t prio) {
  IoContext* ioc = get_task_io_context(t, t);
  ioc->ioprio = prio;
  put_io_context(ioc);
  return ioc;
}

TEST_F(CopyIo, ParentWithoutIoContextGivesNothing) {
  Task* parent = make();
  for (unsigned long flags : {0UL, static_cast<unsigned long>(CLONE_IO)}) {
    Task* child = task_clone(parent, flags);
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->io_context.load(), nullptr);
    task_exit(child);
  }
}

TEST_F(CopyIo, CloneIoSharesAndCountsTheChild) {
  Task* parent = make();
  IoContext* ioc = give_ioc(parent, prio_value(kClassBe, 2));
  Task* child = task_clone(parent, CLONE_IO);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->io_context.load(), ioc);
  EXPECT_EQ(ioc->refcount.load(), 2);
  EXPECT_EQ(ioc->active_ref.load(), 2);
  EXPECT_EQ(ioc->nr_tasks.load(), 2);

  // A priority set through either task is the other's too.
  EXPECT_EQ(set_task_ioprio(parent, child, prio_value(kClassIdle, 0)), 0);
  EXPECT_EQ(task_effective_ioprio(parent), prio_value(kClassIdle, 0));

  task_exit(child);
  EXPECT_EQ(ioc->refcount.load(), 1);
  EXPECT_EQ(ioc->active_ref.load(), 1);
  EXPECT_EQ(ioc->nr_tasks.load(), 1);
}

TEST_F(CopyIo, CloneIoSharesEvenAnUnsetPriority) {
  Task* parent = make();
  IoContext* ioc = give_ioc(parent, 0);
  Task* child = task_clone(parent, CLONE_IO);
  EXPECT_EQ(child->io_context.load(), ioc);
  task_exit(child);
}

TEST_F(CopyIo, ValidPriorityGoesToANewIoContext) {
  for (std::uint16_t prio : {prio_value(kClassRt, 1), prio_value(kClassBe, 7),
                             prio_value(kClassIdle, 0), prio_value(kClassBe, 3, 5)}) {
    Task* parent = make();
    IoContext* ioc = give_ioc(parent, prio);
    Task* child = task_clone(parent, 0);
    ASSERT_NE(child, nullptr);
    IoContext* cioc = child->io_context.load();
    ASSERT_NE(cioc, nullptr);
    EXPECT_NE(cioc, ioc);
    EXPECT_EQ(cioc->ioprio.load(), prio);
    EXPECT_EQ(cioc->refcount.load(), 1);  // the child's own reference only
    EXPECT_EQ(cioc->nr_tasks.load(), 1);
    EXPECT_EQ(ioc->refcount.load(), 1);  // the parent's is untouched
    EXPECT_EQ(ioc->nr_tasks.load(), 1);
    task_exit(child);
    task_exit(parent);
  }
}

TEST_F(CopyIo, NonePriorityGivesNothing) {
  // Class NONE, with or without a hint, is not valid: nothing to inherit.
  for (std::uint16_t prio : {std::uint16_t{0}, std::uint16_t{0x0008}}) {
    Task* parent = make();
    give_ioc(parent, prio);
    Task* child = task_clone(parent, 0);
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->io_context.load(), nullptr);
    task_exit(child);
    task_exit(parent);
  }
}

TEST_F(CopyIo, AllocationFailureFailsTheCloneWithEnomem) {
  Task* parent = make();
  IoContext* ioc = give_ioc(parent, prio_value(kClassBe, 1));
  const std::size_t before = ns_->size();
  inject_ioc_alloc_failures(1);
  int err = 0;
  EXPECT_EQ(task_clone(parent, 0, &err), nullptr);
  EXPECT_EQ(err, -ENOMEM);
  EXPECT_EQ(ns_->size(), before);  // no half-made child is visible
  EXPECT_EQ(ioc->refcount.load(), 1);

  // CLONE_IO allocates nothing and cannot fail.
  inject_ioc_alloc_failures(1);
  Task* child = task_clone(parent, CLONE_IO);
  EXPECT_NE(child, nullptr);
  inject_ioc_alloc_failures(0);
  task_exit(child);
}

TEST_F(CopyIo, CloneCopiesIdentityAndCredentials) {
  Task* parent = make(1234, cap_bit(kCapSysNice), 5, SCHED_BATCH, 77);
  Task* proc = task_clone(parent, 0);
  Task* thread = task_clone(parent, CLONE_THREAD);
  EXPECT_NE(proc->pid, parent->pid);
  EXPECT_EQ(proc->tgid, proc->pid);
  EXPECT_EQ(thread->tgid, parent->tgid);
  for (Task* c : {proc, thread}) {
    EXPECT_EQ(c->pgrp.load(), 77);
    EXPECT_EQ(c->uid.load(), 1234u);
    EXPECT_EQ(c->euid.load(), 1234u);
    EXPECT_TRUE(capable(c, kCapSysNice));
    EXPECT_EQ(c->nice.load(), 5);
    EXPECT_EQ(c->policy.load(), SCHED_BATCH);
    EXPECT_EQ(c->ns, ns_.get());
  }
}

TEST_F(CopyIo, SharedIoContextOutlivesTheParent) {
  Task* parent = make();
  IoContext* ioc = give_ioc(parent, prio_value(kClassBe, 0));
  Task* child = task_clone(parent, CLONE_IO);
  task_exit(parent);
  EXPECT_EQ(child->io_context.load(), ioc);
  EXPECT_EQ(ioc->nr_tasks.load(), 1);
  EXPECT_EQ(ioc->active_ref.load(), 1);
  EXPECT_EQ(ioc->refcount.load(), 1);
  EXPECT_EQ(ioc->ioprio.load(), prio_value(kClassBe, 0));
  task_exit(child);
}

}  // namespace
}  // namespace iostack::task
