// Differential tests of rings and buffer rings in memory that is not mapped
// from the ring fd, and of buffers shared between rings:
// IORING_SETUP_NO_MMAP (rings and SQEs in the program's memory),
// IORING_SETUP_NO_SQARRAY, IOU_PBUF_RING_MMAP (a buffer ring allocated by
// io_uring, mapped at IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT)
// and IORING_REGISTER_CLONE_BUFFERS.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::CloneBuffers;
using iostack::uring::uapi::kOffPbufRing;
using iostack::uring::uapi::kOffPbufShift;
using iostack::uring::uapi::kPbufRingMmap;
using iostack::uring::uapi::kRegisterCloneBuffers;
using iostack::uring::uapi::kSetupNoMmap;
using iostack::uring::uapi::kSetupNoSqarray;
constexpr unsigned kSrcRegistered = iostack::uring::uapi::kRegisterSrcRegistered;
constexpr unsigned kDstReplace = iostack::uring::uapi::kRegisterDstReplace;

using BackendSeq = std::function<std::vector<Cqe>(Backend*)>;

// Runs `seq` against the kernel, then iostack; expects the same results.
void compare_backends(const BackendSeq& seq) {
  KernelBackend kb;
  IostackBackend ib;
  const std::vector<Cqe> k = seq(&kb);
  const std::vector<Cqe> o = seq(&ib);
  EXPECT_EQ(k, o) << "kernel vs iostack";
}

// mmap of the ring fd at `off`: 0, or the errno as -errno.
int map_errno(Backend* b, int fd, std::uint64_t off, std::size_t len, void** out = nullptr) {
  void* p;
  if (std::strcmp(b->name(), "kernel") == 0) {
    p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
             static_cast<off_t>(off));
    if (p == MAP_FAILED) return -errno;
  } else {
    p = iostack_io_uring_mmap(fd, static_cast<off_t>(off), len);
    if (IOSTACK_URING_IS_ERR(p)) return static_cast<int>(reinterpret_cast<long>(p));
  }
  if (out)
    *out = p;
  else
    munmap(p, len);
  return 0;
}

// A temporary file holding "0123456789abcdef" repeated over 8 KiB.
struct DataFile {
  int fd = -1;
  DataFile() {
    char tmpl[] = "/tmp/iostack-usermem-XXXXXX";
    fd = mkstemp(tmpl);
    unlink(tmpl);
    char buf[8192];
    for (std::size_t i = 0; i < sizeof(buf); ++i) buf[i] = "0123456789abcdef"[i % 16];
    EXPECT_EQ(static_cast<ssize_t>(sizeof(buf)), pwrite(fd, buf, sizeof(buf), 0));
  }
  ~DataFile() { ::close(fd); }
};

Cqe setup_result(std::uint64_t ud, int ret) { return Cqe{ud, ret < 0 ? ret : 0, 0}; }

TEST(UringUserMemDiff, NoMmapSetupChecks) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    std::vector<Cqe> out;
    // An inaccessible page stands for "not mapped": a page unmapped here
    // could be mapped again by the engine's own allocations before setup.
    Pages sqes(1), rings(1), ro(1, PROT_READ), none(1, PROT_NONE);
    char* unmapped = none.p;
    struct Case {
      void* sq;
      void* cq;
    };
    const Case cases[] = {
        {nullptr, rings.p},      {sqes.p, nullptr},  {sqes.p + 64, rings.p},
        {sqes.p, rings.p + 128}, {sqes.p, unmapped}, {unmapped, rings.p},
        {sqes.p, ro.p},          {ro.p, rings.p},    {sqes.p, rings.p},
    };
    std::uint64_t ud = 1;
    for (const Case& c : cases) {
      Ring r(b);
      const int ret = r.init_mem(4, {}, c.sq, c.cq);
      out.push_back(setup_result(ud++, ret));
      if (ret >= 0) {
        const io_uring_params& p = r.params();
        out.push_back(Cqe{ud, static_cast<std::int32_t>(p.sq_off.array), p.cq_off.cqes});
        out.push_back(Cqe{ud + 1, p.sq_off.resv2 == reinterpret_cast<std::uintptr_t>(c.sq),
                          p.cq_off.resv2 == reinterpret_cast<std::uintptr_t>(c.cq)});
        // The rings cannot be mapped from the descriptor.
        out.push_back(Cqe{ud + 2, map_errno(b, r.fd(), IORING_OFF_SQ_RING, 4096), 0});
        out.push_back(Cqe{ud + 3, map_errno(b, r.fd(), IORING_OFF_SQES, 4096), 0});
        ud += 4;
      }
    }
    // Without NO_MMAP the addresses are not looked at and come back 0.
    {
      Ring r(b);
      io_uring_params p{};
      p.sq_off.resv2 = 0x1000;
      p.cq_off.resv2 = 0x2000;
      EXPECT_GE(r.init(4, p), 0);
      out.push_back(Cqe{ud++, static_cast<std::int32_t>(r.params().sq_off.resv2),
                        static_cast<std::uint32_t>(r.params().cq_off.resv2)});
    }
    return out;
  });
}

