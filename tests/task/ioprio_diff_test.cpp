// Differential tests: the same ioprio_set/ioprio_get calls go to this
// machine's kernel (made by a forked caller process with the credentials
// under test, against forked target processes) and to iostack (made by a
// simulated task with the same credentials, against simulated tasks that
// mirror the targets' pids, uids, process groups, nice and policy). Every
// result and errno must match. Only forked children's priorities change.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "iostack/ioprio.h"
#include "kernel_procs.hpp"
#include "task/current.hpp"
#include "task/io_context.hpp"
#include "task/task.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task {
namespace {

using testing::Creds;
using testing::HeldProcs;
using testing::ProcInfo;
using testing::ProcSetup;
using testing::sys_ioprio_get;
using testing::sys_ioprio_set;

// Uids no other process uses, distinct per test process so that parallel
// runs cannot see each other's children.
uid_t uid_base() { return 200000 + static_cast<uid_t>(getpid() % 32768) * 4; }
uid_t peer_uid() { return uid_base(); }        // the caller's own uid
uid_t other_uid() { return uid_base() + 1; }   // another user
uid_t nosuch_uid() { return uid_base() + 3; }  // nobody has it

// Targets named symbolically, resolved against the processes of one run.
enum class Who {
  kZero,
  kCaller,
  kPeer,
  kOther,
  kOtherRt,
  kTestProc,
  kNoSuchPid,
  kNegative,
  kCallerPgrp,
  kOtherPgrp,
  kPeerAsPgrp,
  kPeerUid,
  kOtherUid,
  kNoSuchUid,
  kMinusOne,
};

// Sent to the caller child as numbers: it cannot compute them itself
// (uid_base() depends on the pid of the test process).
struct World {
  long test = 0, caller = 0, peer = 0, other = 0, other_rt = 0;
  long caller_pgrp = 0, other_pgrp = 0;
  long peer_uid = 0, other_uid = 0, nosuch_uid = 0;

