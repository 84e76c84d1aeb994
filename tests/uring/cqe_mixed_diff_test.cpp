// Differential tests of IORING_SETUP_CQE_MIXED (6.18): a CQ ring of 16-byte
// entries where a 32-byte CQE (IORING_CQE_F_32: NOP with IORING_NOP_CQE32)
// takes two, never across the ring's end: there the kernel first posts a
// dummy entry with IORING_CQE_F_SKIP. The CQ is read entry by entry, so the
// dummies, the extra words and the order are compared with the kernel's.
#include <sys/mman.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::kCqeF32;
using iostack::uring::uapi::kCqeFSkip;
using iostack::uring::uapi::kSetupCqeMixed;
using iostack::uring::uapi::kSetupNoSqarray;

constexpr unsigned kNopTw = 1u << 4;
constexpr unsigned kNopCqe32 = 1u << 5;  // IORING_NOP_CQE32
constexpr unsigned kRegisterResizeRings = 33;

// One CQ entry as read: a CQE, its extra words when F_32 (else zeros), and
// the slot it was found in.
struct MixedCqe {
  Cqe c;
  std::uint64_t big[2];
  std::uint32_t slot;
  bool operator==(const MixedCqe& o) const {
    return c == o.c && big[0] == o.big[0] && big[1] == o.big[1] && slot == o.slot;
  }
};
std::ostream& operator<<(std::ostream& os, const MixedCqe& m) {
  return os << "@" << m.slot << m.c << "+{" << std::hex << m.big[0] << "," << m.big[1] << std::dec
            << "}";
}

// Reads every entry between head and tail (F_SKIP dummies included) and
// moves the head past them.
std::vector<MixedCqe> reap_mixed(Ring& r) {
  std::vector<MixedCqe> v;
  const io_uring_params& p = r.params();
  const auto* cqes = reinterpret_cast<const io_uring_cqe*>(&r.u32(p.cq_off.cqes));
  std::uint32_t head = r.load(p.cq_off.head);
  const std::uint32_t tail = r.load(p.cq_off.tail);
  while (head != tail) {
    const std::uint32_t slot = head & (p.cq_entries - 1);
    const io_uring_cqe* c = &cqes[slot];
    MixedCqe m{{c->user_data, c->res, c->flags}, {0, 0}, slot};
    if (c->flags & kCqeF32) {
      // The second half is the next entry: never past the ring's end.
      EXPECT_LT(slot + 1, p.cq_entries) << "32-byte CQE across the wrap";
      const auto* words = reinterpret_cast<const std::uint64_t*>(c + 1);
      m.big[0] = words[0];
      m.big[1] = words[1];
      head += 2;
    } else {
      head += 1;
    }
    v.push_back(m);
  }
  r.store(p.cq_off.head, head);
  return v;
}

// Reaps until `n` CQEs other than dummies have come, entering to wait (at
// most 5 s each time, so a missing CQE fails the comparison).
std::vector<MixedCqe> wait_mixed(Ring& r, unsigned n) {
  std::vector<MixedCqe> v;
  unsigned real = 0;
  for (;;) {
    for (const MixedCqe& m : reap_mixed(r)) {
      v.push_back(m);
      if (!(m.c.flags & kCqeFSkip)) ++real;
    }
    if (real >= n) break;
    __kernel_timespec ts{5, 0};
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
    const int ret = r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    if (ret < 0 && ret != -EINTR) break;
  }
  return v;
}

void nop(Ring& r, std::uint64_t ud, unsigned nop_flags, std::uint64_t off = 0,
         std::uint64_t addr = 0) {
  io_uring_sqe* s = r.sqe();
  ASSERT_NE(nullptr, s);
  s->opcode = IORING_OP_NOP;
  s->fd = -1;
  s->off = off;
  s->addr = addr;
  s->rw_flags = static_cast<int>(nop_flags);
  s->user_data = ud;
}

using MixedSeq = std::function<std::vector<MixedCqe>(Ring&)>;

void compare_mixed(const MixedSeq& seq, unsigned entries, io_uring_params params) {
  KernelBackend kb;
  IostackBackend ib;
  std::vector<MixedCqe> k, o;
  {
    Ring r(&kb);
    const int fd = r.init(entries, params);
    if (fd == -EINVAL) GTEST_SKIP() << "this kernel has no IORING_SETUP_CQE_MIXED";
    ASSERT_GE(fd, 0) << "kernel: " << strerror(-fd);
    k = seq(r);
  }
  {
    Ring r(&ib);
    const int fd = r.init(entries, params);
    ASSERT_GE(fd, 0) << "iostack: " << strerror(-fd);
    o = seq(r);
  }
  EXPECT_EQ(k, o) << "kernel CQ entries vs iostack's";
}