// What the kernel leaves in the program's ring memory at setup: it writes
// the masks and sizes, and leaves the rest as it was.
TEST(UringUserMemDiff, NoMmapRingWordsAfterSetup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    std::vector<Cqe> out;
    Pages sqes(1), rings(1);
    std::memset(rings.p, 0, 4096);
    std::memset(sqes.p, 0x5a, 4096);
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 8;
    EXPECT_GE(r.init_mem(4, p, sqes.p, rings.p), 0);
    for (std::uint32_t off = 0; off < 48; off += 4)
      out.push_back(Cqe{off, static_cast<std::int32_t>(r.load(off)), 0});
    out.push_back(Cqe{100, static_cast<unsigned char>(sqes.p[0]), 0});
    return out;
  });
}

std::vector<Cqe> nop_read_sequence(Ring& r, int fd) {
  std::vector<Cqe> out;
  static char buf[4][16];
  for (unsigned round = 0; round < 3; ++round) {
    for (unsigned i = 0; i < 4; ++i)
      add(r, i % 2 ? IORING_OP_NOP : IORING_OP_READ, fd, buf[i], 16, 16 * (round + i),
          10 * round + i, 0);
    append(&out, submit_wait(r, 4));
  }
  out.push_back(Cqe{99, std::memcmp(buf[2], "0123456789abcdef", 16), 0});
  out.push_back(Cqe{98, static_cast<std::int32_t>(r.sq_dropped()), r.cq_overflow()});
  return out;
}

TEST(UringUserMemDiff, NoMmapRingRunsRequests) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    DataFile f;
    Pages sqes(1), rings(1);
    Ring r(b);
    EXPECT_GE(r.init_mem(4, {}, sqes.p, rings.p), 0);
    std::vector<Cqe> out = nop_read_sequence(r, f.fd);
    r.exit();
    return out;
  });
}

// Rings bigger than a page in memory that is not physically contiguous
// (the kernel maps such pages with vmap since 6.13), SQ array omitted.
TEST(UringUserMemDiff, NoMmapNoSqarrayLargeRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    DataFile f;
    Pages sqes(16), rings(16);
    Ring r(b);
    io_uring_params p{};
    p.flags = kSetupNoSqarray;
    const int ret = r.init_mem(256, p, sqes.p, rings.p);
    std::vector<Cqe> out{setup_result(0, ret)};
    if (ret < 0) return out;
    out.push_back(Cqe{1, static_cast<std::int32_t>(r.params().sq_off.array), 0});
    std::vector<Cqe> more = nop_read_sequence(r, f.fd);
    append(&out, more);
    r.exit();
    return out;
  });
}

