// Differential tests of READV_FIXED, WRITEV_FIXED and READ_MULTISHOT: the
// same SQEs through the kernel's io_uring and iostack's, comparing CQEs
// (and the data moved, as extra pseudo-CQEs).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <cstring>
#include <functional>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpReadMultishot = 49;
constexpr std::uint8_t kOpReadvFixed = 60;
constexpr std::uint8_t kOpWritevFixed = 61;

int temp_file() {
  char tmpl[] = "/tmp/iostack-rwfixed-XXXXXX";
  const int fd = mkstemp(tmpl);
  unlink(tmpl);
  return fd;
}

TEST(UringRwMoreDiff, ReadvWritevFixed) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    constexpr std::size_t kBuf = 8192;
    auto* mem = static_cast<char*>(
        mmap(nullptr, 2 * kBuf, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char* reg = mem;           // registered
    char* unreg = mem + kBuf;  // not registered
    for (std::size_t i = 0; i < kBuf; ++i) reg[i] = static_cast<char>('a' + i % 26);
    iovec rv{reg, kBuf};
    EXPECT_EQ(0, r.reg(IORING_REGISTER_BUFFERS, &rv, 1));
    const int f = temp_file();
    const int ro = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

    // Two segments out, three back in (into other parts of the buffer).
    iovec w[2] = {{reg, 100}, {reg + 1000, 300}};
    io_uring_sqe* s = add(r, kOpWritevFixed, f, w, 2, 0, 1, IOSQE_IO_LINK);
    s->buf_index = 0;
    iovec rd[3] = {{reg + 4096, 50}, {reg + 5000, 50}, {reg + 6000, 1000}};
    s = add(r, kOpReadvFixed, f, rd, 3, 0, 2, 0);
    auto c = submit_wait(r, 2);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{100, std::memcmp(reg + 4096, reg, 50) == 0 ? 0 : 1, 0});
    out.push_back(Cqe{101, std::memcmp(reg + 5000, reg + 50, 50) == 0 ? 0 : 1, 0});
    out.push_back(Cqe{102, std::memcmp(reg + 6000, reg + 1000, 300) == 0 ? 0 : 1, 0});

    // The checks of each segment, and of the array.
    iovec outside[1] = {{unreg, 10}};
    iovec straddle[1] = {{reg + kBuf - 5, 10}};
    iovec empty_seg[2] = {{reg, 10}, {reg + 10, 0}};
    iovec neg[1] = {{reg, static_cast<size_t>(-1)}};
    iovec huge[2] = {{reg, 0}, {reg, 1ull << 44}};
    iovec big[1] = {{reg, 3ull << 29}};
    struct Case {
      std::uint8_t op;
      int fd;
      const void* addr;
      unsigned nr;
      unsigned buf_index;
      std::uint8_t flags;
    };
    const Case cases[] = {
        {kOpReadvFixed, f, outside, 1, 0, 0},
        {kOpWritevFixed, f, straddle, 1, 0, 0},
        {kOpReadvFixed, f, empty_seg, 2, 0, 0},
        {kOpReadvFixed, f, neg, 1, 0, 0},
        {kOpReadvFixed, f, w, 2, 3, 0},           // no such buffer
        {kOpReadvFixed, f, nullptr, 2, 0, 0},     // array unreadable
        {kOpReadvFixed, f, w, 0, 0, 0},           // nothing to read
        {kOpReadvFixed, f, w, 1025, 0, 0},        // above UIO_MAXIOV
        {kOpReadvFixed, f, w, 1u << 20, 0, 0},    // too big to allocate
        {kOpReadvFixed, -1, w, 2, 0, 0},          // bad descriptor
        {kOpReadvFixed, 9999, outside, 1, 0, 0},  // bad descriptor, bad buffer
        {kOpWritevFixed, ro, w, 2, 0, 0},         // read-only file
        {kOpWritevFixed, ro, outside, 1, 0, 0},   // buffer checked first
        {kOpReadvFixed, f, w, 2, 0, IOSQE_BUFFER_SELECT},
        {kOpReadvFixed, f, huge, 2, 0, 0},  // the bio_vec estimate overflows
        {kOpReadvFixed, f, big, 1, 0, 0},   // its array is too big to allocate
    };
    std::uint64_t ud = 10;
    for (const Case& k : cases) {
      s = add(r, k.op, k.fd, k.addr, k.nr, 0, ud++, k.flags);
      s->buf_index = static_cast<std::uint16_t>(k.buf_index);
      c = submit_wait(r, 1);
      out.insert(out.end(), c.begin(), c.end());
    }

    // A pipe: the offset means nothing.
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    iovec pw[2] = {{reg + 26, 5}, {reg + 52, 7}};
    add(r, kOpWritevFixed, p[1], pw, 2, 99, 40, IOSQE_IO_LINK);
    iovec pr[1] = {{reg + 7000, 100}};
    add(r, kOpReadvFixed, p[0], pr, 1, 0, 41, 0);
    c = submit_wait(r, 2);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{103, std::memcmp(reg + 7000, "abcdeabcdefg", 12) == 0 ? 0 : 1, 0});

    // An eventfd has no write_iter: the kernel's ->write gets the array's
    // address and the segment count.
    const int efd = eventfd(0, EFD_CLOEXEC);
    iovec ev8[8];
    for (iovec& v : ev8) v = {reg, 8};
    add(r, kOpWritevFixed, efd, ev8, 2, 0, 42, 0);
    add(r, kOpWritevFixed, efd, ev8, 8, 0, 43, 0);
    add(r, kOpWritevFixed, efd, ev8, 0, 0, 44, 0);  // nothing to write: 0 (seed 102041)
    c = submit_wait(r, 3);  // they go to io-wq (no NOWAIT through ->write): any order
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    out.insert(out.end(), c.begin(), c.end());
    std::uint64_t ev = 0;
    EXPECT_EQ(8, read(efd, &ev, 8));
    out.push_back(Cqe{104, ev == reinterpret_cast<std::uintptr_t>(reg) ? 0 : 1, 0});
    ::close(efd);

    // Unregistered, every index is gone.
    EXPECT_EQ(0, r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0));
    add(r, kOpReadvFixed, f, w, 2, 0, 50, 0);
    c = submit_wait(r, 1);
    out.insert(out.end(), c.begin(), c.end());
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    ::close(f);
    ::close(ro);
    munmap(mem, 2 * kBuf);
    return out;
  });
}

