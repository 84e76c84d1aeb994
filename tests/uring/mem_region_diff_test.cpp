// Differential tests of IORING_REGISTER_MEM_REGION (6.13) with registered
// wait arguments (IORING_MEM_REGION_REG_WAIT_ARG, IORING_ENTER_EXT_ARG_REG),
// and of IORING_REGISTER_NAPI / IORING_UNREGISTER_NAPI: return values and
// what comes back in the structures, against the kernel's.
#include <signal.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;

constexpr unsigned kEnterExtArgReg = 1u << 6;  // IORING_ENTER_EXT_ARG_REG

struct Desc {
  std::string name;
  uapi::RegionDesc rd;
  std::uint64_t reg_flags;
};

// One registration on a fresh ring (disabled or not): the result, and the
// descriptor as it came back.
struct Answer {
  int ret;
  std::uint64_t mmap_offset;
  bool operator==(const Answer& o) const = default;
};
std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << "{ret=" << a.ret << " mmap_offset=0x" << std::hex << a.mmap_offset << std::dec
            << "}";
}

Answer register_once(Backend* b, const Desc& d, bool disabled, unsigned nr = 1) {
  Ring r(b);
  io_uring_params p{};
  if (disabled) p.flags |= IORING_SETUP_R_DISABLED;
  const int fd = r.init(4, p);
  if (fd < 0) return {fd, 0};
  uapi::RegionDesc rd = d.rd;
  uapi::MemRegionReg reg{};
  reg.region_uptr = reinterpret_cast<std::uintptr_t>(&rd);
  reg.flags = d.reg_flags;
  const int ret = r.reg(uapi::kRegisterMemRegion, &reg, nr);
  return {ret, rd.mmap_offset};
}

TEST(UringMemRegionDiff, RegistrationAnswersAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  Pages user(4);
  Pages ro(1, PROT_READ);
  ASSERT_TRUE(user.p && ro.p);
  const auto ua = reinterpret_cast<std::uint64_t>(user.p);
  const auto roa = reinterpret_cast<std::uint64_t>(ro.p);
  auto kernel_mem = [](std::uint64_t size) {
    uapi::RegionDesc rd{};
    rd.size = size;
    return rd;
  };
  auto user_mem = [](std::uint64_t addr, std::uint64_t size) {
    uapi::RegionDesc rd{};
    rd.user_addr = addr;
    rd.size = size;
    rd.flags = uapi::kMemRegionTypeUser;
    return rd;
  };
  std::vector<Desc> cases = {
      {"kernel memory, one page", kernel_mem(4096), 0},
      {"kernel memory, wait args", kernel_mem(8192), uapi::kMemRegionRegWaitArg},
      {"user memory", user_mem(ua, 4 * 4096), 0},
      {"user memory, wait args", user_mem(ua, 4096), uapi::kMemRegionRegWaitArg},
      {"unknown reg flag", kernel_mem(4096), 2},
      {"size 0", kernel_mem(0), 0},
      {"size not page aligned", kernel_mem(100), 0},
      {"size of 2^43 bytes", kernel_mem(1ull << 43), 0},
      {"user address 0", user_mem(0, 4096), 0},
      {"address without TYPE_USER", kernel_mem(4096), 0},
      {"user address not aligned", user_mem(ua + 8, 4096), 0},
      {"user range wraps", user_mem(~std::uint64_t{4095}, 8192), 0},
      {"user memory read-only", user_mem(roa, 4096), 0},
      {"user memory not mapped", user_mem(ua, 64 * 4096), 0},
  };
  cases[9].rd.user_addr = ua;
  Desc d = {"unknown region flag", kernel_mem(4096), 0};
  d.rd.flags = 2;
  cases.push_back(d);
  d = {"id set", kernel_mem(4096), 0};
  d.rd.id = 1;
  cases.push_back(d);
  d = {"mmap_offset set", kernel_mem(4096), 0};
  d.rd.mmap_offset = uapi::kMapOffParamRegion;
  cases.push_back(d);
  d = {"region resv set", kernel_mem(4096), 0};
  d.rd.resv[3] = 1;
  cases.push_back(d);
  for (const Desc& c : cases) {
    for (bool disabled : {false, true}) {
      SCOPED_TRACE(c.name + (disabled ? " (disabled ring)" : ""));
      const Answer k = register_once(&kb, c, disabled);
      if (k.ret == -EINVAL && c.name == "kernel memory, one page")
        GTEST_SKIP() << "this kernel has no IORING_REGISTER_MEM_REGION";
      EXPECT_EQ(k, register_once(&ib, c, disabled));
    }
  }
  // nr_args must be 1; a region descriptor that cannot be read.
  for (unsigned nr : {0u, 2u}) {
    SCOPED_TRACE(nr);
    EXPECT_EQ(register_once(&kb, cases[0], false, nr), register_once(&ib, cases[0], false, nr));
  }
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    Ring r(b);
    ASSERT_GE(r.init(4), 0);
    uapi::MemRegionReg reg{};
    reg.region_uptr = 8;
    EXPECT_EQ(-EFAULT, r.reg(uapi::kRegisterMemRegion, &reg, 1)) << b->name();
    reg.resv[0] = 1;
    EXPECT_EQ(-EFAULT, r.reg(uapi::kRegisterMemRegion, &reg, 1)) << b->name();
    EXPECT_EQ(-EINVAL, r.reg(uapi::kRegisterMemRegion, nullptr, 1)) << b->name();
  }
}

