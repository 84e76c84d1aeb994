// Differential tests of rings with big entries: IORING_SETUP_SQE128
// (128-byte SQEs) and IORING_SETUP_CQE32 (32-byte CQEs with big_cqe[2]).
// The sizes and offsets setup returns, where SQEs are read and CQEs written,
// which CQEs carry extra words (NOP with IORING_NOP_CQE32) and which have
// zeros, and overflowed CQEs keeping their 32 bytes.
#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::kSetupNoMmap;
using iostack::uring::uapi::kSetupNoSqarray;

constexpr unsigned kNopFile = 1u << 1;
constexpr unsigned kNopTw = 1u << 4;
constexpr unsigned kNopCqe32 = 1u << 5;  // IORING_NOP_CQE32

// A CQE with its big_cqe words (zeros on a ring without CQE32).
struct BigCqe {
  Cqe c;
  std::uint64_t big[2];
  bool operator==(const BigCqe& o) const {
    return c == o.c && big[0] == o.big[0] && big[1] == o.big[1];
  }
};
std::ostream& operator<<(std::ostream& os, const BigCqe& b) {
  return os << b.c << "+{" << std::hex << b.big[0] << "," << b.big[1] << std::dec << "}";
}

// Waits for `n` CQEs, with their big words.
std::vector<BigCqe> wait_big(Ring& r, unsigned n) {
  std::vector<BigCqe> v;
  while (v.size() < n) {
    BigCqe b;
    if (r.peek(&b.c, b.big)) {
      v.push_back(b);
      continue;
    }
    const int ret = r.enter(0, 1, IORING_ENTER_GETEVENTS);
    if (ret < 0 && ret != -EINTR) break;
  }
  return v;
}

void nop(Ring& r, std::uint64_t ud, unsigned nop_flags, std::uint64_t off = 0,
         std::uint64_t addr = 0, unsigned len = 0, int fd = -1, std::uint8_t sqe_flags = 0) {
  io_uring_sqe* s = r.sqe();
  ASSERT_NE(nullptr, s);
  s->opcode = IORING_OP_NOP;
  s->fd = fd;
  s->off = off;
  s->addr = addr;
  s->len = len;
  s->rw_flags = static_cast<int>(nop_flags);
  s->user_data = ud;
  s->flags = sqe_flags;
}

using BigSeq = std::function<std::vector<BigCqe>(Ring&)>;

// Runs `seq` on a kernel ring and an iostack ring of the same setup.
void compare_big(const BigSeq& seq, unsigned entries, io_uring_params params) {
  KernelBackend kb;
  IostackBackend ib;
  std::vector<BigCqe> k, o;
  {
    Ring r(&kb);
    const int fd = r.init(entries, params);
    ASSERT_GE(fd, 0) << "kernel: " << strerror(-fd);
    k = seq(r);
  }
  {
    Ring r(&ib);
    const int fd = r.init(entries, params);
    ASSERT_GE(fd, 0) << "iostack: " << strerror(-fd);
    o = seq(r);
  }
  EXPECT_EQ(k, o) << "kernel CQEs vs iostack CQEs";
}

io_uring_params with_flags(unsigned flags, unsigned cq_entries = 0) {
  io_uring_params p{};
  p.flags = flags;
  if (cq_entries) {
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
  }
  return p;
}

