// Differential tests of IORING_REGISTER_RESIZE_RINGS: its checks and
// errnos, the params it writes back, the pending SQEs and CQEs it moves to
// the new rings (-EOVERFLOW when they do not fit), what the old mappings
// still show, and rings in the program's memory (NO_MMAP).
#include <poll.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::kRegisterResizeRings;
using iostack::uring::uapi::kSetupNoMmap;
using iostack::uring::uapi::kSetupNoSqarray;

constexpr unsigned kDefer = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

using Seq = std::function<std::vector<Cqe>(Ring&)>;

// Runs `seq` on a kernel ring and an iostack ring of the same setup.
void compare(const Seq& seq, unsigned entries, unsigned flags) {
  KernelBackend kb;
  IostackBackend ib;
  std::vector<Cqe> k, o;
  io_uring_params p{};
  p.flags = flags;
  {
    Ring r(&kb);
    const int fd = r.init(entries, p);
    ASSERT_GE(fd, 0) << "kernel: " << strerror(-fd);
    k = seq(r);
  }
  {
    Ring r(&ib);
    const int fd = r.init(entries, p);
    ASSERT_GE(fd, 0) << "iostack: " << strerror(-fd);
    o = seq(r);
  }
  EXPECT_EQ(k, o) << "kernel vs iostack";
  for (std::size_t i = 0; i < std::min(k.size(), o.size()); ++i)
    if (!(k[i] == o[i])) ADD_FAILURE() << "differs at " << i << ": " << k[i] << " vs " << o[i];
}

// A value to compare as a CQE.
Cqe val(std::uint64_t tag, std::int64_t v, std::uint32_t extra = 0) {
  return Cqe{tag, static_cast<std::int32_t>(v), extra};
}

void nop(Ring& r, std::uint64_t ud) {
  io_uring_sqe* s = r.sqe();
  ASSERT_NE(nullptr, s) << r.backend()->name() << " ud " << ud << " head "
                        << r.load(r.params().sq_off.head) << " entries " << r.params().sq_entries;
  s->opcode = IORING_OP_NOP;
  s->user_data = ud;
}

// The params a resize wrote back, as CQEs: every word of them.
void push_params(std::vector<Cqe>* out, std::uint64_t tag, const io_uring_params& p) {
  const auto* w = reinterpret_cast<const std::uint32_t*>(&p);
  for (std::size_t i = 0; i < sizeof(p) / 4; ++i) out->push_back(val(tag, w[i], i));
}

int resize(Ring& r, io_uring_params* p) { return r.reg(kRegisterResizeRings, p, 1); }

// 6.18 does not write sq_off.array on a resize (setup does): the new SQ
// array is where rings_size() puts it, after the CQEs, 64-byte aligned.
io_uring_params with_sq_array(io_uring_params p) {
  if (!(p.flags & kSetupNoSqarray)) {
    const std::uint32_t cqe = (p.flags & IORING_SETUP_CQE32) ? 32 : 16;
    std::uint32_t off = 64 + p.cq_entries * cqe;
    if (p.flags & IORING_SETUP_CQE32) off = 2 * (64 + p.cq_entries * 16);
    p.sq_off.array = (off + 63) & ~63u;
  }
  return p;
}

