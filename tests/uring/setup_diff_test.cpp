// Differential test of io_uring_setup: every validation rule, the sizes and
// the ring offsets, kernel against iostack on this machine.
#include <fcntl.h>
#include <sys/sysinfo.h>

#include <functional>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

struct SetupCase {
  const char* name;
  unsigned entries;
  std::function<void(io_uring_params&)> edit;
  // Optional: a ring of the same backend whose fd goes into wq_fd.
  bool attach_to_ring = false;
  bool attach_to_sqpoll_ring = false;
};

struct SetupResult {
  int ret = 0;
  io_uring_params p{};
};

SetupResult run_case(Backend& b, const SetupCase& c) {
  SetupResult r;
  io_uring_params helper_p{};
  int helper = -1;
  if (c.attach_to_ring || c.attach_to_sqpoll_ring) {
    if (c.attach_to_sqpoll_ring) {
      helper_p.flags = IORING_SETUP_SQPOLL;
      helper_p.sq_thread_idle = 10;
    }
    helper = b.setup(4, &helper_p);
  }
  c.edit(r.p);
  if (helper >= 0) r.p.wq_fd = static_cast<unsigned>(helper);
  io_uring_params before = r.p;
  r.ret = b.setup(c.entries, &r.p);
  if (r.ret >= 0) {
    b.close_ring(r.ret);
  } else {
    // A failed setup leaves the caller's struct alone.
    EXPECT_EQ(0, std::memcmp(&before, &r.p, sizeof(before))) << b.name() << " " << c.name;
  }
  if (helper >= 0) b.close_ring(helper);
  return r;
}