TEST(UringBigEntriesDiff, SetupReturnsTheKernelsSizesAndOffsets) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const unsigned sizes[] = {IORING_SETUP_SQE128, IORING_SETUP_CQE32,
                            IORING_SETUP_SQE128 | IORING_SETUP_CQE32};
  const unsigned extra[] = {0, kSetupNoSqarray, IORING_SETUP_CQSIZE, IORING_SETUP_CLAMP,
                            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  const unsigned entries[] = {1, 2, 3, 8, 64, 100, 1000, 4096, 32768, 40000};
  for (unsigned f : sizes) {
    for (unsigned x : extra) {
      for (unsigned e : entries) {
        const std::string name =
            "flags 0x" + std::to_string(f | x) + " entries " + std::to_string(e);
        SCOPED_TRACE(name);
        io_uring_params pk{}, po{};
        pk.flags = po.flags = f | x;
        pk.cq_entries = po.cq_entries = 4 * e + 1;
        const int k = kb.setup(e, &pk);
        const int o = ib.setup(e, &po);
        if (k < 0) {
          EXPECT_EQ(k, o);
          if (o >= 0) ib.close_ring(o);
          continue;
        }
        ASSERT_GE(o, 0) << strerror(-o);
        EXPECT_EQ(pk.sq_entries, po.sq_entries);
        EXPECT_EQ(pk.cq_entries, po.cq_entries);
        EXPECT_EQ(pk.flags, po.flags);
        EXPECT_EQ(0, std::memcmp(&pk.sq_off, &po.sq_off, sizeof(pk.sq_off)))
            << "array " << pk.sq_off.array << " vs " << po.sq_off.array;
        EXPECT_EQ(0, std::memcmp(&pk.cq_off, &po.cq_off, sizeof(pk.cq_off)));
        EXPECT_EQ(0u, po.features & ~pk.features);
        // The whole of both regions maps, and no more than the kernel's.
        const std::size_t cqe = 16u << ((f & IORING_SETUP_CQE32) ? 1 : 0);
        const std::size_t sqe = 64u << ((f & IORING_SETUP_SQE128) ? 1 : 0);
        const std::size_t rings = (x & kSetupNoSqarray) ? po.cq_off.cqes + po.cq_entries * cqe
                                                        : po.sq_off.array + po.sq_entries * 4u;
        void* m = ib.map(o, IORING_OFF_SQ_RING, rings);
        EXPECT_NE(nullptr, m);
        if (m) ib.unmap(m, rings);
        m = ib.map(o, IORING_OFF_SQES, po.sq_entries * sqe);
        EXPECT_NE(nullptr, m);
        if (m) ib.unmap(m, po.sq_entries * sqe);
        kb.close_ring(k);
        ib.close_ring(o);
      }
    }
  }
}

TEST(UringBigEntriesDiff, NopCqe32PostsOffAndAddrOthersPostZeros) {
  SKIP_WITHOUT_KERNEL_URING();
  const unsigned setups[] = {
      IORING_SETUP_CQE32, IORING_SETUP_CQE32 | IORING_SETUP_SQE128,
      IORING_SETUP_CQE32 | kSetupNoSqarray,
      IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  for (unsigned f : setups) {
    SCOPED_TRACE(f);
    compare_big(
        [](Ring& r) {
          std::vector<BigCqe> out;
          // Rounds over the same CQ slots: big words of one round must not
          // show through in the next round's plain CQEs.
          for (int round = 0; round < 4; ++round) {
            const std::uint64_t b = 100 * round;
            if (round % 2 == 0) {
              nop(r, b + 1, kNopCqe32, 0x1111 + b, 0x2222 + b);
              nop(r, b + 2, kNopCqe32 | IORING_NOP_INJECT_RESULT, ~0ull, 7, 5);
              nop(r, b + 3, kNopCqe32 | kNopFile, 5, 6, 0, 999);  // -EBADF, words still posted
              // Last: the kernel posts task-work completions after the inline ones.
              nop(r, b + 4, kNopCqe32 | kNopTw, 3, 4);
            } else {
              nop(r, b + 1, 0, 0x1111, 0x2222);
              nop(r, b + 2, IORING_NOP_INJECT_RESULT, 1, 2, static_cast<unsigned>(-5));
              // A failed link: the NOP after it is never issued.
              nop(r, b + 3, IORING_NOP_INJECT_RESULT, 0, 0, static_cast<unsigned>(-22), -1,
                  IOSQE_IO_LINK);
              nop(r, b + 4, kNopCqe32, 9, 9);
            }
            EXPECT_EQ(4, r.submit(0));
            const std::vector<BigCqe> c = wait_big(r, 4);
            out.insert(out.end(), c.begin(), c.end());
          }
          return out;
        },
        4, with_flags(f, 4));
  }
}

TEST(UringBigEntriesDiff, NopCqe32NeedsACqe32Ring) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f : {0u, static_cast<unsigned>(IORING_SETUP_SQE128)}) {
    compare_big(
        [](Ring& r) {
          nop(r, 1, kNopCqe32, 1, 2);
          nop(r, 2, 0);
          std::vector<BigCqe> out;
          // Prep fails: the batch stops after the first SQE.
          const int ret = r.submit(0);
          out.push_back(BigCqe{{0, ret, 0}, {0, 0}});
          const std::vector<BigCqe> c = wait_big(r, 1);
          out.insert(out.end(), c.begin(), c.end());
          return out;
        },
        4, with_flags(f));
  }
}