TEST(UringResizeDiff, ChecksAndErrnos) {
  SKIP_WITHOUT_KERNEL_URING();
  // Not a DEFER_TASKRUN ring.
  compare(
      [](Ring& r) {
        io_uring_params p{};
        p.sq_entries = 8;
        return std::vector<Cqe>{val(1, resize(r, &p))};
      },
      8, 0);
  compare(
      [](Ring& r) {
        std::vector<Cqe> out;
        io_uring_params p{};
        p.sq_entries = 8;
        out.push_back(val(1, r.reg(kRegisterResizeRings, nullptr, 1)));
        out.push_back(val(2, r.reg(kRegisterResizeRings, &p, 0)));
        out.push_back(val(3, r.reg(kRegisterResizeRings, &p, 2)));
        out.push_back(val(4, r.reg(kRegisterResizeRings, reinterpret_cast<void*>(8), 1)));
        const unsigned bad_flags[] = {IORING_SETUP_SQPOLL,
                                      IORING_SETUP_IOPOLL,
                                      IORING_SETUP_SINGLE_ISSUER,
                                      IORING_SETUP_DEFER_TASKRUN,
                                      IORING_SETUP_SQE128,
                                      IORING_SETUP_CQE32,
                                      kSetupNoSqarray,
                                      IORING_SETUP_R_DISABLED,
                                      1u << 31};
        for (unsigned f : bad_flags) {
          io_uring_params q{};
          q.sq_entries = 8;
          q.flags = f;
          out.push_back(val(5, resize(r, &q), f));
        }
        struct Case {
          unsigned sq, cq, flags;
        } cases[] = {{0, 0, 0},
                     {40000, 0, 0},
                     {40000, 0, IORING_SETUP_CLAMP},
                     {8, 4, IORING_SETUP_CQSIZE},
                     {8, 0, IORING_SETUP_CQSIZE},
                     {8, 100000, IORING_SETUP_CQSIZE},
                     {8, 100000, IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP},
                     {3, 9, IORING_SETUP_CQSIZE},
                     {1, 0, 0},
                     {16, 0, 0}};
        for (const Case& c : cases) {
          io_uring_params q{};
          q.sq_entries = c.sq;
          q.cq_entries = c.cq;
          q.flags = c.flags;
          // Garbage the kernel may or may not overwrite.
          q.sq_off.array = 0x1234;
          q.sq_off.resv1 = 7;
          q.cq_off.resv1 = 7;
          q.sq_off.resv2 = 0x5000;
          q.features = 0x77;
          q.sq_thread_idle = 5;
          q.resv[0] = 9;
          const int ret = resize(r, &q);
          out.push_back(val(6, ret, c.sq));
          if (ret == 0) push_params(&out, 7, q);
        }
        return out;
      },
      8, kDefer);
}

// Setup, like the resize, leaves sq_off.array as given when the ring has
// no SQ array (the fill of the offsets the two share does not write it).
TEST(UringResizeDiff, SetupLeavesSqArrayOffsetOfNoSqarrayRings) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (unsigned f : {0u, kSetupNoSqarray}) {
    io_uring_params pk{}, po{};
    pk.flags = po.flags = f;
    pk.sq_off.array = po.sq_off.array = 0x1234;
    const int k = kb.setup(8, &pk);
    const int o = ib.setup(8, &po);
    ASSERT_GE(k, 0);
    ASSERT_GE(o, 0);
    EXPECT_EQ(pk.sq_off.array, po.sq_off.array) << f;
    kb.close_ring(k);
    ib.close_ring(o);
  }
}

TEST(UringResizeDiff, AnotherTaskIsEexist) {
  SKIP_WITHOUT_KERNEL_URING();
  compare(
      [](Ring& r) {
        int ret = 0;
        std::thread t([&] {
          io_uring_params p{};
          p.sq_entries = 16;
          ret = resize(r, &p);
        });
        t.join();
        return std::vector<Cqe>{val(1, ret)};
      },
      8, kDefer);
}

