// The task of the calling thread and its exit.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "iostack/ioprio.h"
#include "task/current.hpp"
#include "task/fork.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/ioprio_syscalls.hpp"
#include "task/task.hpp"
#include "task/task_ioprio.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task {
namespace {

pid_t gettid_() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool registered(pid_t pid) {
  TaskNamespace& ns = init_task_ns();
  core::SharedLockGuard g(ns.mutex());
  return ns.lookup(pid) != nullptr;
}

TEST(Current, MirrorsTheCallingThread) {
  std::thread([] {
    Task* t = current();
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t, current());
    EXPECT_EQ(t, current_if_bound());
    EXPECT_EQ(t->pid, gettid_());
    EXPECT_EQ(t->tgid, getpid());
    EXPECT_EQ(t->pgrp.load(), getpgrp());
    EXPECT_EQ(t->uid.load(), getuid());
    EXPECT_EQ(t->euid.load(), geteuid());
    EXPECT_EQ(t->nice.load(), getpriority(PRIO_PROCESS, static_cast<id_t>(gettid_())));
    EXPECT_EQ(t->policy.load(), sched_getscheduler(0) & ~SCHED_RESET_ON_FORK);
    // This machine runs the tests as root with CAP_SYS_ADMIN and CAP_SYS_NICE.
    if (geteuid() == 0) {
      EXPECT_TRUE(capable(t, kCapSysAdmin));
      EXPECT_TRUE(capable(t, kCapSysNice));
    }
    EXPECT_TRUE(registered(t->pid));
  }).join();
}

TEST(Current, TaskEndsWithItsThread) {
  pid_t tid = 0;
  IoContext* ioc = nullptr;
  std::thread([&] {
    tid = current()->pid;
    ASSERT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, prio_value(kClassBe, 2)), 0);
    ioc = current()->io_context.load();
    get_io_context(ioc);  // watch it past the thread's end
  }).join();
  EXPECT_FALSE(registered(tid));
  EXPECT_EQ(ioc->nr_tasks.load(), 0);
  EXPECT_EQ(ioc->active_ref.load(), 0);
  EXPECT_EQ(ioc->refcount.load(), 1);
  put_io_context(ioc);
}

TEST(Current, RefreshPicksUpNiceChanges) {
  std::thread([] {
    Task* t = current();
    const int before = t->nice.load();
    ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid_()), 10), 0);
    EXPECT_EQ(t->nice.load(), before);
    refresh_current();
    EXPECT_EQ(t->nice.load(), 10);
    if (t->io_context.load() == nullptr) {  // not started under ionice
      EXPECT_EQ(current_ioprio(), prio_value(kClassBe, 6));
    }
  }).join();
}

TEST(Current, ManyThreadsAtOnceGetDistinctTasks) {
  constexpr int kThreads = 32;
  std::latch start(kThreads);
  std::latch recorded(kThreads);  // no task ends before all are counted
  std::mutex mu;
  std::set<Task*> tasks;
  std::set<pid_t> pids;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Task* t = nullptr;
      // The thread's priority as the kernel has it (0 unless under ionice).
      const long kernel_prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
      for (int k = 0; k < 100; k++) {
        Task* again = current();
        if (t != nullptr) {
          EXPECT_EQ(again, t);
        }
        t = again;
        EXPECT_EQ(iostack_ioprio_get(IOPRIO_WHO_PROCESS, t->pid), kernel_prio);
      }
      EXPECT_EQ(t->pid, gettid_());
      {
        std::lock_guard<std::mutex> g(mu);
        tasks.insert(t);
        pids.insert(t->pid);
      }
      recorded.arrive_and_wait();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(pids.size(), static_cast<std::size_t>(kThreads));
  for (pid_t pid : pids) EXPECT_FALSE(registered(pid));
}