// One region per ring: a second is -EBUSY. The engine's memory maps at
// IORING_MAP_OFF_PARAM_REGION, zeroed and shared with the ring; the
// program's own does not map, nor does a region that is not there.
TEST(UringMemRegionDiff, OneRegionThatMapsWhenTheRingMadeIt) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    Ring r(b);
    ASSERT_GE(r.init(4), 0);
    EXPECT_EQ(nullptr, b->map(r.fd(), uapi::kMapOffParamRegion, 4096));
    uapi::RegionDesc rd{};
    rd.size = 2 * 4096;
    uapi::MemRegionReg reg{};
    reg.region_uptr = reinterpret_cast<std::uintptr_t>(&rd);
    const int ret = r.reg(uapi::kRegisterMemRegion, &reg, 1);
    if (ret == -EINVAL && b == &kb) GTEST_SKIP() << "no IORING_REGISTER_MEM_REGION";
    ASSERT_EQ(0, ret);
    EXPECT_EQ(uapi::kMapOffParamRegion, rd.mmap_offset);
    auto* m = static_cast<unsigned char*>(b->map(r.fd(), uapi::kMapOffParamRegion, 2 * 4096));
    ASSERT_NE(nullptr, m);
    bool zero = true;
    for (int i = 0; i < 2 * 4096; ++i) zero &= m[i] == 0;
    EXPECT_TRUE(zero);
    // A second mapping shows what the first wrote.
    m[4096 + 7] = 0x5a;
    auto* m2 = static_cast<unsigned char*>(b->map(r.fd(), uapi::kMapOffParamRegion, 2 * 4096));
    ASSERT_NE(nullptr, m2);
    EXPECT_EQ(0x5a, m2[4096 + 7]);
    b->unmap(m2, 2 * 4096);
    b->unmap(m, 2 * 4096);
    rd = uapi::RegionDesc{};
    rd.size = 4096;
    EXPECT_EQ(-EBUSY, r.reg(uapi::kRegisterMemRegion, &reg, 1));

    // The program's memory: registered, never mapped through the ring.
    Ring u(b);
    ASSERT_GE(u.init(4), 0);
    Pages mem(1);
    rd = uapi::RegionDesc{};
    rd.size = 4096;
    rd.user_addr = reinterpret_cast<std::uintptr_t>(mem.p);
    rd.flags = uapi::kMemRegionTypeUser;
    ASSERT_EQ(0, u.reg(uapi::kRegisterMemRegion, &reg, 1));
    EXPECT_EQ(0u, rd.mmap_offset);
    EXPECT_EQ(nullptr, b->map(u.fd(), uapi::kMapOffParamRegion, 4096));
  }
}

// What io_uring_enter answers for an EXT_ARG_REG wait: one row per entry
// of the region (or offset/size asked for), on a ring with a region of
// `pages` pages of wait arguments (0: none registered).
struct WaitCase {
  std::string name;
  std::uintptr_t offset;
  std::size_t argsz;
  uapi::RegWait w;
  bool submit_nop;
};