// Pending CQEs move over; the program maps the new rings and reaps them.
TEST(UringResizeDiff, PendingCqesMoveOrOverflow) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f : {kDefer, kDefer | kSetupNoSqarray, kDefer | IORING_SETUP_CQE32,
                     kDefer | IORING_SETUP_SQE128}) {
    SCOPED_TRACE(f);
    compare(
        [](Ring& r) {
          std::vector<Cqe> out;
          // 8 SQ, 16 CQ entries; 12 CQEs posted (over the wrap), 6 left.
          for (unsigned i = 0; i < 6; ++i) nop(r, i);
          EXPECT_EQ(6, r.submit(6));
          for (const Cqe& c : r.reap()) out.push_back(c);
          for (unsigned i = 0; i < 6; ++i) nop(r, 10 + i);
          EXPECT_EQ(6, r.submit(6));
          for (unsigned i = 0; i < 6; ++i) nop(r, 20 + i);
          EXPECT_EQ(6, r.submit(6));
          Cqe c;
          for (int i = 0; i < 6; ++i) r.peek(&c);
          out.push_back(val(1, r.cq_ready()));
          // Too small for the 6 CQEs pending: nothing changes.
          io_uring_params p{};
          p.sq_entries = 2;
          p.cq_entries = 4;
          p.flags = IORING_SETUP_CQSIZE;
          out.push_back(val(2, resize(r, &p)));
          out.push_back(val(3, r.cq_ready()));
          // Grown: the 6 CQEs at their positions in the bigger ring.
          p = io_uring_params{};
          p.sq_entries = 32;
          const int ret = resize(r, &p);
          out.push_back(val(4, ret));
          if (ret) return out;
          push_params(&out, 5, p);
          char* old = r.remap(with_sq_array(p), true);
          EXPECT_TRUE(r.mapped());
          const io_uring_params& np = r.params();
          // The old mapping still reads: the old ring, as it was.
          const auto* ocq = reinterpret_cast<const std::uint32_t*>(old + np.cq_off.tail);
          const std::uint32_t old_tail = *ocq;
          out.push_back(val(6, r.cq_ready()));
          for (const Cqe& e : r.reap()) out.push_back(e);
          // The new ring works: 20 NOPs over its 32 SQ entries.
          for (unsigned i = 0; i < 20; ++i) nop(r, 100 + i);
          EXPECT_EQ(20, r.submit(20));
          for (const Cqe& e : r.reap()) out.push_back(e);
          out.push_back(val(7, *ocq - old_tail));  // the old ring saw none of it
          r.backend()->unmap(old, r.old_ring_bytes());
          // Shrunk again to where the 8 CQEs pending fit exactly.
          for (unsigned i = 0; i < 8; ++i) nop(r, 200 + i);
          EXPECT_EQ(8, r.submit(8));
          p = io_uring_params{};
          p.sq_entries = 4;
          p.cq_entries = 8;
          p.flags = IORING_SETUP_CQSIZE;
          out.push_back(val(8, resize(r, &p)));
          r.remap(with_sq_array(p), false);
          for (const Cqe& e : r.reap()) out.push_back(e);
          return out;
        },
        8, f);
  }
}

// SQEs published but not submitted move to the new ring (6.18 copies the
// SQEs of the slots head..tail, not the SQ array).
TEST(UringResizeDiff, PendingSqesMove) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f :
       {kDefer | kSetupNoSqarray, kDefer, kDefer | kSetupNoSqarray | IORING_SETUP_SQE128}) {
    SCOPED_TRACE(f);
    compare(
        [](Ring& r) {
          std::vector<Cqe> out;
          for (unsigned i = 0; i < 3; ++i) nop(r, i + 1);
          EXPECT_EQ(3, r.submit(3));
          for (const Cqe& c : r.reap()) out.push_back(c);
          for (unsigned i = 0; i < 3; ++i) nop(r, 10 + i);
          r.flush();  // published, not submitted
          io_uring_params p{};
          p.sq_entries = 2;
          out.push_back(val(1, resize(r, &p)));  // 3 pending do not fit
          p = io_uring_params{};
          p.sq_entries = 16;
          const int ret = resize(r, &p);
          out.push_back(val(2, ret));
          if (ret) return out;
          r.remap(with_sq_array(p), false);
          out.push_back(val(3, r.enter(3, 3, IORING_ENTER_GETEVENTS)));
          for (const Cqe& c : r.reap()) out.push_back(c);
          return out;
        },
        4, f);
  }
}