// A legacy provided-buffer group of `n` buffers of `len` bytes at `base`.
void provide(Ring& r, char* base, unsigned len, unsigned n, unsigned bgid, std::uint64_t ud) {
  io_uring_sqe* s = add(r, IORING_OP_PROVIDE_BUFFERS, static_cast<int>(n), base, len, 0, ud, 0);
  s->buf_group = static_cast<std::uint16_t>(bgid);
  auto c = submit_wait(r, 1);
  EXPECT_EQ(1u, c.size());
  if (!c.empty()) {
    EXPECT_EQ(0, c[0].res);
  }
}

io_uring_sqe* read_mshot(Ring& r, int fd, unsigned bgid, std::uint64_t ud) {
  io_uring_sqe* s = add(r, kOpReadMultishot, fd, nullptr, 0, 0, ud, IOSQE_BUFFER_SELECT);
  s->buf_group = static_cast<std::uint16_t>(bgid);
  return s;
}

TEST(UringRwMoreDiff, ReadMultishotPipe) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static char bufs[4][16];
    provide(r, &bufs[0][0], 16, 4, 7, 1);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    // Armed on an empty pipe: nothing yet.
    read_mshot(r, p[0], 7, 2);
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(0u, r.cq_ready());
    // 20 bytes: one full buffer, then the rest in the next.
    EXPECT_EQ(20, write(p[1], "0123456789abcdefghij", 20));
    auto c = r.wait(2);
    out.insert(out.end(), c.begin(), c.end());
    EXPECT_EQ(3, write(p[1], "xyz", 3));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    // The writer goes: end of file ends the request (no F_MORE).
    ::close(p[1]);
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{100, std::memcmp(bufs[0], "0123456789abcdef", 16) == 0 ? 0 : 1, 0});
    out.push_back(Cqe{101, std::memcmp(bufs[1], "ghij", 4) == 0 ? 0 : 1, 0});
    out.push_back(Cqe{102, std::memcmp(bufs[2], "xyz", 3) == 0 ? 0 : 1, 0});
    r.exit();
    ::close(p[0]);
    return out;
  });
}