// The kernel pins a NO_MMAP ring's pages: the program may unmap them while
// the ring lives (liburing's io_uring_queue_exit does, before it closes the
// ring) and an SQPOLL thread polling them goes on unharmed. Run in a child,
// which a fault would kill; its exit status is compared.
TEST(UringUserMemDiff, NoMmapSqpollRingOutlivesTheProgramsMapping) {
  SKIP_WITHOUT_KERNEL_URING();
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer builds use the program's range itself (user_pin.cpp)";
#endif
  compare_backends([](Backend* b) {
    const int status = in_child([b] {
      void* sqes = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      void* rings = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      Ring r(b);
      io_uring_params p{};
      p.flags = IORING_SETUP_SQPOLL;
      p.sq_thread_idle = 1000;
      if (r.init_mem(4, p, sqes, rings) < 0) return 2;
      prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
      r.flush();
      // As liburing does: a sleeping SQ thread is woken.
      if (r.sq_flags() & IORING_SQ_NEED_WAKEUP) r.enter(0, 0, IORING_ENTER_SQ_WAKEUP);
      if (r.wait(1).size() != 1) return 3;
      munmap(sqes, 4096);
      munmap(rings, 4096);
      r.unmap_sqes();  // forgets them: NO_MMAP memory is the caller's
      r.unmap_rings();
      usleep(20000);  // the SQ thread polls the rings meanwhile
      return r.close_fd() == 0 ? 0 : 4;
    });
    return std::vector<Cqe>{Cqe{0, status, 0}};
  });
}

// Once the ring is gone its memory is the program's private memory again,
// what it held kept: a forked child writing to it (memory a heap recycled)
// changes nothing in the parent.
TEST(UringUserMemDiff, NoMmapMemoryIsPrivateAgainAfterTheRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    Pages sqes(1), rings(1);
    std::vector<Cqe> out;
    std::uint32_t cq_tail_off = 0;
    {
      Ring r(b);
      out.push_back(Cqe{0, r.init_mem(4, {}, sqes.p, rings.p) < 0 ? -1 : 0, 0});
      cq_tail_off = r.params().cq_off.tail;
      prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
      append(&out, submit_wait(r, 1));
    }
    // What the ring wrote is still there: its CQ tail.
    std::uint32_t tail;
    std::memcpy(&tail, rings.p + cq_tail_off, sizeof(tail));
    out.push_back(Cqe{2, static_cast<int>(tail), 0});
    const int status = in_child([&] {
      std::memset(rings.p, 0x5a, 4096);
      std::memset(sqes.p, 0x5a, 4096);
      return 0;
    });
    out.push_back(Cqe{3, status, 0});
    out.push_back(Cqe{4, rings.p[100] == 0x5a || sqes.p[0] == 0x5a, 0});
    return out;
  });
}

// NO_SQARRAY on a mapped ring: slot i is SQE i, the array offset is 0.
TEST(UringUserMemDiff, NoSqarrayMappedRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    DataFile f;
    Ring r(b);
    io_uring_params p{};
    p.flags = kSetupNoSqarray;
    const int ret = r.init(8, p);
    std::vector<Cqe> out{setup_result(0, ret)};
    if (ret < 0) return out;
    out.push_back(Cqe{1, static_cast<std::int32_t>(r.params().sq_off.array), 0});
    append(&out, nop_read_sequence(r, f.fd));
    r.exit();
    return out;
  });
}

