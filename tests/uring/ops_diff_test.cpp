// Differential op sequences: the same SQEs through the kernel's io_uring and
// through iostack's, comparing every CQE (res, flags, order).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A scratch file with known contents, fresh for each backend.
struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(std::size_t size, int flags = O_RDWR) {
    char tmpl[] = "/tmp/iostack-uring-XXXXXX";
    const int t = mkstemp(tmpl);
    path = tmpl;
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
    if (size) {
      EXPECT_EQ(static_cast<ssize_t>(size), write(t, data.data(), size));
    }
    ::close(t);
    fd = open(path.c_str(), flags | O_CLOEXEC);
  }
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    unlink(path.c_str());
  }
};

using Seq = std::function<std::vector<Cqe>(Ring&)>;

void compare(const Seq& seq, unsigned entries = 16, io_uring_params params = {}) {
  compare_with_kernel(seq, entries, params);
}

TEST(UringOpsDiff, Nops) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    for (int i = 0; i < 5; ++i) prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 100 + i);
    EXPECT_EQ(5, r.submit(5));
    return r.reap();
  });
}

TEST(UringOpsDiff, NopInjectedResult) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, static_cast<unsigned>(-EIO), 0, 1);
    s->rw_flags = IORING_NOP_INJECT_RESULT;
    EXPECT_EQ(1, r.submit(1));
    return r.reap();
  });
}

TEST(UringOpsDiff, UnknownOpcodeStopsTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    prep(r.sqe(), 200, -1, nullptr, 0, 0, 2);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    const unsigned n = r.flush();
    std::vector<Cqe> v;
    v.push_back(Cqe{0, r.enter(n, 0, 0), 0});  // how many were consumed
    auto c = r.reap();
    v.insert(v.end(), c.begin(), c.end());
    v.push_back(Cqe{0, r.enter(1, 1, IORING_ENTER_GETEVENTS), 0});
    c = r.reap();
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, BadSqeFlagsAndIoprio) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0x80);
    EXPECT_EQ(1, r.submit(1));
    s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    s->ioprio = 1;
    EXPECT_EQ(1, r.submit(1));
    s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    s->personality = 5;
    EXPECT_EQ(1, r.submit(1));
    return r.reap();
  });
}

TEST(UringOpsDiff, ReadWriteOnFiles) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(8192);
    std::vector<Cqe> out;
    char buf[4096];
    char wbuf[4096];
    std::memset(wbuf, 'Z', sizeof(wbuf));
    prep(r.sqe(), IORING_OP_WRITE, f.fd, wbuf, 4096, 4096, 1);
    prep(r.sqe(), IORING_OP_READ, f.fd, buf, 4096, 0, 2);
    EXPECT_EQ(2, r.submit(2));
    auto c = r.wait(2);
    // Independent requests: the buffered write may finish on a worker.
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    out.insert(out.end(), c.begin(), c.end());
    EXPECT_EQ('a', buf[0]);
    EXPECT_EQ('b', buf[1]);
    // Vectored, across the boundary of the two halves.
    char a[100], b[200];
    struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    prep(r.sqe(), IORING_OP_READV, f.fd, iov, 2, 4000, 3);
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    EXPECT_EQ('Z', b[199]);
    // Past the end: short, then nothing.
    prep(r.sqe(), IORING_OP_READ, f.fd, buf, 4096, 8000, 4);
    prep(r.sqe(), IORING_OP_READ, f.fd, buf, 4096, 9000, 5);
    EXPECT_EQ(2, r.submit(2));
    c = r.wait(2);
    out.insert(out.end(), c.begin(), c.end());
    // WRITEV appending data, then reading it back.
    struct iovec wv[2] = {{wbuf, 10}, {wbuf, 20}};
    prep(r.sqe(), IORING_OP_WRITEV, f.fd, wv, 2, 8192, 6);
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    struct stat st;
    fstat(f.fd, &st);
    out.push_back(Cqe{7, static_cast<int>(st.st_size), 0});
    return out;
  });
}