io_uring_params mixed(unsigned flags, unsigned cq_entries) {
  io_uring_params p{};
  p.flags = kSetupCqeMixed | flags | IORING_SETUP_CQSIZE;
  p.cq_entries = cq_entries;
  return p;
}

TEST(UringCqeMixedDiff, SetupAnswersAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const unsigned flags[] = {
      kSetupCqeMixed,
      kSetupCqeMixed | IORING_SETUP_CQE32,
      kSetupCqeMixed | IORING_SETUP_SQE128,
      kSetupCqeMixed | kSetupNoSqarray,
      kSetupCqeMixed | IORING_SETUP_CQSIZE,
      kSetupCqeMixed | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  const unsigned entries[] = {1, 2, 3, 8, 100, 4096};
  const unsigned cq_entries[] = {1, 2, 3, 16};
  for (unsigned f : flags) {
    for (unsigned e : entries) {
      for (unsigned cq : cq_entries) {
        SCOPED_TRACE("flags " + std::to_string(f) + " entries " + std::to_string(e) + " cq " +
                     std::to_string(cq));
        io_uring_params pk{}, po{};
        pk.flags = po.flags = f;
        pk.cq_entries = po.cq_entries = cq;
        const int k = kb.setup(e, &pk);
        const int o = ib.setup(e, &po);
        if (k == -EINVAL && f == kSetupCqeMixed && e == 1)
          GTEST_SKIP() << "this kernel has no IORING_SETUP_CQE_MIXED";
        if (k < 0) {
          EXPECT_EQ(k, o);
          if (o >= 0) ib.close_ring(o);
          continue;
        }
        ASSERT_GE(o, 0) << strerror(-o);
        EXPECT_EQ(pk.sq_entries, po.sq_entries);
        EXPECT_EQ(pk.cq_entries, po.cq_entries);
        EXPECT_EQ(0, std::memcmp(&pk.sq_off, &po.sq_off, sizeof(pk.sq_off)));
        EXPECT_EQ(0, std::memcmp(&pk.cq_off, &po.cq_off, sizeof(pk.cq_off)));
        kb.close_ring(k);
        ib.close_ring(o);
      }
    }
  }
}

// Plain and 32-byte CQEs in patterns that bring a 32-byte one to the last
// entry of the ring in different rounds: the dummy entry, then the CQE at 0.
TEST(UringCqeMixedDiff, BigCqesSkipTheLastEntryBeforeTheWrap) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f : {0u, static_cast<unsigned>(IORING_SETUP_SQE128), kSetupNoSqarray,
                     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN}) {
    SCOPED_TRACE(f);
    compare_mixed(
        [](Ring& r) {
          std::vector<MixedCqe> out;
          // Patterns of (32-byte?) per batch; 8 CQ entries.
          const std::vector<std::vector<bool>> batches = {
              {false, false, false, true, true},  // 1+1+1+2+2 = 7 entries
              {true},                             // slot 7: dummy, then 0-1
              {false, true, true, false},         // 2..7
              {true, false, false},               // 0-1, 2, 3
              {false, false, false, true},        // 4,5,6, then dummy at 7, 0-1
              {true, true, true}};
          std::uint64_t ud = 1;
          for (const auto& b : batches) {
            for (bool big : b) {
              if (big)
                nop(r, ud, kNopCqe32, 0xa0000 + ud, 0xb0000 + ud);
              else
                nop(r, ud, 0, 0xdead, 0xbeef);  // no words posted
              ++ud;
            }
            EXPECT_EQ(static_cast<int>(b.size()), r.submit(0));
            const std::vector<MixedCqe> c = wait_mixed(r, b.size());
            out.insert(out.end(), c.begin(), c.end());
          }
          // Task-work completions and injected results keep their words too
          // (last: the kernel posts task-work completions after inline ones).
          nop(r, 90, kNopCqe32 | IORING_NOP_INJECT_RESULT, 3, 4);
          nop(r, 91, kNopCqe32 | kNopTw, 1, 2);
          EXPECT_EQ(2, r.submit(0));
          const std::vector<MixedCqe> c = wait_mixed(r, 2);
          out.insert(out.end(), c.begin(), c.end());
          return out;
        },
        8, mixed(f, 8));
  }
}