std::vector<int> run_waits(Backend* b, bool user_memory, unsigned pages,
                           const std::vector<WaitCase>& cases) {
  std::vector<int> out;
  Ring r(b);
  io_uring_params p{};
  p.flags = IORING_SETUP_R_DISABLED;
  const int fd = r.init(4, p);
  if (fd < 0) return {fd};
  Pages mem(pages ? pages : 1);
  unsigned char* region = nullptr;
  if (pages) {
    uapi::RegionDesc rd{};
    rd.size = pages * 4096;
    if (user_memory) {
      rd.user_addr = reinterpret_cast<std::uintptr_t>(mem.p);
      rd.flags = uapi::kMemRegionTypeUser;
    }
    uapi::MemRegionReg reg{};
    reg.region_uptr = reinterpret_cast<std::uintptr_t>(&rd);
    reg.flags = uapi::kMemRegionRegWaitArg;
    const int ret = r.reg(uapi::kRegisterMemRegion, &reg, 1);
    if (ret) return {1000, ret};
    region = user_memory
                 ? reinterpret_cast<unsigned char*>(mem.p)
                 : static_cast<unsigned char*>(b->map(fd, uapi::kMapOffParamRegion, pages * 4096));
    if (!region) return {1001};
  }
  out.push_back(r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
  // With the ring enabled a region with wait arguments is refused.
  {
    uapi::RegionDesc rd{};
    rd.size = 4096;
    uapi::MemRegionReg reg{};
    reg.region_uptr = reinterpret_cast<std::uintptr_t>(&rd);
    reg.flags = uapi::kMemRegionRegWaitArg;
    out.push_back(r.reg(uapi::kRegisterMemRegion, &reg, 1));
  }
  for (const WaitCase& c : cases) {
    if (region && c.offset + sizeof(c.w) <= pages * 4096)
      std::memcpy(region + c.offset, &c.w, sizeof(c.w));
    if (c.submit_nop) {
      io_uring_sqe* s = r.sqe();
      s->opcode = IORING_OP_NOP;
      s->user_data = 42;
    }
    const unsigned n = r.flush();
    const int ret = r.enter(n, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | kEnterExtArgReg,
                            reinterpret_cast<const void*>(c.offset), c.argsz);
    out.push_back(ret);
    out.push_back(static_cast<int>(r.reap().size()));
  }
  if (region && !user_memory) b->unmap(region, pages * 4096);
  return out;
}

TEST(UringMemRegionDiff, RegisteredWaitArgumentsAnswerAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  auto timed = [](long nsec, std::uint32_t flags = uapi::kRegWaitTs) {
    uapi::RegWait w{};
    w.ts.tv_nsec = nsec;
    w.flags = flags;
    return w;
  };
  sigset_t none;
  sigemptyset(&none);
  uapi::RegWait masked = timed(1000);
  masked.sigmask = reinterpret_cast<std::uintptr_t>(&none);
  masked.sigmask_sz = 8;
  uapi::RegWait bad_mask_size = masked;
  bad_mask_size.sigmask_sz = 4;
  uapi::RegWait min_wait = timed(2000000);
  min_wait.min_wait_usec = 1000;
  const std::vector<WaitCase> cases = {
      {"a NOP completes the wait", 0, 64, timed(1000000000), true},
      {"nothing comes: the timeout", 64, 64, timed(1000), false},
      {"entry at the end of the region", 4096 - 64, 64, timed(1000), false},
      {"past the region", 4096 - 32, 64, timed(1000), false},
      {"offset not long aligned", 4, 64, timed(1000), false},
      {"argsz of io_uring_getevents_arg", 0, 24, timed(1000), false},
      {"argsz 32", 0, 32, timed(1000), false},
      {"unknown entry flag", 128, 64, timed(1000, 2 | uapi::kRegWaitTs), false},
      {"no timeout flag: a NOP completes it", 192, 64, timed(0, 0), true},
      {"with a signal mask", 256, 64, masked, false},
      {"signal mask of the wrong size", 320, 64, bad_mask_size, false},
      {"min wait then the timeout", 384, 64, min_wait, false},
      {"a NOP within the min wait", 448, 64, min_wait, true},
  };
  for (bool user_memory : {false, true}) {
    SCOPED_TRACE(user_memory ? "user memory" : "kernel memory");
    const std::vector<int> k = run_waits(&kb, user_memory, 1, cases);
    if (k.size() == 2 && k[0] == 1000 && k[1] == -EINVAL)
      GTEST_SKIP() << "this kernel refuses registered wait arguments";
    EXPECT_EQ(k, run_waits(&ib, user_memory, 1, cases));
  }
  // Nothing registered: every offset is past the end.
  SCOPED_TRACE("no region");
  EXPECT_EQ(run_waits(&kb, false, 0, cases), run_waits(&ib, false, 0, cases));
  // An IOPOLL ring's wait takes no registered argument.
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_IOPOLL;
    ASSERT_GE(r.init(4, p), 0);
    EXPECT_EQ(
        -EINVAL,
        r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | kEnterExtArgReg, nullptr, 64))
        << b->name();
  }
}