TEST(UringOpsDiff, OffsetMinusOneUsesAndAdvancesFilePosition) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(1000);
    char buf[300];
    std::vector<Cqe> out;
    lseek(f.fd, 100, SEEK_SET);
    for (int i = 0; i < 4; ++i) {
      prep(r.sqe(), IORING_OP_READ, f.fd, buf, 300, static_cast<std::uint64_t>(-1), 10 + i);
      EXPECT_EQ(1, r.submit(1));
      auto c = r.wait(1);
      out.insert(out.end(), c.begin(), c.end());
      out.push_back(Cqe{20u + i, static_cast<int>(lseek(f.fd, 0, SEEK_CUR)), 0});
      out.push_back(Cqe{30u + i, buf[0], 0});
    }
    return out;
  });
}

TEST(UringOpsDiff, BadFdsAndModes) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile ro(100, O_RDONLY);
    TempFile wo(100, O_WRONLY);
    char buf[64] = {};
    prep(r.sqe(), IORING_OP_READ, -1, buf, 64, 0, 1);
    prep(r.sqe(), IORING_OP_READ, 9999, buf, 64, 0, 2);
    prep(r.sqe(), IORING_OP_WRITE, ro.fd, buf, 64, 0, 3);
    prep(r.sqe(), IORING_OP_READ, wo.fd, buf, 64, 0, 4);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, 0, buf, 64, 0, 5);
    s->flags = IOSQE_FIXED_FILE;  // no files registered
    EXPECT_EQ(5, r.submit(5));
    return r.wait(5);
  });
}

TEST(UringOpsDiff, LinkWithFailingMemberCancelsTheRest) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    char buf[16];
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_READ, -1, buf, 16, 0, 2);
    s->flags = IOSQE_IO_LINK;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 4);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 5);  // not part of the chain
    EXPECT_EQ(5, r.submit(5));
    return r.wait(5);
  });
}

TEST(UringOpsDiff, HardlinkContinuesAfterFailure) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    char buf[16];
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, -1, buf, 16, 0, 1);
    s->flags = IOSQE_IO_HARDLINK;
    s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    EXPECT_EQ(2, r.submit(2));
    return r.wait(2);
  });
}

TEST(UringOpsDiff, InitFailureInsideALinkFailsTheChain) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->flags = IOSQE_IO_LINK;
    add(r, 222, -1, nullptr, 0, 0, 2, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    std::vector<Cqe> v;
    v.push_back(Cqe{0, r.submit(0), 0});
    auto c = r.wait(3);
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, ShortReadBreaksLink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(100);
    char buf[4096];
    add(r, IORING_OP_READ, f.fd, buf, 4096, 0, 1, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    EXPECT_EQ(2, r.submit(2));
    return r.wait(2);
  });
}

