// ioprio_set/ioprio_get on iostack's tasks.
#include <gtest/gtest.h>

#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/ioprio_syscalls.hpp"
#include "task/task_ioprio.hpp"
#include "task_fixture.hpp"

namespace iostack::task {
namespace {

using IoprioSyscalls = testing::TaskTest;

constexpr std::uint64_t kNice = cap_bit(kCapSysNice);
constexpr std::uint64_t kAdmin = cap_bit(kCapSysAdmin);

TEST_F(IoprioSyscalls, CheckCapFollowsTheClass) {
  Task* user = make(1000);
  Task* nice = make(1000, kNice);
  Task* admin = make(1000, kAdmin);
  EXPECT_EQ(ioprio_check_cap(user, prio_value(kClassRt, 0)), -EPERM);
  EXPECT_EQ(ioprio_check_cap(nice, prio_value(kClassRt, 0)), 0);
  EXPECT_EQ(ioprio_check_cap(admin, prio_value(kClassRt, 7)), 0);
  EXPECT_EQ(ioprio_check_cap(user, prio_value(kClassBe, 7, 1023)), 0);
  EXPECT_EQ(ioprio_check_cap(user, prio_value(kClassIdle, 7)), 0);
  EXPECT_EQ(ioprio_check_cap(user, 0), 0);
  EXPECT_EQ(ioprio_check_cap(user, 0x0001), -EINVAL);  // NONE with a level
  EXPECT_EQ(ioprio_check_cap(user, 0x0008), 0);        // NONE with a hint only
  for (int cls = 4; cls < 8; cls++) EXPECT_EQ(ioprio_check_cap(admin, cls << 13), -EINVAL);
}

TEST_F(IoprioSyscalls, ProcessSetAndGetOnSelfAndOthers) {
  Task* me = make(1000);
  Task* peer = make(1000);
  Task* stranger = make(2000);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, 0), 0);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 0, prio_value(kClassBe, 1)), 0);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, 0), prio_value(kClassBe, 1));
  EXPECT_EQ(ioprio_get(peer, kWhoProcess, me->pid), prio_value(kClassBe, 1));
  EXPECT_EQ(ioprio_set(me, kWhoProcess, peer->pid, prio_value(kClassIdle, 0)), 0);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, stranger->pid, prio_value(kClassIdle, 0)), -EPERM);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, stranger->pid), 0);  // reading is free
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 999, prio_value(kClassBe, 0)), -ESRCH);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, 999), -ESRCH);
}

TEST_F(IoprioSyscalls, EuidMatchOrCapSysNiceAllowsOthers) {
  Task* stranger = make(2000);
  TaskSpec spec;
  spec.ns = ns_.get();
  spec.uid = 1000;
  spec.euid = 2000;
  Task* setuid_caller = task_create(spec);
  EXPECT_EQ(ioprio_set(setuid_caller, kWhoProcess, stranger->pid, prio_value(kClassBe, 3)), 0);
  Task* nice = make(1000, kNice);
  EXPECT_EQ(ioprio_set(nice, kWhoProcess, stranger->pid, prio_value(kClassBe, 5)), 0);
  Task* admin = make(1000, kAdmin);
  EXPECT_EQ(ioprio_set(admin, kWhoProcess, stranger->pid, prio_value(kClassBe, 5)), -EPERM);
}

TEST_F(IoprioSyscalls, BadValueIsReportedBeforeBadWhich) {
  Task* me = make(1000);
  EXPECT_EQ(ioprio_set(me, 9, 0, prio_value(kClassBe, 0)), -EINVAL);
  EXPECT_EQ(ioprio_set(me, 9, 0, prio_value(kClassRt, 0)), -EPERM);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 999, 0xe000), -EINVAL);
  EXPECT_EQ(ioprio_get(me, 0, 0), -EINVAL);
  EXPECT_EQ(ioprio_get(me, 4, 0), -EINVAL);
}