TEST(UringResizeDiff, NoMmapRingsMoveToNewMemory) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  Backend* backends[2] = {&kb, &ib};
  std::vector<Cqe> res[2];
  for (int b = 0; b < 2; ++b) {
    std::vector<Cqe>& out = res[b];
    Pages sqes(1), rings(1), sqes2(2), rings2(2);
    Ring r(backends[b]);
    io_uring_params p{};
    p.flags = kDefer | kSetupNoSqarray;
    ASSERT_GE(r.init_mem(8, p, sqes.p, rings.p), 0);
    for (unsigned i = 0; i < 5; ++i) nop(r, i);
    EXPECT_EQ(5, r.submit(5));
    // No addresses: the rings' region is checked first.
    io_uring_params q{};
    q.sq_entries = 64;
    out.push_back(val(1, resize(r, &q)));
    q = io_uring_params{};
    q.sq_entries = 64;
    q.cq_off.resv2 = reinterpret_cast<std::uintptr_t>(rings2.p);
    out.push_back(val(2, resize(r, &q)));  // the SQEs' address is missing
    q = io_uring_params{};
    q.sq_entries = 64;
    q.cq_off.resv2 = reinterpret_cast<std::uintptr_t>(rings2.p + 8);
    q.sq_off.resv2 = reinterpret_cast<std::uintptr_t>(sqes2.p);
    out.push_back(val(3, resize(r, &q)));  // not page aligned
    q.cq_off.resv2 = reinterpret_cast<std::uintptr_t>(rings2.p);
    const int ret = resize(r, &q);
    out.push_back(val(4, ret));
    if (ret == 0) {
      out.push_back(val(5, q.sq_entries, q.cq_entries));
      r.remap(q, false, sqes2.p, rings2.p);
      for (const Cqe& c : r.reap()) out.push_back(c);
      for (unsigned i = 0; i < 40; ++i) nop(r, 100 + i);
      EXPECT_EQ(40, r.submit(40));
      for (const Cqe& c : r.reap()) out.push_back(c);
    }
    r.exit();
  }
  EXPECT_EQ(res[0], res[1]);
}

// Mappings this process has (lines of /proc/self/maps).
std::size_t map_count() {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  std::size_t n = 0;
  for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
  fclose(f);
  return n;
}

// An iostack DEFER_TASKRUN ring resized `n` times between 32 and 128 SQ
// entries: 0, or the first failure.
int resize_back_and_forth(Ring& r, int n) {
  for (int i = 0; i < n; ++i) {
    io_uring_params q{};
    q.sq_entries = i % 2 ? 32 : 128;
    if (const int ret = resize(r, &q)) return ret;
  }
  return 0;
}

// The kernel frees the rings a resize replaced; iostack kept each one
// mapped until the ring went, so liburing's resize-rings test (32 <-> 128
// for 2.5 s) ran into vm.max_map_count and its mmap of the new rings failed.
TEST(UringResize, ReplacedRingsAreUnmapped) {
  IostackBackend ib;
  Ring r(&ib);
  io_uring_params p{};
  p.flags = kDefer;
  ASSERT_GE(r.init(8, p), 0);
  const std::size_t before = map_count();
  EXPECT_EQ(0, resize_back_and_forth(r, 2000));
  EXPECT_LE(map_count(), before + 4);
  r.exit();
}

// Another thread polling and mapping the ring while its submitter resizes
// it reads rings that are being replaced: they stay mapped while it does.
TEST(UringResize, PollAndMmapFromAnotherThreadDuringResizes) {
  IostackBackend ib;
  Ring r(&ib);
  io_uring_params p{};
  p.flags = kDefer;
  ASSERT_GE(r.init(8, p), 0);
  std::atomic<bool> done{false};
  std::atomic<int> bad_mask{0}, bad_map{0};
  std::thread poller([&] {
    while (!done.load(std::memory_order_relaxed)) {
      const int mask = iostack_io_uring_poll_mask(r.fd());
      if (!(mask & POLLOUT)) bad_mask.store(mask, std::memory_order_relaxed);
      void* m = iostack_io_uring_mmap(r.fd(), IORING_OFF_SQ_RING, 4096);
      if (IOSTACK_URING_IS_ERR(m)) {
        bad_map.store(static_cast<int>(reinterpret_cast<long>(m)), std::memory_order_relaxed);
        continue;
      }
      // The mapped rings are whole (an SQ ring mask of a live size).
      const std::uint32_t mask_word = *static_cast<volatile std::uint32_t*>(
          static_cast<void*>(static_cast<char*>(m) + r.params().sq_off.ring_mask));
      if (mask_word != 31 && mask_word != 127 && mask_word != 7) bad_map.store(1);
      iostack_io_uring_munmap(m, 4096);
    }
  });
  EXPECT_EQ(0, resize_back_and_forth(r, 3000));
  done.store(true);
  poller.join();
  EXPECT_EQ(0, bad_mask.load()) << "a poll of a ring with an empty SQ without POLLOUT";
  EXPECT_EQ(0, bad_map.load()) << "a mapping of the ring failed or showed no ring";
  r.exit();
}

}  // namespace
}  // namespace uring_test