// A full CQ: 32-byte CQEs go to the overflow list with their words and come
// back in order, each flush placing dummies where a wrap needs one. The
// dummy written before a 32-byte CQE that then does not fit stays.
// (Not compared: a 16-byte CQE posted while that 32-byte one waits in the
// overflow list, which 6.18 writes into the dummy's entry of the full ring,
// from the stale CQE cache of io_cqe_cache_refill's failed refill; iostack
// queues it behind the overflowed CQE.)
TEST(UringCqeMixedDiff, OverflowedBigCqesKeepTheirWordsAndOrder) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f : {0u, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN}) {
    SCOPED_TRACE(f);
    compare_mixed(
        [](Ring& r) {
          std::vector<MixedCqe> out;
          auto note = [&out](std::uint64_t tag, std::int32_t v) {
            out.push_back(MixedCqe{{tag, v, 0}, {0, 0}, 0});
          };
          // 4 CQ entries: three plain CQEs, then a 32-byte one at the last
          // entry (a dummy there, no room for two), then two more 32-byte.
          for (std::uint64_t ud = 1; ud <= 3; ++ud) nop(r, ud, 0);
          nop(r, 4, kNopCqe32, 0x11, 0x22);
          note(1000, r.submit(0));
          nop(r, 5, kNopCqe32, 0x33, 0x44);
          nop(r, 6, kNopCqe32, 0x55, 0x66);
          note(1001, r.submit(0));
          note(1002, static_cast<std::int32_t>(r.sq_flags() & IORING_SQ_CQ_OVERFLOW));
          note(1003, static_cast<std::int32_t>(r.cq_overflow()));
          note(1004, static_cast<std::int32_t>(r.cq_ready()));
          const std::vector<MixedCqe> c = wait_mixed(r, 6);
          out.insert(out.end(), c.begin(), c.end());
          note(1005, static_cast<std::int32_t>(r.sq_flags() & IORING_SQ_CQ_OVERFLOW));
          // Drained: the ring takes both sizes again.
          nop(r, 7, 0);
          nop(r, 8, kNopCqe32, 0x77, 0x88);
          nop(r, 9, 0);
          note(1006, r.submit(0));
          const std::vector<MixedCqe> d = wait_mixed(r, 3);
          out.insert(out.end(), d.begin(), d.end());
          return out;
        },
        4, mixed(f, 4));
  }
}

// The smallest ring: two entries hold one 32-byte CQE or two plain ones.
TEST(UringCqeMixedDiff, TwoEntryRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_mixed(
      [](Ring& r) {
        std::vector<MixedCqe> out;
        for (int round = 0; round < 3; ++round) {
          nop(r, 10 * round + 1, 0);
          nop(r, 10 * round + 2, kNopCqe32, round, ~0ull);
          const int ret = r.submit(0);
          out.push_back(MixedCqe{{0, ret, 0}, {0, 0}, 0});
          const std::vector<MixedCqe> c = wait_mixed(r, 2);
          out.insert(out.end(), c.begin(), c.end());
        }
        return out;
      },
      2, mixed(0, 2));
}

// A resize keeps the mixed CQ (COPY_FLAGS), and the CQEs not yet reaped.
TEST(UringCqeMixedDiff, ResizeKeepsTheMixedRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_mixed(
      [](Ring& r) {
        std::vector<MixedCqe> out;
        nop(r, 1, kNopCqe32, 7, 8);
        nop(r, 2, 0);
        EXPECT_EQ(2, r.submit(0));
        // Task work (DEFER_TASKRUN) posts at the next wait.
        EXPECT_GE(r.enter(0, 0, IORING_ENTER_GETEVENTS), 0);
        io_uring_params np{};
        np.sq_entries = 8;
        np.cq_entries = 32;
        np.flags = IORING_SETUP_CQSIZE;
        const int ret = r.reg(kRegisterResizeRings, &np, 1);
        out.push_back(MixedCqe{{0, ret, 0}, {0, 0}, 0});
        if (ret < 0) return out;
        out.push_back(
            MixedCqe{{1, static_cast<std::int32_t>(np.flags & kSetupCqeMixed), 0}, {0, 0}, 0});
        r.remap(np, false);
        std::vector<MixedCqe> c = wait_mixed(r, 2);
        out.insert(out.end(), c.begin(), c.end());
        for (std::uint64_t i = 0; i < 6; ++i) nop(r, 10 + i, (i % 3) ? 0 : kNopCqe32, i, i);
        EXPECT_EQ(6, r.submit(0));
        c = wait_mixed(r, 6);
        out.insert(out.end(), c.begin(), c.end());
        return out;
      },
      4, mixed(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, 8));
}

}  // namespace
}  // namespace uring_test