// IORING_SETUP_REGISTERED_FD_ONLY: no descriptor; the ring is a registered
// index of the calling thread, used with IORING_ENTER_REGISTERED_RING and
// IORING_REGISTER_USE_REGISTERED_RING, gone when unregistered.
TEST(UringUserMemDiff, RegisteredFdOnly) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    std::vector<Cqe> out;
    constexpr unsigned kRegFdOnly = 1u << 15;
    Pages sqes(1), rings(1);
    io_uring_params p{};
    p.flags = kRegFdOnly;
    out.push_back(Cqe{1, b->setup(4, &p), 0});  // needs NO_MMAP
    const int lowest_before = dup(0);
    ::close(lowest_before);
    p = {};
    p.flags = kRegFdOnly | kSetupNoMmap;
    p.sq_off.resv2 = reinterpret_cast<std::uintptr_t>(sqes.p);
    p.cq_off.resv2 = reinterpret_cast<std::uintptr_t>(rings.p);
    const int idx = b->setup(4, &p);
    out.push_back(Cqe{2, idx, 0});
    if (idx < 0) return out;
    const int lowest_after = dup(0);
    ::close(lowest_after);
    out.push_back(Cqe{3, lowest_after == lowest_before, 0});
    auto* sqe = reinterpret_cast<io_uring_sqe*>(sqes.p);
    auto* sq_array = reinterpret_cast<std::uint32_t*>(rings.p + p.sq_off.array);
    for (unsigned i = 0; i < 2; ++i) {
      std::memset(&sqe[i], 0, sizeof(sqe[i]));
      sqe[i].opcode = IORING_OP_NOP;
      sqe[i].user_data = 10 + i;
      sq_array[i] = i;
    }
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(rings.p + p.sq_off.tail))
        .store(2, std::memory_order_release);
    out.push_back(Cqe{4, b->enter(idx, 2, 2, IORING_ENTER_GETEVENTS, nullptr, 0), 0});
    out.push_back(Cqe{
        5, b->enter(idx, 0, 0, IORING_ENTER_GETEVENTS | IORING_ENTER_REGISTERED_RING, nullptr, 0),
        0});
    out.push_back(Cqe{
        6, b->enter(idx, 2, 2, IORING_ENTER_GETEVENTS | IORING_ENTER_REGISTERED_RING, nullptr, 0),
        0});
    const std::uint32_t tail =
        std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(rings.p + p.cq_off.tail))
            .load(std::memory_order_acquire);
    const auto* cqes = reinterpret_cast<const io_uring_cqe*>(rings.p + p.cq_off.cqes);
    for (std::uint32_t i = 0; i < tail && i < 8; ++i)
      out.push_back(Cqe{cqes[i].user_data, cqes[i].res, cqes[i].flags});
    unsigned counts[2] = {0, 0};
    out.push_back(
        Cqe{7,
            b->reg(idx, IORING_REGISTER_IOWQ_MAX_WORKERS | IORING_REGISTER_USE_REGISTERED_RING,
                   counts, 2),
            counts[0] != 0});
    io_uring_rsrc_update up{};
    up.offset = static_cast<std::uint32_t>(idx);
    out.push_back(Cqe{
        8, b->reg(idx, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING, &up, 1),
        0});
    out.push_back(Cqe{9, b->enter(idx, 0, 0, IORING_ENTER_REGISTERED_RING, nullptr, 0), 0});
    return out;
  });
}

int reg_pbuf(Ring& r, std::uint16_t bgid, unsigned entries, void* addr, std::uint16_t flags) {
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(addr);
  reg.ring_entries = entries;
  reg.bgid = bgid;
  reg.pad = flags;
  return r.reg(IORING_REGISTER_PBUF_RING, &reg, 1);
}