// IORING_REGISTER_NAPI answers with the settings it found, then applies
// its opcode; IORING_UNREGISTER_NAPI answers with them and clears them.
TEST(UringNapiDiff, RegisterAndUnregisterAnswerAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  struct Step {
    bool unregister;
    uapi::Napi napi;
    bool null_arg;
    unsigned nr;
  };
  auto reg = [](std::uint8_t opcode, std::uint32_t param, std::uint32_t poll = 0,
                std::uint8_t prefer = 0) {
    uapi::Napi n{};
    n.opcode = opcode;
    n.op_param = param;
    n.busy_poll_to = poll;
    n.prefer_busy_poll = prefer;
    return Step{false, n, false, 1};
  };
  Step bad_pad = reg(0, 0);
  bad_pad.napi.pad[1] = 1;
  Step bad_resv = reg(0, 0);
  bad_resv.napi.resv = 1;
  const std::vector<Step> steps = {
      reg(1, 5000),         // static add before any registration
      reg(0, 0, 50, 1),     // dynamic tracking
      reg(0, 1, 20000, 3),  // static tracking, a long busy poll
      reg(1, 1),            // an id that is a CPU number
      reg(1, 100000),       // a NAPI id
      reg(1, 100000),       // again
      reg(2, 100001),       // not in the list
      reg(2, 100000),       // removed
      reg(3, 0),            // unknown opcode
      reg(0, 7),            // unknown tracking mode
      bad_pad,
      bad_resv,
      Step{false, {}, true, 1},   // null argument
      Step{false, {}, false, 0},  // nr_args 0
      Step{true, {}, false, 1},   // unregister, answering the settings
      Step{true, {}, true, 1},    // unregister with no argument
      Step{true, {}, false, 2},   // nr_args 2
      reg(1, 100000),             // static add after unregistering
      reg(0, 1, 7),
  };
  std::vector<std::pair<int, uapi::Napi>> res[2];
  Backend* backends[2] = {&kb, &ib};
  for (int b = 0; b < 2; ++b) {
    Ring r(backends[b]);
    ASSERT_GE(r.init(4), 0);
    for (const Step& s : steps) {
      uapi::Napi n = s.napi;
      const int ret = r.reg(s.unregister ? uapi::kUnregisterNapi : uapi::kRegisterNapi,
                            s.null_arg ? nullptr : &n, s.nr);
      res[b].push_back({ret, n});
    }
  }
  if (res[0][1].first == -EOPNOTSUPP) GTEST_SKIP() << "this kernel has no NAPI busy polling";
  ASSERT_EQ(res[0].size(), res[1].size());
  for (std::size_t i = 0; i < res[0].size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    EXPECT_EQ(res[0][i].first, res[1][i].first);
    EXPECT_EQ(0, std::memcmp(&res[0][i].second, &res[1][i].second, sizeof(uapi::Napi)))
        << "busy_poll_to " << res[0][i].second.busy_poll_to << " vs "
        << res[1][i].second.busy_poll_to << ", prefer " << int(res[0][i].second.prefer_busy_poll)
        << " vs " << int(res[1][i].second.prefer_busy_poll) << ", op_param "
        << res[0][i].second.op_param << " vs " << res[1][i].second.op_param;
  }
}

}  // namespace
}  // namespace uring_test