TEST(UringOpsDiff, CqeSkipSuccess) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    char buf[8];
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->flags = IOSQE_CQE_SKIP_SUCCESS;
    add(r, IORING_OP_READ, -1, buf, 8, 0, 2, IOSQE_CQE_SKIP_SUCCESS);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    EXPECT_EQ(3, r.submit(0));
    auto v = r.wait(2);
    // Drain is refused once CQE_SKIP_SUCCESS was used.
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, IOSQE_IO_DRAIN);
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, DrainWaitsForEverythingBefore) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    char buf[8];
    // A read that waits for the pipe, then a drained NOP behind it.
    prep(r.sqe(), IORING_OP_READ, p[0], buf, 8, 0, 1);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, IOSQE_IO_DRAIN);
    EXPECT_EQ(3, r.submit(0));
    auto v = r.wait(1, 200);  // only the plain NOP
    EXPECT_EQ(5, write(p[1], "hello", 5));
    auto c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringOpsDiff, Timeouts) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> v;
    __kernel_timespec ts{0, 20 * 1000 * 1000};
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &ts, 1, 0, 1);
    EXPECT_EQ(1, r.submit(1));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    // A count of 2 completions fires before the long timer.
    __kernel_timespec longts{10, 0};
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &longts, 1, 2, 2);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 4);
    EXPECT_EQ(3, r.submit(0));
    c = r.wait(3);
    v.insert(v.end(), c.begin(), c.end());
    // Remove: unknown, then a live one.
    prep(r.sqe(), IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 5);
    r.sqe_at(0);
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &longts, 1, 0, 6);
    EXPECT_EQ(1, r.submit(0));
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 7);
    s->addr = 6;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    // Absolute time in the past, bad len, negative time.
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    __kernel_timespec past{now.tv_sec - 1, 0};
    s = r.sqe();
    prep(s, IORING_OP_TIMEOUT, -1, &past, 1, 0, 8);
    s->timeout_flags = IORING_TIMEOUT_ABS;
    EXPECT_EQ(1, r.submit(0));
    // Init failures end a batch: one per submit.
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &ts, 2, 0, 9);
    EXPECT_EQ(1, r.submit(0));
    __kernel_timespec neg{-1, 0};
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &neg, 1, 0, 10);
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(3);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, WaitTimeoutReturnsEtime) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    __kernel_timespec ts{0, 10 * 1000 * 1000};
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
    std::vector<Cqe> v;
    v.push_back(
        Cqe{1, r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg)), 0});
    v.push_back(Cqe{2, r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, 8), 0});
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    r.flush();
    v.push_back(
        Cqe{3, r.enter(1, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg)), 0});
    auto c = r.reap();
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, LinkTimeout) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    char buf[8];
    __kernel_timespec ts{0, 20 * 1000 * 1000};
    // The read never completes: the timeout cancels it.
    add(r, IORING_OP_READ, p[0], buf, 8, 0, 1, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_LINK_TIMEOUT, -1, &ts, 1, 0, 2);
    EXPECT_EQ(2, r.submit(0));
    auto v = r.wait(2);
    // The NOP finishes first: the timeout is cancelled.
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_LINK_TIMEOUT, -1, &ts, 1, 0, 4);
    EXPECT_EQ(2, r.submit(0));
    auto c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    // A link timeout with nothing to guard is an init failure.
    prep(r.sqe(), IORING_OP_LINK_TIMEOUT, -1, &ts, 1, 0, 5);
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringOpsDiff, AsyncCancel) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    char buf[8];
    std::vector<Cqe> v;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 1);
    s->addr = 12345;
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    // A read parked on the pipe.
    prep(r.sqe(), IORING_OP_READ, p[0], buf, 8, 0, 2);
    EXPECT_EQ(1, r.submit(0));
    s = r.sqe();
    prep(s, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 3);
    s->addr = 2;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    // A timeout.
    __kernel_timespec longts{10, 0};
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &longts, 1, 0, 4);
    EXPECT_EQ(1, r.submit(0));
    s = r.sqe();
    prep(s, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 5);
    s->addr = 4;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringOpsDiff, FixedBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(8192);
    static char mem[8192];
    struct iovec iov {
      mem, 4096
    };
    std::vector<Cqe> v;
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_BUFFERS, &iov, 1), 0});
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_BUFFERS, &iov, 1), 0});  // busy
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ_FIXED, f.fd, mem, 4096, 0, 1);
    s = r.sqe();
    prep(s, IORING_OP_READ_FIXED, f.fd, mem + 100, 4096, 0, 2);  // runs past the buffer
    s = r.sqe();
    prep(s, IORING_OP_READ_FIXED, f.fd, mem, 16, 0, 3);
    s->buf_index = 5;
    s = r.sqe();
    prep(s, IORING_OP_WRITE_FIXED, f.fd, mem + 10, 100, 0, 4);
    EXPECT_EQ(4, r.submit(0));
    auto c = r.wait(4);
    v.insert(v.end(), c.begin(), c.end());
    v.push_back(Cqe{0, r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0), 0});
    v.push_back(Cqe{0, r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0), 0});
    return v;
  });
}

TEST(UringOpsDiff, FixedFiles) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(4096);
    char buf[64];
    std::vector<Cqe> v;
    int fds[3] = {-1, f.fd, -1};
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 3), 0});
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, 1, buf, 64, 0, 1);
    s->flags = IOSQE_FIXED_FILE;
    s = r.sqe();
    prep(s, IORING_OP_READ, 0, buf, 64, 0, 2);  // empty slot
    s->flags = IOSQE_FIXED_FILE;
    s = r.sqe();
    prep(s, IORING_OP_READ, 7, buf, 64, 0, 3);  // beyond the table
    s->flags = IOSQE_FIXED_FILE;
    EXPECT_EQ(3, r.submit(0));
    auto c = r.wait(3);
    v.insert(v.end(), c.begin(), c.end());
    int upd[1] = {f.fd};
    io_uring_files_update fu{};
    fu.offset = 2;
    fu.fds = reinterpret_cast<std::uintptr_t>(upd);
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES_UPDATE, &fu, 1), 0});
    fu.offset = 3;
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES_UPDATE, &fu, 1), 0});
    add(r, IORING_OP_READ, 2, buf, 64, 100, 4, IOSQE_FIXED_FILE);
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    v.push_back(Cqe{0, r.reg(IORING_UNREGISTER_FILES, nullptr, 0), 0});
    v.push_back(Cqe{0, r.reg(IORING_UNREGISTER_FILES, nullptr, 0), 0});
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 0), 0});
    int self[1] = {r.fd()};
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES, self, 1), 0});
    return v;
  });
}