// With IOSQE_ASYNC the request still waits on poll, not on a worker that
// would take a ring buffer before finding the pipe empty: each message
// lands in the next buffer.
TEST(UringRwMoreDiff, ReadMultishotAsyncTakesOneRingBufferPerRead) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static char bufs[4][16];
    alignas(4096) static io_uring_buf ents[4096 / sizeof(io_uring_buf)];
    std::memset(ents, 0, sizeof(ents));
    for (unsigned i = 0; i < 4; ++i) {
      ents[i].addr = reinterpret_cast<std::uintptr_t>(bufs[i]);
      ents[i].len = 16;
      ents[i].bid = static_cast<std::uint16_t>(i + 1);
    }
    __atomic_store_n(&ents[0].resv, std::uint16_t{4}, __ATOMIC_RELEASE);  // the ring's tail
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ents);
    reg.ring_entries = 4;
    reg.bgid = 5;
    out.push_back(Cqe{100, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    io_uring_sqe* s = read_mshot(r, p[0], 5, 1);
    s->flags |= IOSQE_ASYNC;
    EXPECT_EQ(1, r.submit(0));
    for (const char* m : {"one", "two", "three"}) {
      EXPECT_EQ(static_cast<ssize_t>(std::strlen(m)), write(p[1], m, std::strlen(m)));
      auto c = r.wait(1);
      out.insert(out.end(), c.begin(), c.end());
    }
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    return out;
  });
}

TEST(UringRwMoreDiff, ReadMultishotRunsOutOfBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static char bufs[2][8];
    provide(r, &bufs[0][0], 8, 2, 3, 1);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(20, write(p[1], "0123456789abcdefghij", 20));
    read_mshot(r, p[0], 3, 2);
    auto c = submit_wait(r, 1, 3);  // two buffers filled, then -ENOBUFS
    out.insert(out.end(), c.begin(), c.end());
    // No group at all, and a group emptied: -ENOBUFS at once.
    read_mshot(r, p[0], 9, 3);
    c = submit_wait(r, 1);
    out.insert(out.end(), c.begin(), c.end());
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    return out;
  });
}

TEST(UringRwMoreDiff, ReadMultishotEventfd) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static std::uint64_t bufs[4];
    provide(r, reinterpret_cast<char*>(bufs), 8, 4, 1, 1);
    const int efd = eventfd(0, EFD_CLOEXEC);
    read_mshot(r, efd, 1, 2);
    EXPECT_EQ(1, r.submit(0));
    std::uint64_t v = 5;
    EXPECT_EQ(8, write(efd, &v, 8));
    auto c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    v = 7;
    EXPECT_EQ(8, write(efd, &v, 8));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{100, static_cast<int>(bufs[0]), 0});
    out.push_back(Cqe{101, static_cast<int>(bufs[1]), 0});
    // Cancelled while armed: the last CQE, without F_MORE.
    io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 3, 0);
    s->addr = 2;
    c = submit_wait(r, 1, 2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    out.insert(out.end(), c.begin(), c.end());
    // A buffer shorter than a counter: -EINVAL.
    static char small[4][4];
    provide(r, &small[0][0], 4, 4, 2, 4);
    EXPECT_EQ(8, write(efd, &v, 8));
    read_mshot(r, efd, 2, 5);
    c = submit_wait(r, 1);
    out.insert(out.end(), c.begin(), c.end());
    r.exit();
    ::close(efd);
    return out;
  });
}