TEST(UringUserMemDiff, PbufRingMmap) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    std::vector<Cqe> out;
    DataFile f;
    Pages user(1);
    Ring r(b);
    EXPECT_GE(r.init(8), 0);
    auto off = [](unsigned bgid) { return kOffPbufRing | (std::uint64_t{bgid} << kOffPbufShift); };
    // Nothing registered; a user-memory ring cannot be mapped.
    out.push_back(Cqe{1, map_errno(b, r.fd(), off(3), 4096), 0});
    out.push_back(Cqe{2, reg_pbuf(r, 4, 8, user.p, 0), 0});
    out.push_back(Cqe{3, map_errno(b, r.fd(), off(4), 4096), 0});
    // MMAP with an address, then without.
    out.push_back(Cqe{4, reg_pbuf(r, 3, 8, user.p, kPbufRingMmap), 0});
    out.push_back(Cqe{5, reg_pbuf(r, 3, 8, nullptr, kPbufRingMmap), 0});
    out.push_back(Cqe{6, reg_pbuf(r, 3, 8, nullptr, kPbufRingMmap), 0});
    void* m = nullptr;
    out.push_back(Cqe{7, map_errno(b, r.fd(), off(3), 8 * 16, &m), 0});
    if (!m) return out;
    auto* br = static_cast<io_uring_buf*>(m);
    // Fresh zeroed memory: tail 0.
    out.push_back(Cqe{8, br[0].resv, br[0].len});
    static char data[8][32];
    for (unsigned i = 0; i < 4; ++i) {
      br[i].addr = reinterpret_cast<std::uintptr_t>(data[i]);
      br[i].len = 32;
      br[i].bid = static_cast<std::uint16_t>(i + 10);
    }
    std::atomic_ref<std::uint16_t>(br[0].resv).store(4, std::memory_order_release);
    for (unsigned i = 0; i < 5; ++i) {
      io_uring_sqe* s =
          add(r, IORING_OP_READ, f.fd, nullptr, 8, 8 * i, 20 + i, IOSQE_BUFFER_SELECT);
      s->buf_group = 3;
    }
    append(&out, submit_wait(r, 5));
    out.push_back(Cqe{30, std::memcmp(data[1], "89abcdef", 8), 0});
    // A second mapping sees the same ring; one longer than the ring maps too.
    void* m2 = nullptr;
    out.push_back(Cqe{31, map_errno(b, r.fd(), off(3), 4096, &m2), 0});
    if (m2) {
      out.push_back(Cqe{32, static_cast<io_uring_buf*>(m2)[2].bid, 0});
      munmap(m2, 4096);
    }
    m2 = nullptr;
    out.push_back(Cqe{36, map_errno(b, r.fd(), off(3), 4 * 4096, &m2), 0});
    if (m2) {
      out.push_back(Cqe{37, static_cast<io_uring_buf*>(m2)[1].bid, 0});
      munmap(m2, 4 * 4096);
    }
    out.push_back(Cqe{38, map_errno(b, r.fd(), IORING_OFF_SQ_RING, 8 * 4096), 0});
    out.push_back(Cqe{39, map_errno(b, r.fd(), IORING_OFF_SQES, 8 * 4096), 0});
    // Unregistered: no longer mappable; the old mapping stays readable.
    io_uring_buf_reg reg{};
    reg.bgid = 3;
    out.push_back(Cqe{33, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{34, map_errno(b, r.fd(), off(3), 4096), 0});
    out.push_back(Cqe{35, br[3].bid, 0});
    munmap(m, 8 * 16);
    return out;
  });
}

int register_bufs(Ring& r, char* mem, unsigned nr, const std::uint64_t* tags = nullptr) {
  std::vector<iovec> iov(nr);
  for (unsigned i = 0; i < nr; ++i) iov[i] = {mem + 4096 * i, 4096};
  io_uring_rsrc_register rr{};
  rr.nr = nr;
  rr.data = reinterpret_cast<std::uintptr_t>(iov.data());
  rr.tags = reinterpret_cast<std::uintptr_t>(tags);
  return r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
}

int clone(Ring& dst, std::uint32_t src_fd, unsigned flags, unsigned src_off = 0,
          unsigned dst_off = 0, unsigned nr = 0, std::uint32_t pad = 0) {
  CloneBuffers c{};
  c.src_fd = src_fd;
  c.flags = flags;
  c.src_off = src_off;
  c.dst_off = dst_off;
  c.nr = nr;
  c.pad[1] = pad;
  return dst.reg(kRegisterCloneBuffers, &c, 1);
}

// READ_FIXED of 4 bytes into each of registered buffers 0..n-1 of `r`, whose
// memory (as the source registered it) starts at `mem`, page per buffer.
void read_each(Ring& r, int fd, char* mem, unsigned n, std::uint64_t ud, std::vector<Cqe>* out) {
  for (unsigned i = 0; i < n; ++i)
    add(r, IORING_OP_READ_FIXED, fd, mem + 4096 * i, 4, 4 * i, ud + i, 0)->buf_index =
        static_cast<std::uint16_t>(i);
  append(out, submit_wait(r, n));
}