int closed_fd() {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

std::vector<SetupCase> cases() {
  static int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int bad_fd = closed_fd();
  const unsigned ncpu = static_cast<unsigned>(get_nprocs_conf());
  using P = io_uring_params;
  return {
      {"plain_8", 8, [](P&) {}},
      {"resv0", 8, [](P& p) { p.resv[0] = 1; }},
      {"resv2", 8, [](P& p) { p.resv[2] = 7; }},
      {"unknown_flag", 8, [](P& p) { p.flags = 1u << 31; }},
      {"entries_0", 0, [](P&) {}},
      {"entries_1", 1, [](P&) {}},
      {"entries_3", 3, [](P&) {}},
      {"entries_4096", 4096, [](P&) {}},
      {"entries_32768", 32768, [](P&) {}},
      {"entries_32769", 32769, [](P&) {}},
      {"entries_32769_clamp", 32769, [](P& p) { p.flags = IORING_SETUP_CLAMP; }},
      {"entries_huge_clamp", 1u << 30, [](P& p) { p.flags = IORING_SETUP_CLAMP; }},
      {"cqsize_0", 8, [](P& p) { p.flags = IORING_SETUP_CQSIZE; }},
      {"cqsize_3", 2,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 3;
       }},
      {"cqsize_100", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 100;
       }},
      {"cqsize_lt_sq", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 4;
       }},
      {"cqsize_eq_sq", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 8;
       }},
      {"cqsize_65536", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 65536;
       }},
      {"cqsize_65537", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE;
         p.cq_entries = 65537;
       }},
      {"cqsize_65537_clamp", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
         p.cq_entries = 65537;
       }},
      {"clamp_without_cqsize_ignores_cq", 8,
       [](P& p) {
         p.flags = IORING_SETUP_CLAMP;
         p.cq_entries = 3;
       }},
      {"sq_aff_without_sqpoll", 8, [](P& p) { p.flags = IORING_SETUP_SQ_AFF; }},
      {"sqpoll", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL;
         p.sq_thread_idle = 10;
       }},
      {"sqpoll_aff_cpu0", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
         p.sq_thread_idle = 10;
       }},
      {"sqpoll_aff_cpu_out_of_range", 8,
       [ncpu](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
         p.sq_thread_cpu = ncpu;
       }},
      {"sqpoll_aff_cpu_4096", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
         p.sq_thread_cpu = 4096;
       }},
      {"attach_wq_closed_fd", 8,
       [bad_fd](P& p) {
         p.flags = IORING_SETUP_ATTACH_WQ;
         p.wq_fd = static_cast<unsigned>(bad_fd);
       }},
      {"attach_wq_not_uring", 8,
       [](P& p) {
         p.flags = IORING_SETUP_ATTACH_WQ;
         p.wq_fd = static_cast<unsigned>(devnull);
       }},
      {"attach_wq_ring", 8, [](P& p) { p.flags = IORING_SETUP_ATTACH_WQ; }, true},
      {"sqpoll_attach_wq_non_sqpoll_ring", 8,
       [](P& p) { p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ; }, true},
      {"sqpoll_attach_wq_sqpoll_ring", 8,
       [](P& p) { p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ; }, false, true},
      {"sqpoll_attach_wq_closed_fd", 8,
       [bad_fd](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ;
         p.wq_fd = static_cast<unsigned>(bad_fd);
       }},
      {"r_disabled", 8, [](P& p) { p.flags = IORING_SETUP_R_DISABLED; }},
      {"submit_all", 8, [](P& p) { p.flags = IORING_SETUP_SUBMIT_ALL; }},
      {"iopoll", 8, [](P& p) { p.flags = IORING_SETUP_IOPOLL; }},
      {"coop_taskrun", 8, [](P& p) { p.flags = IORING_SETUP_COOP_TASKRUN; }},
      {"taskrun_flag_alone", 8, [](P& p) { p.flags = IORING_SETUP_TASKRUN_FLAG; }},
      {"taskrun_flag_coop", 8,
       [](P& p) { p.flags = IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_COOP_TASKRUN; }},
      {"single_issuer", 8, [](P& p) { p.flags = IORING_SETUP_SINGLE_ISSUER; }},
      {"defer_without_single_issuer", 8, [](P& p) { p.flags = IORING_SETUP_DEFER_TASKRUN; }},
      {"defer_single_issuer", 8,
       [](P& p) { p.flags = IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER; }},
      {"defer_taskrun_flag", 8,
       [](P& p) {
         p.flags =
             IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_TASKRUN_FLAG;
       }},
      {"sqpoll_coop", 8, [](P& p) { p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_COOP_TASKRUN; }},
      {"sqpoll_taskrun_flag", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_COOP_TASKRUN;
       }},
      {"sqpoll_defer", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
       }},
      {"sqpoll_single_issuer", 8,
       [](P& p) {
         p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER;
         p.sq_thread_idle = 5;
       }},
      {"iopoll_sqpoll", 8, [](P& p) { p.flags = IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL; }},
      {"everything_compatible", 64,
       [](P& p) {
         p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL |
                   IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_R_DISABLED;
         p.cq_entries = 1000;
       }},
  };
}

class SetupDiff : public ::testing::TestWithParam<int> {};

TEST(UringSetupDiff, EveryRuleMatchesTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (const SetupCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const SetupResult k = run_case(kb, c);
    const SetupResult o = run_case(ib, c);
    if (k.ret < 0) {
      EXPECT_EQ(k.ret, o.ret) << c.name << ": kernel " << strerror(-k.ret) << ", iostack "
                              << (o.ret < 0 ? strerror(-o.ret) : "success");
      continue;
    }
    ASSERT_GE(o.ret, 0) << c.name << ": iostack " << strerror(-o.ret);
    EXPECT_EQ(k.p.sq_entries, o.p.sq_entries);
    EXPECT_EQ(k.p.cq_entries, o.p.cq_entries);
    EXPECT_EQ(k.p.flags, o.p.flags);
    EXPECT_EQ(0, std::memcmp(&k.p.sq_off, &o.p.sq_off, sizeof(k.p.sq_off)))
        << "array " << k.p.sq_off.array << " vs " << o.p.sq_off.array;
    EXPECT_EQ(0, std::memcmp(&k.p.cq_off, &o.p.cq_off, sizeof(k.p.cq_off)));
    EXPECT_EQ(k.p.sq_thread_cpu, o.p.sq_thread_cpu);
    EXPECT_EQ(k.p.sq_thread_idle, o.p.sq_thread_idle);
    // Features: only what iostack implements, all of which the kernel has.
    EXPECT_EQ(0u, o.p.features & ~k.p.features)
        << std::hex << "iostack " << o.p.features << " kernel " << k.p.features;
  }
}