TEST(UringOpsDiff, CqOverflowWithNodrop) {
  SKIP_WITHOUT_KERNEL_URING();
  compare(
      [](Ring& r) {
        std::vector<Cqe> v;
        // 4 SQ / 8 CQ entries: 12 NOPs overflow the CQ by 4.
        for (int batch = 0; batch < 3; ++batch) {
          for (int i = 0; i < 4; ++i)
            prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, batch * 4 + i);
          v.push_back(Cqe{1000, r.submit(0), 0});
        }
        v.push_back(Cqe{1001, static_cast<int>(r.sq_flags() & IORING_SQ_CQ_OVERFLOW), 0});
        v.push_back(Cqe{1002, static_cast<int>(r.cq_overflow()), 0});
        v.push_back(Cqe{1003, static_cast<int>(r.cq_ready()), 0});
        auto c = r.reap();
        v.insert(v.end(), c.begin(), c.end());
        v.push_back(Cqe{1004, r.enter(0, 0, IORING_ENTER_GETEVENTS), 0});
        c = r.reap();
        v.insert(v.end(), c.begin(), c.end());
        v.push_back(Cqe{1005, static_cast<int>(r.sq_flags() & IORING_SQ_CQ_OVERFLOW), 0});
        return v;
      },
      4);
}

TEST(UringOpsDiff, DroppedSqIndex) {
  SKIP_WITHOUT_KERNEL_URING();
  compare(
      [](Ring& r) {
        std::vector<Cqe> v;
        for (unsigned i = 0; i < 3; ++i) prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 50 + i);
        r.sq_array()[1] = 100;  // out of range: dropped
        const unsigned n = r.flush();
        v.push_back(Cqe{1, r.enter(n, 0, 0), 0});
        v.push_back(Cqe{2, static_cast<int>(r.sq_dropped()), 0});
        v.push_back(Cqe{3, r.enter(n, 0, 0), 0});
        auto c = r.reap();
        v.insert(v.end(), c.begin(), c.end());
        return v;
      },
      4);
}

TEST(UringOpsDiff, PollAddAndRemove) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    std::vector<Cqe> v;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 1);
    s->poll32_events = POLLIN;
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(1, write(p[1], "x", 1));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    // Writable right away.
    s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, p[1], nullptr, 0, 0, 2);
    s->poll32_events = POLLOUT;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    // Remove one that is armed, then one that does not exist.
    char drain[8];
    EXPECT_EQ(1, read(p[0], drain, sizeof(drain)));
    s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 3);
    s->poll32_events = POLLIN;
    EXPECT_EQ(1, r.submit(0));
    s = r.sqe();
    prep(s, IORING_OP_POLL_REMOVE, -1, nullptr, 0, 0, 4);
    s->addr = 3;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(2);
    v.insert(v.end(), c.begin(), c.end());
    s = r.sqe();
    prep(s, IORING_OP_POLL_REMOVE, -1, nullptr, 0, 0, 5);
    s->addr = 77;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    // Regular files are always ready.
    TempFile f(10);
    s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, f.fd, nullptr, 0, 0, 6);
    s->poll32_events = POLLIN | POLLOUT;
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringOpsDiff, FileOps) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(4096);
    std::vector<Cqe> v;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1);
    s = r.sqe();
    prep(s, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 2);
    s->fsync_flags = IORING_FSYNC_DATASYNC;
    s = r.sqe();
    prep(s, IORING_OP_SYNC_FILE_RANGE, f.fd, nullptr, 4096, 0, 4);
    s = r.sqe();
    prep(s, IORING_OP_FALLOCATE, f.fd, reinterpret_cast<void*>(65536), 0, 0, 5);
    s = r.sqe();
    prep(s, IORING_OP_FADVISE, f.fd, nullptr, 4096, 0, 6);
    s->fadvise_advice = POSIX_FADV_DONTNEED;
    s = r.sqe();
    prep(s, IORING_OP_FADVISE, f.fd, nullptr, 4096, 0, 7);
    s->fadvise_advice = 99;
    s = r.sqe();
    prep(s, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 3);
    s->fsync_flags = 2;  // unknown flag: an init failure, which ends the batch
    EXPECT_EQ(7, r.submit(0));
    auto c = r.wait(7);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    v.insert(v.end(), c.begin(), c.end());
    struct stat st;
    fstat(f.fd, &st);
    v.push_back(Cqe{8, static_cast<int>(st.st_size), 0});
    return v;
  });
}