  std::vector<long> pack() const {
    return {test,        caller,     peer,     other,     other_rt,
            caller_pgrp, other_pgrp, peer_uid, other_uid, nosuch_uid};
  }
  static World unpack(const std::vector<long>& v) {
    return World{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
  }
};

int resolve(Who w, const World& x) {
  switch (w) {
    case Who::kZero:
      return 0;
    case Who::kCaller:
      return static_cast<int>(x.caller);
    case Who::kPeer:
      return static_cast<int>(x.peer);
    case Who::kOther:
      return static_cast<int>(x.other);
    case Who::kOtherRt:
      return static_cast<int>(x.other_rt);
    case Who::kTestProc:
      return static_cast<int>(x.test);
    case Who::kNoSuchPid:
      return 99999999;  // above pid_max and every simulated pid
    case Who::kNegative:
      return -5;
    case Who::kCallerPgrp:
      return static_cast<int>(x.caller_pgrp);
    case Who::kOtherPgrp:
      return static_cast<int>(x.other_pgrp);
    case Who::kPeerAsPgrp:
      return static_cast<int>(x.peer);  // a pid leading no group
    case Who::kPeerUid:
      return static_cast<int>(x.peer_uid);
    case Who::kOtherUid:
      return static_cast<int>(x.other_uid);
    case Who::kNoSuchUid:
      return static_cast<int>(x.nosuch_uid);
    case Who::kMinusOne:
      return -1;
  }
  return 0;
}

const char* who_name(Who w) {
  static const char* const names[] = {
      "0",           "caller",      "peer",        "other-user", "other-user-rt", "test-process",
      "no-such-pid", "-5",          "caller-pgrp", "other-pgrp", "peer-as-pgrp",  "peer-uid",
      "other-uid",   "no-such-uid", "-1"};
  return names[static_cast<int>(w)];
}

struct Op {
  bool set;
  int which;
  Who who;
  int ioprio;
};

std::string describe(const Op& op) {
  char buf[96];
  if (op.set)
    std::snprintf(buf, sizeof buf, "ioprio_set(%d, %s, %#x)", op.which, who_name(op.who),
                  static_cast<unsigned>(op.ioprio));
  else
    std::snprintf(buf, sizeof buf, "ioprio_get(%d, %s)", op.which, who_name(op.who));
  return buf;
}

// Values across every class, level 0..7, "level 8", hints, and bits
// outside the 16 the kernel keeps.
const int kValues[] = {
    0x4000,     0x4001, 0x4002,
    0x4003,     0x4004, 0x4005,
    0x4006,     0x4007,
    0x4008,                      // BE "level 8": level 0 with hint 1
    0x2000,     0x2007, 0x200a,  // RT, RT with a hint
    0x6000,     0x6007, 0x7ff8,  // IDLE, any level, any hint
    0x0000,     0x0001, 0x0007,  // NONE: only level 0 is allowed
    0x0008,     0x000b,          // NONE with a hint, without / with a level
    0x8000,     0xa000, 0xc000,
    0xe000,      // classes 4..7
    0x5ff8 | 3,  // BE with the largest hint
    0x14002,    -1,     static_cast<int>(0xffff4003u),
    0x7fffffff,
};

// The calls for a caller with `creds`. Calls that could change processes
// outside this test (root-owned ones) are left out for callers that
// would be allowed to.
std::vector<Op> build_ops(const Creds& creds) {
  const bool mighty = creds.keep_root || (creds.caps & cap_bit(kCapSysNice)) != 0;
  const int P = 1, G = 2, U = 3;
  std::vector<Op> ops;
  auto set = [&](int which, Who who, int v) { ops.push_back({true, which, who, v}); };
  auto get = [&](int which, Who who) { ops.push_back({false, which, who, 0}); };

  for (int v : kValues) {
    set(P, Who::kZero, v);
    get(P, Who::kZero);
  }
  for (int v : {0x4004, 0x2000, 0x6000, 0x0000, 0x0001, 0xe000}) {
    for (Who w :
         {Who::kCaller, Who::kPeer, Who::kOther, Who::kOtherRt, Who::kNoSuchPid, Who::kNegative}) {
      set(P, w, v);
      get(P, w);
    }
    if (!mighty) set(P, Who::kTestProc, v);
    get(P, Who::kTestProc);
  }
  for (int which : {0, 4, -1, 1000}) {
    set(which, Who::kZero, 0x4004);
    set(which, Who::kZero, 0x2000);
    set(which, Who::kZero, 0xe000);
    get(which, Who::kZero);
  }

  get(G, Who::kZero);
  get(G, Who::kCallerPgrp);
  set(G, Who::kZero, 0x4006);
  get(G, Who::kZero);
  get(G, Who::kOtherPgrp);
  set(G, Who::kOtherPgrp, 0x4003);
  get(G, Who::kOtherPgrp);
  set(G, Who::kOtherPgrp, 0x0000);
  get(G, Who::kOtherPgrp);
  for (Who w : {Who::kNoSuchPid, Who::kNegative, Who::kPeerAsPgrp}) {
    set(G, w, 0x4001);
    get(G, w);
  }

  get(U, Who::kPeerUid);
  set(U, Who::kPeerUid, 0x6000);
  get(U, Who::kPeerUid);
  get(U, Who::kOtherUid);
  set(U, Who::kOtherUid, 0x4002);
  get(U, Who::kOtherUid);
  set(U, Who::kOtherUid, 0x2001);
  get(U, Who::kOtherUid);
  for (Who w : {Who::kNoSuchUid, Who::kMinusOne}) {
    set(U, w, 0x4000);
    get(U, w);
  }
  if (!creds.keep_root) get(U, Who::kZero);  // the caller's uid
  if (!mighty) set(U, Who::kZero, 0x4000);   // uid 0: refused on the first

  for (Who w : {Who::kCaller, Who::kPeer, Who::kOther, Who::kOtherRt}) get(P, w);
  return ops;
}

std::vector<long> run_ops(const std::vector<Op>& ops, const World& world, bool kernel) {
  std::vector<long> out;
  for (const Op& op : ops) {
    const int who = resolve(op.who, world);
    if (kernel)
      out.push_back(op.set ? sys_ioprio_set(op.which, who, op.ioprio)
                           : sys_ioprio_get(op.which, who));
    else
      out.push_back(op.set ? iostack_ioprio_set(op.which, who, op.ioprio)
                           : iostack_ioprio_get(op.which, who));
  }
  return out;
}

Task* mirror(TaskNamespace& ns, const ProcInfo& p) {
  TaskSpec spec;
  spec.ns = &ns;
  spec.pid = p.pid;
  spec.pgrp = p.pgrp;
  spec.uid = p.ruid;
  spec.euid = p.euid;
  spec.caps = p.caps;
  spec.nice = p.nice;
  spec.policy = p.policy;
  Task* t = task_create(spec);
  EXPECT_NE(t, nullptr) << "pid " << p.pid;
  return t;
}

// The test process itself, as its children see it.
ProcInfo self_info() {
  ProcInfo p;
  p.pid = getpid();
  p.pgrp = getpgrp();
  p.ruid = getuid();
  p.euid = geteuid();
  p.caps = testing::effective_caps();
  p.nice = getpriority(PRIO_PROCESS, 0);
  p.policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
  return p;
}

struct Variant {
  const char* name;
  Creds (*creds)();
};

class IoprioDiff : public ::testing::TestWithParam<Variant> {};

TEST_P(IoprioDiff, KernelAndIostackAgree) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the test forks processes owned by other users";
  const Creds creds = GetParam().creds();
  const std::vector<Op> ops = build_ops(creds);