TEST(UringRwMoreDiff, ReadMultishotPrepAndFiles) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static char bufs[4][16];
    provide(r, &bufs[0][0], 16, 4, 1, 1);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    const int f = temp_file();
    EXPECT_EQ(4, write(f, "data", 4));
    // Without IOSQE_BUFFER_SELECT, with an address or a length, with ioprio.
    add(r, kOpReadMultishot, p[0], nullptr, 0, 0, 10, 0);
    io_uring_sqe* s = read_mshot(r, p[0], 1, 11);
    s->addr = reinterpret_cast<std::uintptr_t>(bufs);
    s = read_mshot(r, p[0], 1, 12);
    s->len = 16;
    s = read_mshot(r, p[0], 1, 13);
    s->ioprio = 1;
    // A regular file cannot be polled; a bad descriptor.
    read_mshot(r, f, 1, 14);
    read_mshot(r, -1, 1, 15);
    // A pipe already at end of file: 0 at once, the buffer kept.
    ::close(p[1]);
    read_mshot(r, p[0], 1, 16);
    auto c = submit_wait(r, 7);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    out.insert(out.end(), c.begin(), c.end());
    r.exit();
    ::close(p[0]);
    ::close(f);
    return out;
  });
}

TEST(UringRwMoreDiff, ReadMultishotEndsOnFullCq) {
  SKIP_WITHOUT_KERNEL_URING();
  // A CQ ring of 4: the fifth read cannot post with F_MORE, so it is the
  // last CQE (into the overflow list).
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = 4;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        static char bufs[8][4];
        provide(r, &bufs[0][0], 4, 8, 1, 1);
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        EXPECT_EQ(24, write(p[1], "aaaabbbbccccddddeeeeffff", 24));
        read_mshot(r, p[0], 1, 2);
        EXPECT_EQ(1, r.submit(0));
        auto c = r.wait(5);
        out.insert(out.end(), c.begin(), c.end());
        out.push_back(Cqe{100, static_cast<int>(r.cq_ready()), 0});
        r.exit();
        ::close(p[0]);
        ::close(p[1]);
        return out;
      },
      4, params);
}

// The kernel reads for a multishot READ inside the program's write that
// woke it (the poll's task work runs as the write returns to the program):
// each message lands in a buffer of its own and its CQE is in the CQ ring
// without entering, IOSQE_ASYNC or not. liburing's read-mshot counts on it
// (one write a millisecond, every message read apart). On iostack the write
// is followed by iostack_io_uring_run_wakeups, as the shim does.
void reads_inside_the_write(bool async) {
  compare_submit_all([async](Ring& r) {
    std::vector<Cqe> out;
    static char bufs[8][32];
    provide(r, &bufs[0][0], 32, 8, 2, 1);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    io_uring_sqe* s = read_mshot(r, p[0], 2, 2);
    if (async) s->flags |= IOSQE_ASYNC;
    EXPECT_EQ(1, r.submit(0));
    // The first message waits (an IOSQE_ASYNC request is armed by a worker).
    EXPECT_EQ(5, write(p[1], "first", 5));
    iostack_io_uring_run_wakeups();
    append(&out, r.wait(1));
    const char* msgs[] = {"a", "bb", "ccc", "dddd", "eeeee", "ffffff"};
    for (const char* m : msgs) {
      const auto len = static_cast<ssize_t>(std::strlen(m));
      EXPECT_EQ(len, write(p[1], m, static_cast<size_t>(len)));
      iostack_io_uring_run_wakeups();
      auto c = r.reap();  // no enter
      out.push_back(Cqe{100, static_cast<int>(c.size()), 0});
      append(&out, c);
    }
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    return out;
  });
}

TEST(UringRwMoreDiff, ReadMultishotReadsInsideTheWrite) {
  SKIP_WITHOUT_KERNEL_URING();
  reads_inside_the_write(false);
}

TEST(UringRwMoreDiff, ReadMultishotAsyncReadsInsideTheWrite) {
  SKIP_WITHOUT_KERNEL_URING();
  reads_inside_the_write(true);
}

}  // namespace
}  // namespace uring_test