TEST(UringOpsDiff, OpenStatxClose) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(1234);
    std::vector<Cqe> v;
    struct statx stx {};
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, f.path.c_str(), 0, 0, 1);
    s->open_flags = O_RDONLY | O_CLOEXEC;
    s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, "/nonexistent/iostack", 0, 0, 2);
    s->open_flags = O_RDONLY;
    s = r.sqe();
    prep(s, IORING_OP_STATX, AT_FDCWD, f.path.c_str(), STATX_SIZE, 0, 3);
    s->addr2 = reinterpret_cast<std::uintptr_t>(&stx);
    EXPECT_EQ(3, r.submit(0));
    auto c = r.wait(3);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    const int opened = c[0].res;
    EXPECT_GE(opened, 0);
    c[0].res = opened >= 0;
    v.insert(v.end(), c.begin(), c.end());
    v.push_back(Cqe{4, static_cast<int>(stx.stx_size), 0});
    prep(r.sqe(), IORING_OP_CLOSE, opened, nullptr, 0, 0, 5);
    prep(r.sqe(), IORING_OP_CLOSE, opened, nullptr, 0, 0, 6);  // already closed
    prep(r.sqe(), IORING_OP_CLOSE, r.fd(), nullptr, 0, 0, 7);  // the ring itself
    EXPECT_EQ(3, r.submit(0));
    c = r.wait(3);
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, AsyncFlagAndLinkedAsync) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    TempFile f(4096);
    char buf[64];
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->flags = IOSQE_ASYNC | IOSQE_IO_LINK;
    add(r, IORING_OP_READ, f.fd, buf, 64, 10, 2, IOSQE_ASYNC | IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    EXPECT_EQ(3, r.submit(3));
    return r.wait(3);
  });
}

TEST(UringOpsDiff, SubmitAllContinuesPastFailures) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SUBMIT_ALL;
  compare(
      [](Ring& r) {
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
        prep(r.sqe(), 201, -1, nullptr, 0, 0, 2);
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
        std::vector<Cqe> v;
        v.push_back(Cqe{0, r.submit(0), 0});
        auto c = r.wait(3);
        v.insert(v.end(), c.begin(), c.end());
        return v;
      },
      8, p);
}

TEST(UringOpsDiff, TimeoutUpdate) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    __kernel_timespec longts{10, 0};
    __kernel_timespec shortts{0, 10 * 1000 * 1000};
    prep(r.sqe(), IORING_OP_TIMEOUT, -1, &longts, 1, 0, 1);
    EXPECT_EQ(1, r.submit(0));
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 2);
    s->addr = 1;
    s->addr2 = reinterpret_cast<std::uintptr_t>(&shortts);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;
    EXPECT_EQ(1, r.submit(0));
    auto v = r.wait(2);
    s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 3);
    s->addr = 99;
    s->addr2 = reinterpret_cast<std::uintptr_t>(&shortts);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, DrainInsideALink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->flags = IOSQE_IO_LINK;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, IOSQE_IO_DRAIN);
    EXPECT_EQ(2, r.submit(2));
    auto v = r.wait(2);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    EXPECT_EQ(1, r.submit(1));
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    return v;
  });
}