  // Kernel side. The caller leads its own group; the peer (the caller's
  // uid, niced) joins it; two processes of another user form a second
  // group, one SCHED_IDLE, one SCHED_FIFO.
  HeldProcs procs;
  ProcSetup caller_setup;
  caller_setup.creds = creds;
  const ProcInfo caller_before =
      procs.spawn_caller(caller_setup, [&ops](const std::vector<long>& args) {
        return run_ops(ops, World::unpack(args), /*kernel=*/true);
      });
  ASSERT_TRUE(caller_before.ok) << "caller setup failed";

  const Creds peer_creds{false, peer_uid(), peer_uid(), 0};
  const Creds other_creds{false, other_uid(), other_uid(), 0};
  const ProcInfo peer = procs.spawn({caller_before.pgrp, 10, SCHED_OTHER, peer_creds});
  const ProcInfo other = procs.spawn({0, 5, SCHED_IDLE, other_creds});
  ASSERT_TRUE(peer.ok && other.ok) << "target setup failed";
  const ProcInfo other_rt = procs.spawn({other.pgrp, 0, SCHED_FIFO, other_creds});
  if (!other_rt.ok) GTEST_SKIP() << "the kernel refused SCHED_FIFO to a test child";

  const ProcInfo me = self_info();
  const World world{me.pid,       caller_before.pid,  peer.pid,   other.pid,
                    other_rt.pid, caller_before.pgrp, other.pgrp, peer_uid(),
                    other_uid(),  nosuch_uid()};
  ProcInfo caller;
  const std::vector<long> kernel = procs.run_caller(world.pack(), &caller);
  ASSERT_TRUE(caller.ok) << "the caller could not drop to the credentials under test";
  ASSERT_EQ(kernel.size(), ops.size());

  // iostack side: the same processes as simulated tasks, the calls made
  // through the C API by a thread running as the caller's mirror.
  TaskNamespace ns;
  Task* test_task = mirror(ns, me);
  if (const long raw = sys_ioprio_get(1, 0); raw > 0) {
    IoContext* ioc = alloc_io_context();
    ioc->ioprio = static_cast<std::uint16_t>(raw);
    test_task->io_context = ioc;
  }
  for (const ProcInfo* p : {&peer, &other, &other_rt}) mirror(ns, *p);
  Task* sim_caller = mirror(ns, caller);
  std::vector<long> sim;
  std::thread([&] {
    ASSERT_EQ(attach_current(sim_caller), 0);
    sim = run_ops(ops, world, /*kernel=*/false);
  }).join();
  ASSERT_EQ(sim.size(), ops.size());

  for (std::size_t i = 0; i < ops.size(); i++)
    EXPECT_EQ(sim[i], kernel[i]) << "call " << i << ": " << describe(ops[i]);
}

Creds root() { return {true, 0, 0, 0}; }
Creds unprivileged() { return {false, peer_uid(), peer_uid(), 0}; }
Creds cap_sys_nice() { return {false, peer_uid(), peer_uid(), cap_bit(kCapSysNice)}; }
Creds cap_sys_admin() { return {false, peer_uid(), peer_uid(), cap_bit(kCapSysAdmin)}; }
// Real uid of the peer, effective uid of the other user (a setuid program).
Creds setuid_other() { return {false, peer_uid(), other_uid(), 0}; }

INSTANTIATE_TEST_SUITE_P(Callers, IoprioDiff,
                         ::testing::Values(Variant{"Root", root},
                                           Variant{"Unprivileged", unprivileged},
                                           Variant{"CapSysNiceOnly", cap_sys_nice},
                                           Variant{"CapSysAdminOnly", cap_sys_admin},
                                           Variant{"EuidOfOtherUser", setuid_other}),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           return std::string(info.param.name);
                         });

// The test process's own thread through the C API with its real task:
// who 0 and its own tid. Restores the kernel priority it changes.
TEST(IoprioDiffSelf, OwnThreadAgreesAndIsRestored) {
  const long saved = sys_ioprio_get(1, 0);
  ASSERT_GE(saved, 0);
  std::thread([saved] {
    const long kernel_initial = sys_ioprio_get(1, 0);
    EXPECT_EQ(iostack_ioprio_get(IOPRIO_WHO_PROCESS, 0), kernel_initial);  // from the OS
    const int tid = current()->pid;
    for (int v : kValues) {
      for (int who : {0, tid}) {
        EXPECT_EQ(iostack_ioprio_set(IOPRIO_WHO_PROCESS, who, v), sys_ioprio_set(1, who, v))
            << "set " << std::hex << v;
        EXPECT_EQ(iostack_ioprio_get(IOPRIO_WHO_PROCESS, who), sys_ioprio_get(1, who))
            << "after " << std::hex << v;
      }
    }
    EXPECT_EQ(sys_ioprio_set(1, 0, static_cast<int>(saved)), 0);
  }).join();
  EXPECT_EQ(sys_ioprio_get(1, 0), saved);
}

}  // namespace
}  // namespace iostack::task