TEST(UringSetupDiff, OffsetsMatchKernelSpec) {
  IostackBackend ib;
  io_uring_params p{};
  const int fd = ib.setup(8, &p);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(0u, p.sq_off.head);
  EXPECT_EQ(4u, p.sq_off.tail);
  EXPECT_EQ(8u, p.cq_off.head);
  EXPECT_EQ(12u, p.cq_off.tail);
  EXPECT_EQ(16u, p.sq_off.ring_mask);
  EXPECT_EQ(20u, p.cq_off.ring_mask);
  EXPECT_EQ(24u, p.sq_off.ring_entries);
  EXPECT_EQ(28u, p.cq_off.ring_entries);
  EXPECT_EQ(32u, p.sq_off.dropped);
  EXPECT_EQ(36u, p.sq_off.flags);
  EXPECT_EQ(40u, p.cq_off.flags);
  EXPECT_EQ(44u, p.cq_off.overflow);
  EXPECT_EQ(64u, p.cq_off.cqes);
  EXPECT_EQ(320u, p.sq_off.array);
  ib.close_ring(fd);
}

TEST(UringSetupDiff, NullParamsIsEfault) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  EXPECT_EQ(kb.setup(8, nullptr), ib.setup(8, nullptr));
  EXPECT_EQ(-EFAULT, ib.setup(8, nullptr));
}

TEST(UringSetupDiff, RingMemoryHoldsMasksAndEntries) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 64;
    ASSERT_GE(r.init(16, p), 0) << b->name();
    EXPECT_EQ(15u, r.load(r.params().sq_off.ring_mask)) << b->name();
    EXPECT_EQ(16u, r.load(r.params().sq_off.ring_entries)) << b->name();
    EXPECT_EQ(63u, r.load(r.params().cq_off.ring_mask)) << b->name();
    EXPECT_EQ(64u, r.load(r.params().cq_off.ring_entries)) << b->name();
    EXPECT_EQ(0u, r.sq_flags()) << b->name();
  }
}

TEST(UringSetupDiff, RingFdBehavesLikeTheKernels) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    io_uring_params p{};
    const int fd = b->setup(8, &p);
    ASSERT_GE(fd, 0);
    char buf[8];
    errno = 0;
    EXPECT_EQ(-1, read(fd, buf, sizeof(buf))) << b->name();
    EXPECT_EQ(EINVAL, errno) << b->name();
    EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC) << b->name();
    EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE) << b->name();
    b->close_ring(fd);
  }
}

TEST(UringSetupDiff, RDisabledRingRefusesEnterUntilEnabled) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_R_DISABLED;
    ASSERT_GE(r.init(4, p), 0);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    r.flush();
    EXPECT_EQ(-EBADFD, r.enter(1, 0, 0)) << b->name();
    EXPECT_EQ(0, r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0)) << b->name();
    EXPECT_EQ(-EBADFD, r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0)) << b->name();
    EXPECT_EQ(1, r.enter(1, 1, IORING_ENTER_GETEVENTS)) << b->name();
    auto cqes = r.reap();
    ASSERT_EQ(1u, cqes.size()) << b->name();
    EXPECT_EQ(0, cqes[0].res);
  }
}

TEST(UringSetupDiff, EnterAndRegisterOnWrongFds) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int bad = closed_fd();
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    EXPECT_EQ(-EOPNOTSUPP, b->enter(devnull, 0, 0, 0, nullptr, 0)) << b->name();
    EXPECT_EQ(-EBADF, b->enter(bad, 0, 0, 0, nullptr, 0)) << b->name();
    EXPECT_EQ(-EOPNOTSUPP, b->reg(devnull, IORING_REGISTER_PROBE, nullptr, 0)) << b->name();
    io_uring_params p{};
    const int fd = b->setup(4, &p);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(-EINVAL, b->enter(fd, 0, 0, 1u << 30, nullptr, 0)) << b->name();
    EXPECT_EQ(-EINVAL, b->reg(fd, 250, nullptr, 0)) << b->name();
    b->close_ring(fd);
  }
  ::close(devnull);
}

}  // namespace
}  // namespace uring_test