TEST(UringOpsDiff, MultishotPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, p[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1);
    s->poll32_events = POLLIN;
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(1, write(p[1], "a", 1));
    auto v = r.wait(1);
    char c;
    EXPECT_EQ(1, read(p[0], &c, 1));
    EXPECT_EQ(1, write(p[1], "b", 1));
    auto more = r.wait(1);
    v.insert(v.end(), more.begin(), more.end());
    s = r.sqe();
    prep(s, IORING_OP_POLL_REMOVE, -1, nullptr, 0, 0, 2);
    s->addr = 1;
    EXPECT_EQ(1, r.submit(0));
    more = r.wait(2);
    std::sort(more.begin(), more.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    v.insert(v.end(), more.begin(), more.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringOpsDiff, ProbeReportsASubsetOfTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  auto probe = [](Backend& b) {
    Ring r(&b);
    EXPECT_GE(r.init(4), 0);
    const unsigned n = 256;
    std::vector<char> buf(sizeof(io_uring_probe) + n * sizeof(io_uring_probe_op), 0);
    auto* p = reinterpret_cast<io_uring_probe*>(buf.data());
    EXPECT_EQ(0, r.reg(IORING_REGISTER_PROBE, p, n));
    std::vector<int> ops;
    for (unsigned i = 0; i < p->ops_len; ++i)
      if (p->ops[i].flags & IO_URING_OP_SUPPORTED) ops.push_back(p->ops[i].op);
    // The table's extent is the kernel's (6.18: IORING_OP_PIPE is the last).
    ops.push_back(1000 + p->last_op);
    ops.push_back(2000 + p->ops_len);
    // A dirty buffer is refused.
    buf[sizeof(io_uring_probe)] = 1;
    EXPECT_EQ(-EINVAL, r.reg(IORING_REGISTER_PROBE, buf.data(), 4));
    return ops;
  };
  auto k = probe(kb);
  auto o = probe(ib);
  for (int op : o) EXPECT_NE(std::find(k.begin(), k.end(), op), k.end()) << op;
  // last_op and ops_len, as the kernel reports them.
  EXPECT_EQ(k[k.size() - 2], o[o.size() - 2]);
  EXPECT_EQ(k.back(), o.back());
  o.resize(o.size() - 2);
  const std::vector<int> expect = {
      IORING_OP_NOP, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_READ_FIXED,
      IORING_OP_WRITE_FIXED, IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_SYNC_FILE_RANGE,
      IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT,
      IORING_OP_FALLOCATE, IORING_OP_OPENAT, IORING_OP_CLOSE, IORING_OP_STATX, IORING_OP_READ,
      IORING_OP_WRITE, IORING_OP_FADVISE,
      // The networking, provided-buffer and path ops (net_diff_test.cpp).
      IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_SEND,
      IORING_OP_RECV, IORING_OP_PROVIDE_BUFFERS, IORING_OP_REMOVE_BUFFERS, IORING_OP_SHUTDOWN,
      IORING_OP_RENAMEAT, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT, IORING_OP_SYMLINKAT,
      IORING_OP_LINKAT, IORING_OP_SOCKET, IORING_OP_SEND_ZC, IORING_OP_SENDMSG_ZC,
      55 /* FTRUNCATE */, 56 /* BIND */, 57 /* LISTEN */, 58 /* RECV_ZC */,
      // misc_ops_diff_test.cpp
      IORING_OP_EPOLL_CTL, IORING_OP_SPLICE, IORING_OP_TEE, IORING_OP_MSG_RING,
      54 /* FIXED_FD_INSTALL */, IORING_OP_OPENAT2, IORING_OP_MADVISE, IORING_OP_FGETXATTR,
      IORING_OP_FSETXATTR, IORING_OP_GETXATTR, IORING_OP_SETXATTR,
      // rw_more_diff_test.cpp
      49 /* READ_MULTISHOT */, 60 /* READV_FIXED */, 61 /* WRITEV_FIXED */,
      // rsrc_diff_test.cpp
      IORING_OP_FILES_UPDATE,
      // newer_ops_diff_test.cpp
      IORING_OP_URING_CMD, 59 /* EPOLL_WAIT */, 62 /* PIPE */,
      // futex_diff_test.cpp
      51 /* FUTEX_WAIT */, 52 /* FUTEX_WAKE */, 53 /* FUTEX_WAITV */,
      // waitid_diff_test.cpp
      50 /* WAITID */};
  std::sort(o.begin(), o.end());
  auto sorted = expect;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, o);
}

}  // namespace
}  // namespace uring_test