TEST(UringUserMemDiff, CloneBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_backends([](Backend* b) {
    std::vector<Cqe> out;
    DataFile f;
    Pages a(4), c(6);
    Ring src(b), dst(b), other(b);
    EXPECT_GE(src.init(8), 0);
    EXPECT_GE(dst.init(8), 0);
    EXPECT_GE(other.init(8), 0);
    // Source without buffers; argument checks.
    out.push_back(Cqe{1, clone(dst, src.fd(), 0), 0});
    out.push_back(Cqe{2, clone(dst, src.fd(), 0, 0, 0, 1), 0});
    EXPECT_EQ(0, register_bufs(src, a.p, 4));
    out.push_back(Cqe{3, clone(dst, src.fd(), 4), 0});
    out.push_back(Cqe{4, clone(dst, src.fd(), 0, 0, 0, 0, 1), 0});
    out.push_back(Cqe{5, clone(dst, f.fd, 0), 0});
    out.push_back(Cqe{6, clone(dst, 999, 0), 0});
    out.push_back(Cqe{7, clone(dst, src.fd(), 0, 1, 0, 0), 0});
    out.push_back(Cqe{8, clone(dst, src.fd(), 0, 0, 0, 5), 0});
    out.push_back(Cqe{9, clone(dst, src.fd(), 0, 3, 0, 2), 0});
    out.push_back(Cqe{10, clone(dst, src.fd(), 0, 0, 16383, 2), 0});
    out.push_back(Cqe{11, clone(dst, src.fd(), kSrcRegistered, 0, 0, 0), 0});
    out.push_back(Cqe{12, dst.reg(kRegisterCloneBuffers, nullptr, 1), 0});
    // Buffers 1 and 2 of the source at 2 and 3 of the destination.
    out.push_back(Cqe{13, clone(dst, src.fd(), 0, 1, 2, 2), 0});
    read_each(dst, f.fd, a.p - 4096, 5, 20, &out);
    // Again without REPLACE: busy.
    out.push_back(Cqe{30, clone(dst, src.fd(), 0), 0});
    // All of them, into a ring that has buffers of its own, through the
    // source's registered index.
    std::uint64_t tags[6] = {51, 52, 53, 54, 55, 56};
    EXPECT_EQ(0, register_bufs(other, c.p, 6, tags));
    io_uring_rsrc_update up{};
    up.offset = ~0u;
    up.data = static_cast<std::uint64_t>(src.fd());
    EXPECT_EQ(1, src.reg(IORING_REGISTER_RING_FDS, &up, 1));
    out.push_back(Cqe{31, clone(other, up.offset, kSrcRegistered | kDstReplace, 1, 1, 2), 0});
    append(&out, other.reap());  // the tags of the replaced buffers
    read_each(other, f.fd, c.p, 6, 40, &out);
    // Replacing it all; the source is unchanged.
    out.push_back(Cqe{50, clone(other, src.fd(), kDstReplace), 0});
    auto tagged = other.reap();
    sort_by_user_data(&tagged);
    append(&out, tagged);
    read_each(other, f.fd, a.p, 6, 60, &out);
    read_each(src, f.fd, a.p, 4, 70, &out);
    // The clone outlives the source's table.
    out.push_back(Cqe{80, src.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0), 0});
    read_each(other, f.fd, a.p, 2, 81, &out);
    // A ring cloning its own buffers.
    out.push_back(Cqe{90, clone(other, other.fd(), kDstReplace, 0, 4, 2), 0});
    tagged = other.reap();
    sort_by_user_data(&tagged);
    append(&out, tagged);
    read_each(other, f.fd, a.p - 4 * 4096, 6, 91, &out);
    // The task's registered ring slots outlive the rings (16 of them).
    up.data = 0;
    EXPECT_EQ(1, src.reg(IORING_UNREGISTER_RING_FDS, &up, 1));
    return out;
  });
}

}  // namespace
}  // namespace uring_test