TEST(Current, CloneIoPoolSharesOneIoContext) {
  constexpr int kWorkers = 4;
  TaskNamespace ns;
  TaskSpec spec;
  spec.ns = &ns;
  spec.uid = 1000;
  spec.euid = 1000;
  Task* parent = task_create(spec);
  ASSERT_EQ(ioprio_set(parent, kWhoProcess, 0, prio_value(kClassIdle, 0)), 0);
  IoContext* ioc = parent->io_context.load();

  std::vector<Task*> children;
  for (int i = 0; i < kWorkers; i++) children.push_back(task_clone(parent, CLONE_IO));
  EXPECT_EQ(ioc->nr_tasks.load(), kWorkers + 1);

  std::latch attached(kWorkers);
  std::latch release(1);
  std::vector<std::thread> pool;
  for (Task* child : children) {
    pool.emplace_back([&, child] {
      ASSERT_EQ(attach_current(child), 0);
      EXPECT_EQ(current(), child);
      EXPECT_EQ(current()->io_context.load(), ioc);
      EXPECT_EQ(current_ioprio(), prio_value(kClassIdle, 0));
      attached.count_down();
      release.wait();
    });
  }
  attached.wait();
  EXPECT_EQ(attach_current(children[0]), -EBUSY);  // already some thread's

  // One worker changes the pool's priority; everyone sees it.
  ASSERT_EQ(ioprio_set(parent, kWhoProcess, children[1]->pid, prio_value(kClassBe, 1)), 0);
  EXPECT_EQ(task_effective_ioprio(parent), prio_value(kClassBe, 1));
  release.count_down();
  for (auto& th : pool) th.join();

  // The workers' tasks ended with their threads.
  EXPECT_EQ(ioc->nr_tasks.load(), 1);
  EXPECT_EQ(ioc->active_ref.load(), 1);
  EXPECT_EQ(ioc->refcount.load(), 1);
  EXPECT_EQ(ns.size(), 1u);
}

TEST(Current, ClonesWithoutCloneIoGetTheirOwnCopy) {
  TaskNamespace ns;
  TaskSpec spec;
  spec.ns = &ns;
  Task* parent = task_create(spec);
  ASSERT_EQ(ioprio_set(parent, kWhoProcess, 0, prio_value(kClassBe, 0)), 0);
  Task* child = task_clone(parent, 0);
  std::thread([child, parent] {
    ASSERT_EQ(attach_current(child), 0);
    EXPECT_NE(current()->io_context.load(), parent->io_context.load());
    EXPECT_EQ(current_ioprio(), prio_value(kClassBe, 0));
    EXPECT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, prio_value(kClassBe, 7)), 0);
  }).join();
  EXPECT_EQ(task_raw_ioprio(parent), prio_value(kClassBe, 0));
}

TEST(Current, PlugSlotIsPerThread) {
  void** mine = current_plug_slot();
  EXPECT_EQ(mine, &current()->plug);
  void** theirs = nullptr;
  std::thread([&] { theirs = current_plug_slot(); }).join();
  EXPECT_NE(mine, theirs);
}

TEST(Current, SwitchRunsSimulatedTasksWithoutOwningThem) {
  TaskNamespace ns;
  TaskSpec spec;
  spec.ns = &ns;
  spec.policy = SCHED_IDLE;
  Task* a = task_create(spec);
  spec.policy = SCHED_FIFO;
  Task* b = task_create(spec);
  std::thread([&] {
    Task* own = current();
    EXPECT_EQ(switch_current(a), own);
    EXPECT_EQ(current_ioprio(), prio_value(kClassIdle, 4));
    EXPECT_EQ(switch_current(b), a);
    EXPECT_EQ(current_ioprio(), prio_value(kClassRt, 4));
    EXPECT_EQ(current_plug_slot(), &b->plug);
    EXPECT_EQ(switch_current(nullptr), b);
    EXPECT_EQ(current(), own);
  }).join();
  EXPECT_EQ(ns.size(), 2u);  // the thread's end did not take them along
}

TEST(Current, IoContextIsCreatedOnFirstUse) {
  // A thread started under ionice begins with one; the rest holds anyway.
  std::thread([] {
    Task* t = current();
    IoContext* ioc = current_io_context();
    ASSERT_NE(ioc, nullptr);
    EXPECT_EQ(t->io_context.load(), ioc);
    EXPECT_EQ(current_io_context(), ioc);
    EXPECT_EQ(ioc->refcount.load(), 1);  // the task's own reference
  }).join();
  std::thread([] {
    if (current()->io_context.load() != nullptr) return;
    inject_ioc_alloc_failures(1);
    EXPECT_EQ(current_io_context(), nullptr);
  }).join();
}

TEST(Current, CApiNeverTouchesErrno) {
  errno = 1234;
  EXPECT_EQ(iostack_ioprio_get(9, 0), -EINVAL);
  EXPECT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, 0, 0xe000), -EINVAL);
  EXPECT_EQ(errno, 1234);
}

}  // namespace
}  // namespace iostack::task