TEST(UringBigEntriesDiff, Sqe128ReadsEntriesAtTwiceTheStride) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f : {static_cast<unsigned>(IORING_SETUP_SQE128),
                     static_cast<unsigned>(IORING_SETUP_SQE128) | kSetupNoSqarray}) {
    SCOPED_TRACE(f);
    compare_big(
        [f](Ring& r) {
          std::vector<BigCqe> out;
          for (int round = 0; round < 3; ++round) {
            for (unsigned i = 0; i < 4; ++i) {
              io_uring_sqe* s = r.sqe();
              s->opcode = IORING_OP_NOP;
              s->user_data = 10 * round + i;
              // The second half of the entry is the command area: garbage
              // there changes nothing, and it is not the next SQE.
              std::memset(s + 1, 0xff, sizeof(*s));
            }
            EXPECT_EQ(4, r.submit(0));
            const std::vector<BigCqe> c = wait_big(r, 4);
            out.insert(out.end(), c.begin(), c.end());
          }
          if (!(f & kSetupNoSqarray)) {
            // The SQ array names entries, shifted: slot 0 -> SQE 3, slot 1 ->
            // SQE 1, slot 2 -> out of range (dropped).
            const std::uint32_t tail = r.sq_tail();
            const std::uint32_t mask = r.params().sq_entries - 1;
            std::memset(r.sqe_at(3), 0, 128);
            r.sqe_at(3)->opcode = IORING_OP_NOP;
            r.sqe_at(3)->user_data = 33;
            std::memset(r.sqe_at(1), 0, 128);
            r.sqe_at(1)->opcode = IORING_OP_NOP;
            r.sqe_at(1)->user_data = 11;
            r.sq_array()[tail & mask] = 3;
            r.sq_array()[(tail + 1) & mask] = 1;
            r.sq_array()[(tail + 2) & mask] = 4;
            r.set_tail(tail + 3);
            const int ret = r.enter(3, 0, 0);
            out.push_back(BigCqe{{0, ret, r.sq_dropped()}, {0, 0}});
            const std::vector<BigCqe> c = wait_big(r, 2);
            out.insert(out.end(), c.begin(), c.end());
          }
          return out;
        },
        4, with_flags(f));
  }
}

TEST(UringBigEntriesDiff, OverflowedCqesKeepTheirBigWords) {
  SKIP_WITHOUT_KERNEL_URING();
  for (unsigned f :
       {static_cast<unsigned>(IORING_SETUP_CQE32),
        IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN}) {
    SCOPED_TRACE(f);
    compare_big(
        [](Ring& r) {
          std::vector<BigCqe> out;
          // 4 CQ slots, 12 CQEs posted before any is reaped.
          for (int batch = 0; batch < 3; ++batch) {
            for (unsigned i = 0; i < 4; ++i) {
              const std::uint64_t ud = 10 * batch + i;
              if (i == 2)
                nop(r, ud, 0, 77, 77);  // plain CQE among big ones
              else
                nop(r, ud, kNopCqe32, 0xa000 + ud, 0xb000 + ud);
            }
            const int ret = r.submit(0);
            out.push_back(BigCqe{{0, ret, 0}, {0, 0}});
          }
          out.push_back(BigCqe{{1, 0, r.sq_flags() & IORING_SQ_CQ_OVERFLOW}, {0, 0}});
          out.push_back(BigCqe{{2, 0, r.cq_overflow()}, {0, 0}});
          const std::vector<BigCqe> c = wait_big(r, 12);
          out.insert(out.end(), c.begin(), c.end());
          out.push_back(BigCqe{{3, 0, r.sq_flags() & IORING_SQ_CQ_OVERFLOW}, {0, 0}});
          return out;
        },
        4, with_flags(f, 4));
  }
}