TEST_F(IoprioSyscalls, PgrpGetReturnsTheBestEffectivePriority) {
  Task* leader = make(1000, 0, 0, SCHED_OTHER, 500);   // BE 4 by nice
  Task* idle = make(1000, 0, 0, SCHED_IDLE, 500);      // IDLE 4
  Task* niced = make(1000, 0, -20, SCHED_OTHER, 500);  // BE 0
  make(1000, 0, 0, SCHED_FIFO, 600);                   // other group: RT 4
  EXPECT_EQ(ioprio_get(leader, kWhoPgrp, 0), prio_value(kClassBe, 0));
  EXPECT_EQ(ioprio_get(leader, kWhoPgrp, 600), prio_value(kClassRt, 4));
  EXPECT_EQ(ioprio_set(idle, kWhoProcess, 0, prio_value(kClassIdle, 0)), 0);
  EXPECT_EQ(ioprio_set(niced, kWhoProcess, 0, prio_value(kClassBe, 6)), 0);
  EXPECT_EQ(ioprio_get(leader, kWhoPgrp, 500), prio_value(kClassBe, 4));
  EXPECT_EQ(ioprio_get(leader, kWhoPgrp, 777), -ESRCH);
  EXPECT_EQ(ioprio_get(leader, kWhoPgrp, leader->pid + 1000), -ESRCH);
}

TEST_F(IoprioSyscalls, PgrpSetReachesEveryMemberOrStopsAtTheFirstRefusal) {
  Task* a = make(1000, 0, 0, SCHED_OTHER, 500);
  Task* b = make(1000, 0, 0, SCHED_OTHER, 500);
  EXPECT_EQ(ioprio_set(a, kWhoPgrp, 0, prio_value(kClassBe, 2)), 0);
  EXPECT_EQ(task_raw_ioprio(a), prio_value(kClassBe, 2));
  EXPECT_EQ(task_raw_ioprio(b), prio_value(kClassBe, 2));
  make(2000, 0, 0, SCHED_OTHER, 500);
  EXPECT_EQ(ioprio_set(a, kWhoPgrp, 500, prio_value(kClassBe, 3)), -EPERM);
  EXPECT_EQ(ioprio_set(a, kWhoPgrp, 501, prio_value(kClassBe, 3)), -ESRCH);
}

TEST_F(IoprioSyscalls, UserTargetsRealUids) {
  Task* me = make(1000);
  Task* mine = make(1000, 0, 10);
  Task* other = make(2000, 0, -10);
  EXPECT_EQ(ioprio_set(me, kWhoUser, 1000, prio_value(kClassIdle, 0)), 0);
  EXPECT_EQ(task_raw_ioprio(mine), prio_value(kClassIdle, 0));
  EXPECT_EQ(task_raw_ioprio(other), 0);
  EXPECT_EQ(ioprio_set(me, kWhoUser, 2000, prio_value(kClassBe, 0)), -EPERM);
  EXPECT_EQ(ioprio_set(me, kWhoUser, 3000, prio_value(kClassBe, 0)), -ESRCH);
  EXPECT_EQ(ioprio_set(me, kWhoUser, -1, prio_value(kClassBe, 0)), -ESRCH);

  EXPECT_EQ(ioprio_get(me, kWhoUser, 1000), prio_value(kClassIdle, 0));
  EXPECT_EQ(ioprio_get(me, kWhoUser, 2000), prio_value(kClassBe, 2));
  EXPECT_EQ(ioprio_get(me, kWhoUser, 3000), -ESRCH);
  EXPECT_EQ(ioprio_get(me, kWhoUser, -1), -ESRCH);
}

TEST_F(IoprioSyscalls, UserZeroIsRootForSetButTheCallerForGet) {
  Task* me = make(1000);
  EXPECT_EQ(ioprio_get(me, kWhoUser, 0), prio_value(kClassBe, 4));
  EXPECT_EQ(ioprio_set(me, kWhoUser, 0, prio_value(kClassBe, 0)), -ESRCH);  // no root task
  Task* root = make(0, kNice | kAdmin);
  EXPECT_EQ(ioprio_set(me, kWhoUser, 0, prio_value(kClassBe, 0)), -EPERM);
  EXPECT_EQ(ioprio_set(root, kWhoUser, 0, prio_value(kClassBe, 1)), 0);
  EXPECT_EQ(task_raw_ioprio(root), prio_value(kClassBe, 1));
  EXPECT_EQ(task_raw_ioprio(me), 0);
}

TEST_F(IoprioSyscalls, SetKeepsSixteenBitsOfTheArgument) {
  Task* me = make(1000);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 0, 0x10000 | 0x4002), 0);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, 0), 0x4002);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 0, -1), -EINVAL);
}

TEST_F(IoprioSyscalls, AllocationFailureIsEnomem) {
  Task* me = make(1000);
  inject_ioc_alloc_failures(1);
  EXPECT_EQ(ioprio_set(me, kWhoProcess, 0, prio_value(kClassBe, 0)), -ENOMEM);
  EXPECT_EQ(ioprio_get(me, kWhoProcess, 0), 0);
}

}  // namespace
}  // namespace iostack::task