TEST(UringBigEntriesDiff, UringCmdOnASqe128Ring) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_big(
      [](Ring& r) {
        const int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        EXPECT_GE(fd, 0);
        const int pipefd = [] {
          int p[2];
          if (pipe(p)) return -1;
          close(p[1]);
          return p[0];
        }();
        for (int i = 0; i < 2; ++i) {
          io_uring_sqe* s = r.sqe();
          s->opcode = IORING_OP_URING_CMD;
          s->fd = i == 0 ? fd : pipefd;
          s->user_data = 1 + i;
          // The 80-byte command area of an SQE128 entry.
          std::memset(reinterpret_cast<char*>(s) + 48, 0x5a, 80);
        }
        std::vector<BigCqe> out;
        EXPECT_EQ(2, r.submit(0));
        out = wait_big(r, 2);
        std::sort(out.begin(), out.end(),
                  [](const BigCqe& x, const BigCqe& y) { return x.c.user_data < y.c.user_data; });
        close(fd);
        close(pipefd);
        return out;
      },
      4, with_flags(IORING_SETUP_SQE128 | IORING_SETUP_CQE32));
}

TEST(UringBigEntriesDiff, NoMmapRingsWithBigEntries) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (unsigned f : {static_cast<unsigned>(IORING_SETUP_SQE128 | IORING_SETUP_CQE32),
                     IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | kSetupNoSqarray}) {
    SCOPED_TRACE(f);
    std::vector<BigCqe> res[2];
    io_uring_params got[2];
    Backend* backends[2] = {&kb, &ib};
    for (int b = 0; b < 2; ++b) {
      // 64 SQEs of 128 bytes: two pages; 128 CQEs of 32 bytes: two pages and a bit.
      Pages sqes(2), rings(3);
      ASSERT_TRUE(sqes.p && rings.p);
      Ring r(backends[b]);
      io_uring_params p{};
      p.flags = f;
      const int fd = r.init_mem(64, p, sqes.p, rings.p);
      ASSERT_GE(fd, 0) << backends[b]->name() << ": " << strerror(-fd);
      got[b] = r.params();
      for (unsigned i = 0; i < 64; ++i) nop(r, i, kNopCqe32, i, ~std::uint64_t{i});
      EXPECT_EQ(64, r.submit(0));
      res[b] = wait_big(r, 64);
      r.exit();
    }
    EXPECT_EQ(res[0], res[1]);
    EXPECT_EQ(0, std::memcmp(&got[0].sq_off, &got[1].sq_off, sizeof(got[0].sq_off)));
    EXPECT_EQ(0, std::memcmp(&got[0].cq_off, &got[1].cq_off, sizeof(got[0].cq_off)));
    // Rings in too little memory: the kernel pins the whole region.
    for (int b = 0; b < 2; ++b) {
      Pages rings(3);
      Ring r(backends[b]);
      io_uring_params p{};
      p.flags = f;
      // 64 SQEs of 128 bytes do not fit one page followed by a hole.
      Pages hole(2);
      munmap(hole.p + 4096, 4096);
      res[b] = {BigCqe{{0, r.init_mem(64, p, hole.p, rings.p), 0}, {0, 0}}};
      r.exit();
      hole.len = 4096;
    }
    EXPECT_EQ(res[0], res[1]);
  }
}

}  // namespace
}  // namespace uring_test
