// Differences iostack-fuzz found between the kernel's io_uring and
// iostack's, each reduced to a few SQEs and compared with the kernel (CQEs,
// io_uring_enter's submit count).
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

// A scratch file of 8 KiB, fresh for each backend.
struct Scratch {
  std::string path;
  int fd = -1;
  explicit Scratch(int flags = O_RDWR) {
    char tmpl[] = "/tmp/iostack-fuzzfound-XXXXXX";
    const int t = mkstemp(tmpl);
    path = tmpl;
    std::string data(8192, 'q');
    EXPECT_EQ(8192, write(t, data.data(), data.size()));
    ::close(t);
    fd = open(path.c_str(), flags | O_CLOEXEC);
  }
  ~Scratch() {
    if (fd >= 0) ::close(fd);
    unlink(path.c_str());
  }
};

using Seq = std::function<std::vector<Cqe>(Ring&)>;

void compare(const Seq& seq, unsigned entries = 8) { compare_with_kernel(seq, entries); }

constexpr unsigned kNopFile = 1u << 1, kNopFixedFile = 1u << 2, kNopFixedBuffer = 1u << 3,
                   kNopTw = 1u << 4, kNopCqe32 = 1u << 5;

TEST(UringFuzzFound, NopLooksUpFilesAndBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    auto nop = [&](std::uint64_t ud, unsigned flags, int fd, unsigned len) {
      io_uring_sqe* s = r.sqe();
      prep(s, IORING_OP_NOP, fd, nullptr, len, 0, ud);
      s->rw_flags = static_cast<int>(flags);
    };
    nop(1, kNopFile, 999, 0);                             // no such descriptor
    nop(2, kNopFile | IORING_NOP_INJECT_RESULT, 999, 7);  // the lookup wins over the injection
    nop(3, kNopFile, 0, 0);                               // stdin is open
    nop(4, kNopFile | kNopFixedFile, 0, 0);               // no registered files
    nop(5, kNopFixedBuffer | IORING_NOP_INJECT_RESULT, -1, 7);  // no registered buffers
    nop(6, kNopTw, -1, 0);
    return run(r, 6);
  });
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    s->rw_flags = static_cast<int>(kNopCqe32);  // not a CQE32 ring: stops the batch
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    return run(r, 1);
  });
}

TEST(UringFuzzFound, BufferSelectOnAReadIsNoBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    add(r, IORING_OP_READ, f.fd, buf, 64, 0, 1, IOSQE_BUFFER_SELECT);   // -ENOBUFS at issue
    add(r, IORING_OP_READV, f.fd, &iov, 1, 0, 2, IOSQE_BUFFER_SELECT);  // the same
    add(r, IORING_OP_READ, 999, buf, 64, 0, 3, IOSQE_BUFFER_SELECT);    // the file first
    add(r, IORING_OP_READV, f.fd, &iov, 2, 0, 4, IOSQE_BUFFER_SELECT);  // one iovec only: stops
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 5, 0);
    return run(r, 4);
  });
  compare([](Ring& r) {
    Scratch f;
    char buf[64] = {};
    add(r, IORING_OP_WRITE, f.fd, buf, 64, 0, 1, IOSQE_BUFFER_SELECT);  // no selection for writes
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    return run(r, 1);
  });
}

// With buffers provided, READ and READV read into them: the CQE carries
// IORING_CQE_F_BUFFER and the buffer id; an empty group is -ENOBUFS.
TEST(UringFuzzFound, BufferSelectOnAReadUsesProvidedBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    std::vector<char> mem(3 * 100, 0);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 3, mem.data(), 100, 40, 1);  // bids 40..42
    s->buf_group = 5;
    auto out = run(r, 1);
    char unused[64];
    struct iovec iov = {unused, 30};  // READV: only its length counts
    s = r.sqe();
    prep(s, IORING_OP_READ, f.fd, nullptr, 0, 0, 2);  // the whole buffer
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 5;
    s = r.sqe();
    prep(s, IORING_OP_READV, f.fd, &iov, 1, 8150, 3);  // 30 asked, 42 left: 30
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 5;
    s = r.sqe();
    prep(s, IORING_OP_READ, f.fd, nullptr, 50, 8180, 4);  // 12 bytes to the end
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 5;
    s = r.sqe();
    prep(s, IORING_OP_READ, f.fd, nullptr, 50, 0, 5);  // the group is empty
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 5;
    auto c = run(r, 4);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{6, static_cast<int>(std::count(mem.begin(), mem.end(), 'q')), 0});
    return out;
  });
}

TEST(UringFuzzFound, FixedBufferOfABadDescriptorIsEbadf) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    char buf[64];
    prep(r.sqe(), IORING_OP_READ_FIXED, 999, buf, 64, 0, 1);  // no buffers either
    return run(r, 1);
  });
}

TEST(UringFuzzFound, ReadWriteChecksComeInTheKernelsOrder) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch wo(O_WRONLY);
    Scratch rw;
    const int efd = eventfd(0, EFD_CLOEXEC);
    char buf[64] = {};
    std::uint64_t one = 1;
    // Not open for reading, negative offset: the access mode is checked first.
    prep(r.sqe(), IORING_OP_READ, wo.fd, buf, 8, 1ULL << 63, 1);
    // RWF_HIPRI without IOPOLL, also for nothing to read.
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, rw.fd, buf, 0, 0, 2);
    s->rw_flags = RWF_HIPRI;
    // Flags no kernel knows, RWF_ATOMIC on a read.
    s = r.sqe();
    prep(s, IORING_OP_READ, rw.fd, buf, 8, 0, 3);
    s->rw_flags = 0x200;
    s = r.sqe();
    prep(s, IORING_OP_READ, rw.fd, buf, 8, 0, 4);
    s->rw_flags = 0x40;
    // A zero-length read of an eventfd; a huge offset on an eventfd.
    prep(r.sqe(), IORING_OP_READ, efd, buf, 0, 0, 5);
    prep(r.sqe(), IORING_OP_WRITE, efd, &one, 8, 1ULL << 63, 6);
    // RWF_NOSIGNAL on an eventfd write (io_uring ignores it there).
    s = r.sqe();
    prep(s, IORING_OP_WRITE, efd, &one, 8, 0, 7);
    s->rw_flags = 0x100;
    auto v = run(r, 7);
    // The ring's exit waits for its workers, which may still hold the
    // descriptor after posting (and says so to ThreadSanitizer).
    r.exit();
    ::close(efd);
    return v;
  });
  compare([](Ring& r) {
    const int efd = eventfd(2, EFD_CLOEXEC);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(8, write(p[1], "abcdefgh", 8));
    char buf[64] = {};
    // RWF_DONTCACHE where the file has no page cache to drop.
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, efd, buf, 8, 0, 1);
    s->rw_flags = 0x80;
    // An empty eventfd write never reaches the eventfd: 0.
    prep(r.sqe(), IORING_OP_WRITE, efd, buf, 0, 0, 2);
    // A pipe ignores offsets, but not one whose end overflows.
    prep(r.sqe(), IORING_OP_READ, p[0], buf, 8, 0x7fffffffffffffffULL, 3);
    auto v = run(r, 3);
    r.exit();
    ::close(efd);
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringFuzzFound, NowaitBufferedWriteIsEagainWhereTheFileSystemWouldBlock) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    char buf[64] = {};
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_WRITE, f.fd, buf, 64, 0, 1);
    s->rw_flags = RWF_NOWAIT;
    s = r.sqe();
    prep(s, IORING_OP_WRITE, f.fd, buf, 0, 0, 2);  // also when empty
    s->rw_flags = RWF_NOWAIT;
    return run(r, 2);
  });
}

TEST(UringFuzzFound, PollRemoveRefusesValuesItWouldNotApply) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1), 0, 1001, 1);  // new ud, no flag
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    auto v = run(r, 1);
    s = r.sqe();
    prep(s, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1), IORING_POLL_UPDATE_USER_DATA, 0,
         3);
    s->poll32_events = POLLIN;  // new events, no flag
    auto w = run(r, 1);
    v.insert(v.end(), w.begin(), w.end());
    return v;
  });
}

TEST(UringFuzzFound, PollOfFilesWithoutWaitQueuesAndOfRings) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, f.fd, nullptr, 0, 0, 1);
    s->poll32_events = POLLRDHUP;  // never ready on a regular file: -EINVAL
    s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, f.fd, nullptr, IORING_POLL_ADD_MULTI, 0, 2);
    s->poll32_events = POLLIN;  // ready: one CQE, no F_MORE
    s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 3);
    s->poll32_events = POLLIN | POLLOUT;  // a ring with SQ room: POLLOUT at once
    return run(r, 3);
  });
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_POLL_ADD, p[0], nullptr, IORING_POLL_ADD_LEVEL, 0, 1);  // refused at prep
    s->poll32_events = POLLIN;
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    auto v = run(r, 1);
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringFuzzFound, CancelByADescriptorThatIsNotOpen) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_ASYNC_CANCEL, 999, reinterpret_cast<void*>(1), 0, 0, 1);
    s->cancel_flags = IORING_ASYNC_CANCEL_FD;
    return run(r, 1);
  });
}

constexpr unsigned kTimeoutMultishot = 1u << 6;  // IORING_TIMEOUT_MULTISHOT (6.4)

io_uring_sqe* timeout_sqe(Ring& r, const __kernel_timespec* ts, std::uint32_t count, unsigned flags,
                          std::uint64_t ud, std::uint8_t sqe_flags = 0) {
  io_uring_sqe* s = add(r, IORING_OP_TIMEOUT, -1, ts, 1, count, ud, sqe_flags);
  s->timeout_flags = flags;
  return s;
}

// kTimeoutMultishot: `off` expiries (0: until cancelled), each
// -ETIME, all but the last with F_MORE; the last one fails its link unless
// IORING_TIMEOUT_ETIME_SUCCESS. Only relative periods are accepted.
TEST(UringFuzzFound, MultishotTimeoutRepeatsItsCount) {
  SKIP_WITHOUT_KERNEL_URING();
  static const __kernel_timespec ms{0, 1000000};
  compare([](Ring& r) {
    timeout_sqe(r, &ms, 3, kTimeoutMultishot, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    timeout_sqe(r, &ms, 2, kTimeoutMultishot | IORING_TIMEOUT_ETIME_SUCCESS, 3, IOSQE_IO_LINK);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
    return run(r, 7);
  });
  compare([](Ring& r) {
    timeout_sqe(r, &ms, 2, kTimeoutMultishot | IORING_TIMEOUT_ABS, 1);  // stops the batch
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    return run(r, 1);
  });
}

// Keeps the first `keep` CQEs of `ud`, then checks that the others until
// its last one are -ETIME with F_MORE (their number depends on timing).
std::vector<Cqe> squeeze_expiries(const std::vector<Cqe>& in, std::uint64_t ud, unsigned keep) {
  std::vector<Cqe> out;
  unsigned seen = 0;
  bool extra_ok = true;
  for (const Cqe& c : in) {
    if (c.user_data == ud && (c.flags & IORING_CQE_F_MORE) && seen++ >= keep) {
      extra_ok = extra_ok && c.res == -ETIME;
      continue;
    }
    out.push_back(c);
  }
  out.push_back(Cqe{ud, extra_ok, 0});
  return out;
}

// An update makes a multishot timeout repeat until it is removed; its
// removal ends it with -ECANCELED. (A removal that lands between an expiry
// and the next period finds nothing, on both: it is tried again.)
TEST(UringFuzzFound, MultishotTimeoutUpdatedRepeatsUntilRemoved) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    static const __kernel_timespec ten_s{10, 0}, period{0, 2000000};
    timeout_sqe(r, &ten_s, 2, kTimeoutMultishot, 1);
    io_uring_sqe* s = add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);
    s->addr2 = reinterpret_cast<std::uintptr_t>(&period);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;
    auto v = run(r, 4);  // the update, then three expiries: no end after two
    bool ended = false;
    for (int tries = 0; tries < 20 && !ended; ++tries) {
      add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(1), 0, 0, 3, 0);
      r.flush();
      EXPECT_EQ(1, r.enter(1, 0, 0));
      bool removed = false;
      int remove_res = 0;
      while (!removed || (remove_res == 0 && !ended)) {
        auto c = r.wait(1);
        if (c.empty()) return v;
        if (c[0].user_data == 3) {
          removed = true;
          remove_res = c[0].res;
          if (remove_res != -ENOENT) v.push_back(c[0]);
          continue;
        }
        v.push_back(c[0]);
        ended = ended || (c[0].user_data == 1 && !(c[0].flags & IORING_CQE_F_MORE));
      }
      if (remove_res != -ENOENT) break;
    }
    std::stable_sort(v.begin(), v.end(),
                     [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    return squeeze_expiries(v, 1, 3);
  });
}

// A multishot expiry that finds the CQ ring full ends the request: its last
// CQE (no F_MORE) waits in the overflow list.
TEST(UringFuzzFound, MultishotTimeoutEndsWhenTheRingIsFull) {
  SKIP_WITHOUT_KERNEL_URING();
  compare(
      [](Ring& r) {
        static const __kernel_timespec ms{0, 1000000};
        timeout_sqe(r, &ms, 5, kTimeoutMultishot, 1);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        // Each expiry ends a wait; nothing is reaped until one overflows
        // (or, at worst, for five seconds).
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (now = t0; now.tv_sec - t0.tv_sec < 5 && !(r.sq_flags() & IORING_SQ_CQ_OVERFLOW);
             clock_gettime(CLOCK_MONOTONIC, &now)) {
          __kernel_timespec ts{1, 0};
          io_uring_getevents_arg arg{};
          arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
          r.enter(0, 3, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
        }
        v.push_back(Cqe{2, static_cast<int>(r.cq_ready()), r.sq_flags() & IORING_SQ_CQ_OVERFLOW});
        auto c = r.reap();
        v.insert(v.end(), c.begin(), c.end());
        c = r.wait(1);  // the overflowed end
        v.insert(v.end(), c.begin(), c.end());
        v.push_back(Cqe{3, static_cast<int>(r.cq_overflow()), 0});
        return v;
      },
      1);
}

// TIMEOUT, LINK_TIMEOUT and TIMEOUT_REMOVE refuse addr3 and the pad after
// it, which they do not use (a 6.18 stable fix).
TEST(UringFuzzFound, TimeoutsRefuseUnusedFields) {
  SKIP_WITHOUT_KERNEL_URING();
  static const __kernel_timespec ms{0, 1000000};
  compare([](Ring& r) {
    timeout_sqe(r, &ms, 0, 0, 1)->addr3 = 1;  // stops the batch
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    return run(r, 1);
  });
  compare([](Ring& r) {
    add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(9), 0, 0, 1, 0)->addr3 = 1;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    return run(r, 1);
  });
  compare([](Ring& r) {
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_LINK_TIMEOUT, -1, &ms, 1, 0, 2, 0)->__pad2[0] = 1;  // fails the chain
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
    return run(r, 2);
  });
}

// A timeout whose time has already come (zero, or absolute in the past)
// fires at once in the kernel (its timer interrupt comes before the
// submitter moves on): before the batch's CQEs count for it, and before a
// later SQE of the batch can find it.
TEST(UringFuzzFound, TimeoutsDueAtOnceFireBeforeTheBatchEnds) {
  SKIP_WITHOUT_KERNEL_URING();
  static const __kernel_timespec zero{0, 0}, ms{0, 1000000}, ten_s{10, 0};
  compare([](Ring& r) {
    timeout_sqe(r, &zero, 3, 0, 1, IOSQE_IO_LINK);  // -ETIME, not 0: the chain fails
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    for (unsigned i = 0; i < 3; ++i) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3 + i, 0);
    timeout_sqe(r, &ms, 2, IORING_TIMEOUT_ABS, 6);  // long past on CLOCK_MONOTONIC
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 7, 0);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 8, 0);
    return run(r, 8);
  });
  compare([](Ring& r) {
    timeout_sqe(r, &zero, 0, 0, 1);
    add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);  // gone
    timeout_sqe(r, &ten_s, 4, 0, 3);
    io_uring_sqe* s = add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(3), 0, 0, 4, 0);
    s->addr2 = reinterpret_cast<std::uintptr_t>(&zero);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;                                      // now due
    add(r, IORING_OP_TIMEOUT_REMOVE, -1, reinterpret_cast<void*>(3), 0, 0, 5, 0);  // gone too
    return run(r, 5);
  });
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    char buf[8];
    add(r, IORING_OP_READ, p[0], buf, 8, 0, 1, IOSQE_IO_LINK);  // waits for data
    add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, 0);      // cancels it at once
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
    auto v = run(r, 3);
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// The kernel's rings hold files, not descriptors: after a CLOSE, a pending
// poll or a new ring must not take the number the program's next open()
// gets (iostack's own descriptors live high in the table).
TEST(UringFuzzFound, InternalDescriptorsLeaveLowNumbersFree) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    Scratch f;
    const int closed = f.fd;
    add(r, IORING_OP_CLOSE, closed, nullptr, 0, 0, 1, 0);
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 2, 0);
    s->poll32_events = POLLIN;  // stays armed
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    auto c = r.wait(1);
    v.insert(v.end(), c.begin(), c.end());
    f.fd = open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    v.push_back(Cqe{3, f.fd == closed, 0});  // the closed number comes back
    const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(probe);
    io_uring_params params{};
    const int ring2 = r.backend()->setup(2, &params);
    v.push_back(Cqe{4, ring2 == probe, 0});  // a ring takes one number, the lowest
    if (ring2 >= 0) r.backend()->close_ring(ring2);
    add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(2), 0, 0, 5, 0);
    auto w = run(r, 2);
    v.insert(v.end(), w.begin(), w.end());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// A read or write at the file position (offset -1) that faults after some
// bytes returns them, but the kernel stores the position back only when its last
// attempt did not fail: the descriptor's offset stays where it was.
TEST(UringFuzzFound, ShortTransferAtTheFilePositionEndingInAFaultKeepsThePosition) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    std::vector<char> buf(512);
    struct iovec iov[2] = {{buf.data(), 192}, {reinterpret_cast<void*>(1), 100}};
    add(r, IORING_OP_READV, f.fd, iov, 2, static_cast<std::uint64_t>(-1), 1, 0);
    auto v = run(r, 1);
    v.push_back(Cqe{2, static_cast<int>(lseek(f.fd, 0, SEEK_CUR)), 0});
    add(r, IORING_OP_READ, f.fd, buf.data(), 100, static_cast<std::uint64_t>(-1), 3, 0);
    auto w = run(r, 1);  // a whole read moves it
    v.insert(v.end(), w.begin(), w.end());
    v.push_back(Cqe{4, static_cast<int>(lseek(f.fd, 0, SEEK_CUR)), 0});
    // A write the same way: the rest goes to a worker, which faults.
    add(r, IORING_OP_WRITEV, f.fd, iov, 2, static_cast<std::uint64_t>(-1), 5, 0);
    w = run(r, 1);
    v.insert(v.end(), w.begin(), w.end());
    v.push_back(Cqe{6, static_cast<int>(lseek(f.fd, 0, SEEK_CUR)), 0});
    return v;
  });
}

// The same write to an O_APPEND file: the kernel leaves f_pos where it was
// before the write, not at the end of the file that the bytes written
// before the fault moved it to (seed 91428).
TEST(UringFuzzFound, AppendWriteEndingInAFaultKeepsThePosition) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f(O_WRONLY | O_APPEND);
    std::vector<char> buf(512, 'w');
    struct iovec iov[2] = {{buf.data(), 192}, {reinterpret_cast<void*>(1), 100}};
    add(r, IORING_OP_WRITEV, f.fd, iov, 2, static_cast<std::uint64_t>(-1), 1, 0);
    auto v = run(r, 1);
    v.push_back(Cqe{2, static_cast<int>(lseek(f.fd, 0, SEEK_CUR)), 0});
    struct stat st {};
    fstat(f.fd, &st);
    v.push_back(Cqe{3, static_cast<int>(st.st_size), 0});
    return v;
  });
}

// A fixed slot holds a file, not a descriptor: an OPENAT into one, or a
// registered file, leaves the lowest free number to the program's next
// open (seed 95244).
TEST(UringFuzzFound, FixedFilesLeaveDescriptorNumbersFree) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(probe);  // the lowest free number
    int fds[2] = {-1, 0};
    std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 2), 0}};
    io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, "/dev/null", 0, 0, 1, 0);
    s->open_flags = O_RDONLY;
    s->file_index = 1;
    append(&v, run(r, 1));
    const int again = open("/dev/null", O_RDONLY | O_CLOEXEC);
    v.push_back(Cqe{2, again == probe, 0});
    ::close(again);
    return v;
  });
}

TEST(UringFuzzFound, FsyncRangeAndFailuresThatKeepALink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    prep(r.sqe(), IORING_OP_FSYNC, f.fd, nullptr, 4096, static_cast<std::uint64_t>(-1), 1);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);  // not submitted: FSYNC stopped it
    return run(r, 1);
  });
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    // fsync, sync_file_range and fallocate of a pipe fail, statx of nothing
    // fails: none of them breaks its link.
    add(r, IORING_OP_FSYNC, p[1], nullptr, 0, 0, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_SYNC_FILE_RANGE, p[1], nullptr, 0, 0, 2, IOSQE_IO_LINK);
    add(r, IORING_OP_FALLOCATE, p[1], reinterpret_cast<void*>(4096), 0, 0, 3, IOSQE_IO_LINK);
    struct statx stx;
    io_uring_sqe* s = add(r, IORING_OP_STATX, AT_FDCWD, "/nonexistent-iostack", STATX_BASIC_STATS,
                          reinterpret_cast<std::uintptr_t>(&stx), 4, IOSQE_IO_LINK);
    (void)s;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 5, 0);
    auto v = run(r, 5);
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// A descriptor that is not open fails the lookup before the op runs
// (io_assign_file on the worker): that failure breaks the link, even for the
// ops whose own errors do not (seed 7014).
TEST(UringFuzzFound, SyncOpsOfADescriptorNotOpenBreakTheirLink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    char buf[8] = {};
    add(r, IORING_OP_SYNC_FILE_RANGE, 1 << 30, nullptr, 4096, 0, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    add(r, IORING_OP_FSYNC, 1 << 30, nullptr, 0, 0, 3, IOSQE_IO_LINK);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
    add(r, IORING_OP_FALLOCATE, 1 << 30, reinterpret_cast<void*>(4096), 0, 0, 5, IOSQE_IO_LINK);
    add(r, IORING_OP_WRITE, 1 << 30, buf, 1, 0, 6, 0);
    return run(r, 6);
  });
  compare([](Ring& r) {
    Scratch f(O_RDONLY);
    // fallocate of a file open for reading only: -EBADF from the op itself,
    // which keeps the link.
    add(r, IORING_OP_FALLOCATE, f.fd, reinterpret_cast<void*>(4096), 0, 0, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    return run(r, 2);
  });
}

// OPENAT issued not to block walks the dentry cache only: a name never
// looked up is -EAGAIN there and the open goes to io-wq (its CQE comes after
// the NOP's on a DEFER_TASKRUN ring); once its negative dentry is cached, the
// same open fails inline, before the NOP (seed 61437).
TEST(UringFuzzFound, OpenOfANameNotInTheDentryCacheGoesToAWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        char tmpl[] = "/tmp/iostack-fuzzfound-dir-XXXXXX";
        EXPECT_NE(nullptr, mkdtemp(tmpl));
        const int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        std::vector<Cqe> v;
        for (int round = 0; round < 2; ++round) {
          io_uring_sqe* s = add(r, IORING_OP_OPENAT, dfd, "missing", 0, 0, 1, 0);
          s->open_flags = O_RDONLY;
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
          append(&v, r.wait(2));  // in the order they were posted
        }
        ::close(dfd);
        rmdir(tmpl);
        return v;
      },
      8, p);
}

TEST(UringFuzzFound, LinkTimeoutOfARequestWithABadDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  // The head fails its descriptor lookup when issued, before its linked
  // timeout is armed: the timeout completes -ECANCELED, even a zero one.
  compare_submit_all([](Ring& r) {
    static char buf[512];
    struct iovec iov[1] = {{buf, 8}};
    add(r, IORING_OP_WRITEV, 999, iov, 1, static_cast<std::uint64_t>(-1), 6, IOSQE_IO_LINK);
    struct __kernel_timespec ts = {0, 0};
    add(r, IORING_OP_LINK_TIMEOUT, -1, &ts, 1, 0, 7, 0);
    return run(r, 2);
  });
}

TEST(UringFuzzFound, PollOfACharacterDeviceWithoutPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  // /dev/null has no poll method: what is ready completes the poll at once,
  // nothing asked for is -EINVAL (not a failed arming).
  compare([](Ring& r) {
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    add(r, IORING_OP_POLL_ADD, null, nullptr, 0, 0, 1, 0);
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, null, nullptr, 0, 0, 2, 0);
    s->poll32_events = POLLIN;
    s = add(r, IORING_OP_POLL_ADD, null, nullptr, IORING_POLL_ADD_MULTI, 0, 3, 0);
    s->poll32_events = POLLOUT;
    auto v = run(r, 3);
    ::close(null);
    return v;
  });
}

TEST(UringFuzzFound, ReadsOfTheRingItself) {
  SKIP_WITHOUT_KERNEL_URING();
  // The ring's file has no read method and no FMODE_NOWAIT: RWF_NOWAIT is
  // -EOPNOTSUPP before the offset is looked at; a plain read waits on poll
  // until a CQE is pending, then fails -EINVAL.
  compare([](Ring& r) {
    static char buf[64];
    io_uring_sqe* s = add(r, IORING_OP_READ, r.fd(), buf, 1, 1ull << 63, 1, 0);
    s->rw_flags = RWF_NOWAIT | RWF_DSYNC;
    auto v = run(r, 1);
    add(r, IORING_OP_READ, r.fd(), buf, 1, 0x2000, 2, 0);
    v.push_back(Cqe{100, r.enter(r.flush(), 0, 0), 0});
    Cqe c;
    v.push_back(Cqe{101, r.peek(&c) ? 1 : 0, 0});  // still waiting
    // The NOP's CQE wakes it. (Waiting for both without reaping: iostack's
    // poll thread may see the ring ready only while the CQE is pending.)
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
    v.push_back(Cqe{0, r.enter(r.flush(), 2, IORING_ENTER_GETEVENTS), 0});
    auto c2 = r.reap();
    sort_by_user_data(&c2);
    append(&v, c2);
    return v;
  });
}

// The ring's CQE posting wakes the polls of its own descriptor with the
// mask (EPOLLIN | EPOLL_URING_WAKE): they fire even when the program reaps
// the CQE before they could look, and a multishot one becomes one-shot.
TEST(UringFuzzFound, PollsOfTheRingFireOnItsCqeEvenWhenReaped) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    static char buf[64];
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0);
    s->poll32_events = POLLIN;
    s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 2, 0);
    s->poll32_events = POLLIN;
    add(r, IORING_OP_READ, r.fd(), buf, 1, 0, 3, 0);
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
    v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
    auto c = r.wait(4, 2000);  // reaps each CQE as soon as it is there
    sort_by_user_data(&c);
    append(&v, c);
    return v;
  });
}

// A multishot POLL_ADD of the ring that is ready when armed posts from
// task work; CQEs posted before that task work runs only take a reference
// (io_poll_get_ownership), so it asks the ring again: POLLIN | POLLOUT with
// F_MORE, then its own CQE's wakeup ends it with POLLIN (seeds 31541,
// 31567).
TEST(UringFuzzFound, MultishotPollOfTheRingLooksAgainAfterTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  for (bool nop_first : {false, true}) {
    compare([nop_first](Ring& r) {
      if (nop_first) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
      io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 2, 0);
      s->poll32_events = POLLIN | POLLOUT;
      add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
      return run(r, nop_first ? 4 : 3);
    });
  }
}

// A write linked behind a request on io-wq runs on that worker, which
// issues it to block and so clears the program's RWF_NOWAIT: a blocking
// eventfd takes it, where inline it would be -EAGAIN (seed 38772).
TEST(UringFuzzFound, LinkOnAWorkerDropsRwfNowait) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    const int efd = eventfd(0, EFD_CLOEXEC);
    static std::uint64_t one = 1;
    add(r, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1, IOSQE_IO_LINK);  // always on io-wq
    add(r, IORING_OP_WRITE, efd, &one, 8, 0, 2, 0)->rw_flags = RWF_NOWAIT;
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    auto c = r.wait(2, 5000);  // bounded: a hang shows as a missing CQE
    sort_by_user_data(&c);
    append(&v, c);
    std::uint64_t got = 0;
    v.push_back(
        Cqe{9, static_cast<std::int32_t>(read(efd, &got, 8)), static_cast<std::uint32_t>(got)});
    r.exit();
    ::close(efd);
    return v;
  });
}

// io_uring_poll counts a DEFER_TASKRUN ring's pending task work as readable
// (io_has_work): a completion from io-wq waiting for its submitter makes a
// POLL_ADD of the ring report POLLIN before any CQE is posted (seed 63093).
TEST(UringFuzzFound, PollOfADeferTaskrunRingSeesItsPendingWork) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        Scratch f;
        int efd = eventfd(0, EFD_CLOEXEC);
        EXPECT_EQ(0, r.reg(IORING_REGISTER_EVENTFD, &efd, 1));
        add(r, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1, 0);  // on io-wq
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        std::uint64_t n = 0;
        // The worker's completion is queued as the ring's task work, which
        // signals the eventfd; nothing runs it until the ring is waited on.
        v.push_back(Cqe{0, static_cast<int>(read(efd, &n, sizeof(n))), 0});
        v.push_back(Cqe{0, static_cast<int>(r.cq_ready()), 0});
        io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 2, 0);
        s->poll32_events = POLLIN | POLLOUT;
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        ::close(efd);
        return v;
      },
      8, p);
}

// A DEFER_TASKRUN ring's first POLL_ADD of itself activates the ring's poll
// wait queue by task work when the submitter returns (io_activate_pollwq):
// the NOP's CQE posted at the end of the same batch wakes nobody, and the
// activation's wakeup, without a mask, has the poll look at the ring again
// only when the program waits, after it reaped that CQE. The poll stays
// armed, and a cancel before that wait finds it (seeds 4783, 8747, 300404).
TEST(UringFuzzFound, FirstPollOfADeferTaskrunRingMissesTheCqesOfItsBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  for (const bool wait_first : {true, false}) {
    compare_with_kernel(
        [wait_first](Ring& r) {
          io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0);
          s->poll32_events = POLLIN;
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
          append(&v, r.wait(1));  // the NOP's
          // Runs the task work: the poll finds an empty ring and waits on.
          if (wait_first) append(&v, r.wait(1, 50));
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 3, 0);
          v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
          auto c = r.wait(2);
          sort_by_user_data(&c);
          append(&v, c);
          return v;
        },
        8, p);
  }
}

// Until the program waits, the activation's wakeup has the poll's task work
// queued, which owns it: a POLL_REMOVE from a later io_uring_enter answers
// -EALREADY (io_poll_disarm) and the poll stays armed; one in the same batch,
// before the submitter returned, removes it (seed 23977).
TEST(UringFuzzFound, PollRemoveOfADeferTaskrunRingsFirstPollOfItself) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  for (const bool same_batch : {false, true}) {
    compare_with_kernel(
        [same_batch](Ring& r) {
          io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0);
          s->poll32_events = POLLRDHUP;
          std::vector<Cqe> v;
          if (!same_batch) v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
          add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);
          v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
          auto c = r.wait(same_batch ? 2 : 1);
          sort_by_user_data(&c);
          append(&v, c);
          if (same_batch) return v;
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 3, 0);
          v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
          c = r.wait(2);
          sort_by_user_data(&c);
          append(&v, c);
          return v;
        },
        8, p);
  }
}

// A DEFER_TASKRUN ring's poll wait queue is activated by its first poll,
// and that activation's wakeup carries no mask: the read of the ring checks
// the ring again, finds the CQE that came meanwhile reaped, and goes on
// waiting until cancelled (seeds 41296, 64162).
TEST(UringFuzzFound, ReadOfADeferTaskrunRingRechecksItsFirstWakeup) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
        add(r, IORING_OP_READ, r.fd(), buf, 1, 0, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        append(&v, r.wait(1));       // the NOP's, reaped at once
        append(&v, r.wait(1, 500));  // runs the task work: nothing to post
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        return v;
      },
      8, p);
}

// A write of a ring asks io_uring_poll for POLLOUT before its offset is
// checked, and a full SQ ring gives none while its SQEs are being submitted
// (the head moves at the end of the batch). The write then waits on the
// ring's poll, which CQE postings wake only for POLLIN: it stays pending
// until cancelled, its offset never looked at (seed 61543).
TEST(UringFuzzFound, WriteOfTheRingFromAFullSqWaitsUntilCancelled) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    static char buf[64];
    for (std::uint64_t ud = 1; ud <= 7; ++ud) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud, 0);
    add(r, IORING_OP_WRITE, r.fd(), buf, 8, INT64_MAX, 8, 0);  // the eighth of 8 entries
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    auto c = r.wait(7);
    sort_by_user_data(&c);
    append(&v, c);
    append(&v, r.wait(1, 200));  // nothing more
    add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(8), 0, 0, 9, 0);
    v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
    c = r.wait(2);
    sort_by_user_data(&c);
    append(&v, c);
    return v;
  });
}

// The first poll of a DEFER_TASKRUN ring activates its poll wait queue,
// and the activation's task work wakes the ring's pollers without a mask: a
// write of the ring that found the SQ full retries then, finds room and
// fails -EINVAL (seed 102967); without that wakeup it would wait forever.
TEST(UringFuzzFound, WriteOfADeferTaskrunRingRetriesAtItsPollActivation) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        for (std::uint64_t ud = 1; ud <= 7; ++ud) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud, 0);
        add(r, IORING_OP_WRITE, r.fd(), buf, 8, 0, 8, 0);  // the SQ is full
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        auto c = r.wait(8);
        sort_by_user_data(&c);
        append(&v, c);
        return v;
      },
      8, p);
}

// A request linked behind one that ran on an io-wq worker runs on that
// worker (io_wq_free_work), and a read of an empty pipe blocks there. A
// cancel finds it running (-EALREADY) and the signal it sends ends the
// read with -EINTR; a cancel of everything, as at the ring's exit, does
// the same without counting it (seed 80262).
TEST(UringFuzzFound, ALinkBlockedOnAWorkerEndsWithEintrWhenCancelled) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const bool all : {false, true}) {
    compare([all](Ring& r) {
      Scratch f;
      int p[2];
      EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
      static char buf[64];
      add(r, IORING_OP_FALLOCATE, f.fd, reinterpret_cast<void*>(4096), 0, 0, 1, IOSQE_IO_LINK);
      add(r, IORING_OP_READ, p[0], buf, 8, 0, 2, 0);
      std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
      append(&v, r.wait(1));       // the FALLOCATE's
      append(&v, r.wait(1, 100));  // the read blocks
      io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
      if (all) s->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
      v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
      auto c = r.wait(2);
      sort_by_user_data(&c);
      append(&v, c);
      ::close(p[0]);
      ::close(p[1]);
      return v;
    });
  }
}

TEST(UringFuzzFound, PlainReadOfADirectoryIgnoresRwFlags) {
  SKIP_WITHOUT_KERNEL_URING();
  // loop_rw_iter ignores rw_flags where preadv2 refuses them: -EISDIR.
  compare([](Ring& r) {
    const int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    static char buf[64];
    io_uring_sqe* s = add(r, IORING_OP_READ, dir, buf, 8, 512, 1, 0);
    s->rw_flags = RWF_DSYNC;
    auto v = run(r, 1);
    // RWF_NOWAIT is refused first: a directory has no FMODE_NOWAIT, even
    // for a read of nothing (seed 101197).
    for (const unsigned len : {8u, 0u}) {
      s = add(r, IORING_OP_READ, dir, buf, len, 0, 2 + len, 0);
      s->rw_flags = RWF_NOWAIT | RWF_DSYNC;
      append(&v, run(r, 1));
    }
    ::close(dir);
    return v;
  });
}

TEST(UringFuzzFound, ReadMultishotOfAClosedDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    add(r, 49 /* READ_MULTISHOT */, 1 << 30, nullptr, 0, 0, 1, IOSQE_BUFFER_SELECT);
    return run(r, 1);
  });
  // The same on the io-wq worker that ran the request it is linked behind
  // (seed 61177).
  compare([](Ring& r) {
    Scratch f;
    add(r, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1, IOSQE_IO_HARDLINK);
    add(r, 49 /* READ_MULTISHOT */, 1 << 30, nullptr, 0, 0, 2, IOSQE_BUFFER_SELECT);
    return run(r, 2);
  });
}

TEST(UringFuzzFound, NowaitWriteOnAWorkerBlocks) {
  SKIP_WITHOUT_KERNEL_URING();
  // Issued to block (IOSQE_ASYNC), io_write clears IOCB_NOWAIT: the
  // program's RWF_NOWAIT no longer refuses a buffered write that the file
  // system cannot do without blocking. Inline it is -EAGAIN there.
  compare([](Ring& r) {
    Scratch f;
    io_uring_sqe* s = add(r, IORING_OP_WRITE, f.fd, "x", 1, 0x2000, 1, IOSQE_ASYNC);
    s->rw_flags = RWF_NOWAIT | RWF_DSYNC;
    auto v = run(r, 1);
    struct stat st;
    v.push_back(Cqe{2, fstat(f.fd, &st) == 0 ? static_cast<int>(st.st_size) : -1, 0});
    return v;
  });
}

// A request completed on an io-wq worker hands the next request of its link
// to that worker (io_wq_free_work), which issues it to block: the RWF_NOWAIT
// write behind an FSYNC is done there, where inline it would be -EAGAIN.
TEST(UringFuzzFound, ALinkBehindAWorkerRequestRunsOnTheWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    add(r, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1, IOSQE_IO_LINK);
    io_uring_sqe* s = add(r, IORING_OP_WRITE, f.fd, "x", 1, 0x2000, 2, IOSQE_IO_LINK);
    s->rw_flags = RWF_NOWAIT | RWF_DSYNC;
    s = add(r, IORING_OP_WRITE, f.fd, "y", 1, 0x3000, 3, 0);
    s->rw_flags = RWF_NOWAIT | RWF_DSYNC;
    auto v = run(r, 3);
    struct stat st;
    v.push_back(Cqe{4, fstat(f.fd, &st) == 0 ? static_cast<int>(st.st_size) : -1, 0});
    return v;
  });
}

// The worker's link waits for an empty pipe (iostack waits on poll, where
// the kernel's worker blocks) and completes once the program writes.
TEST(UringFuzzFound, ALinkBehindAWorkerRequestWaitsForAPipe) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    static char buf[8];
    add(r, IORING_OP_FSYNC, f.fd, nullptr, 0, 0, 1, IOSQE_IO_LINK);
    add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 2, 0);
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    v.push_back(Cqe{3, static_cast<int>(write(p[1], "ab", 2)), 0});
    auto c = r.wait(2);
    sort_by_user_data(&c);
    append(&v, c);
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// An eventfd's write cannot be tried without blocking; the kernel's poll
// finds the eventfd writable and retries it from task work before io-wq
// takes it, so a cancel right behind it in the batch does not find it
// (seed 60317).
TEST(UringFuzzFound, EventfdWriteIsNotFoundByACancelOfItsBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    const int efd = eventfd(2, EFD_CLOEXEC);
    static std::uint64_t val = 5;
    add(r, IORING_OP_WRITE, efd, &val, 8, 512, 1, 0);
    add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);
    auto v = run(r, 2);
    std::uint64_t got = 0;
    v.push_back(Cqe{3, static_cast<int>(read(efd, &got, sizeof(got))), 0});
    v.push_back(Cqe{4, static_cast<int>(got), 0});
    ::close(efd);
    return v;
  });
}

// An eventfd's write goes through loop_rw_iter, which refuses RWF_NOWAIT on
// a descriptor that may block before looking at the length: -EAGAIN even
// when empty, which breaks its link (seed 62185). On O_NONBLOCK it is 0.
TEST(UringFuzzFound, NowaitWriteOfABlockingEventfdIsEagainEvenWhenEmpty) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    const int efd = eventfd(2, EFD_CLOEXEC);
    const int nb = eventfd(2, EFD_CLOEXEC | EFD_NONBLOCK);
    static std::uint64_t val = 5;
    io_uring_sqe* s = add(r, IORING_OP_WRITE, efd, &val, 0, 512, 1, IOSQE_IO_LINK);
    s->rw_flags = RWF_NOWAIT;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    s = add(r, IORING_OP_WRITE, efd, &val, 8, 0, 3, 0);
    s->rw_flags = RWF_NOWAIT;
    s = add(r, IORING_OP_WRITE, nb, &val, 0, 0, 4, 0);
    s->rw_flags = RWF_NOWAIT;
    auto v = run(r, 4);
    ::close(efd);
    ::close(nb);
    return v;
  });
}

// An eventfd's write with any rw_flags runs where the kernel's does, in the
// submitter: a zero LINK_TIMEOUT behind it finds it done (-ENOENT), and
// RWF_HIPRI, ATOMIC and DONTCACHE are refused as the kernel refuses them (the
// last "to do" lines of eventfd writes on io-wq, not seen since).
TEST(UringFuzzFound, EventfdWriteWithRwFlagsRunsInline) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    const int efd = eventfd(0, EFD_CLOEXEC);
    static std::uint64_t one = 1;
    static __kernel_timespec zero{};
    std::vector<Cqe> v;
    // RWF_NOAPPEND, ATOMIC, DONTCACHE and NOSIGNAL (0x20-0x100) are newer
    // than this header.
    for (const int flags :
         {0, RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND, 0x20, 0x40, 0x80, 0x100}) {
      add(r, IORING_OP_WRITE, efd, &one, 8, 0, 1, IOSQE_IO_LINK)->rw_flags = flags;
      add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, 0);
      append(&v, run(r, 2));
    }
    ::close(efd);
    return v;
  });
}

// The eventfd write waiting for io-wq holds its file: a CLOSE of the
// descriptor behind it in the batch changes nothing (seed 65719).
TEST(UringFuzzFound, EventfdWriteOnItsWayToAWorkerHoldsItsFile) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    const int efd = eventfd(2, EFD_CLOEXEC);
    static std::uint64_t val = 5;
    add(r, IORING_OP_WRITE, efd, &val, 8, 0, 1, 0);
    add(r, IORING_OP_CLOSE, efd, nullptr, 0, 0, 2, 0);
    return run(r, 2);
  });
}

// /dev/null's uring_cmd has no iopoll method: -EOPNOTSUPP on an IOPOLL ring
// (seed 65734).
TEST(UringFuzzFound, UringCmdOnAnIopollRingNeedsAnIopollMethod) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_IOPOLL;
  compare_with_kernel(
      [](Ring& r) {
        const int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        add(r, IORING_OP_URING_CMD, fd, nullptr, 0, 0, 1, 0);
        auto v = run(r, 1);
        ::close(fd);
        return v;
      },
      8, p);
}

TEST(UringFuzzFound, CancelByFixedFileFindsTheSameFileByDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  // The kernel compares files, not how the request named them: a cancel by
  // registered slot finds a poll armed through the plain descriptor.
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    int fds[1] = {p[0]};
    EXPECT_EQ(0, r.reg(IORING_REGISTER_FILES, fds, 1));
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 1, 0);
    s->poll32_events = POLLIN;
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    s = add(r, IORING_OP_ASYNC_CANCEL, 0, nullptr, 0, 0, 2, 0);
    s->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED;
    append(&v, run(r, 2));
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

TEST(UringFuzzFound, AWorkerWritesToTheFileEvenAfterItsDescriptorIsClosed) {
  SKIP_WITHOUT_KERNEL_URING();
  // The request holds its file from its first issue: buffered writes that
  // went to io-wq complete after the program closed the descriptor.
  compare([](Ring& r) {
    Scratch f;
    const int fd = dup(f.fd);
    std::string big(32 << 20, 'w');
    add(r, IORING_OP_WRITE, fd, big.data(), static_cast<unsigned>(big.size()), 0, 1, 0);
    add(r, IORING_OP_WRITE, fd, "tail", 4, big.size(), 2, 0);
    std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
    ::close(fd);
    append(&v, run(r, 2));
    struct stat st;
    v.push_back(Cqe{3, fstat(f.fd, &st) == 0 ? static_cast<int>(st.st_size) : -1, 0});
    return v;
  });
}

TEST(UringFuzzFound, MultishotPollWithEpolloneshotIsOneShot) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(1, write(p[1], "x", 1));
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, p[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0);
    s->poll32_events = POLLIN | EPOLLONESHOT;
    auto v = run(r, 1);
    EXPECT_EQ(1, write(p[1], "y", 1));
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    append(&v, run(r, 1));  // no second readiness CQE
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// A multishot POLL_ADD of a file ready when armed posts that readiness
// once; then one CQE per wakeup. epoll's first event of the new
// registration is the same readiness, not a wakeup (seed 135, and the most
// frequent class of the campaigns before).
TEST(UringFuzzFound, MultishotPollReadyWhenArmedPostsItOnce) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const unsigned flags : {0u, unsigned{IORING_SETUP_COOP_TASKRUN},
                               unsigned{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN}}) {
    SCOPED_TRACE(flags);
    io_uring_params params{};
    params.flags = flags;
    compare_with_kernel(
        [](Ring& r) {
          int p[2];
          EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
          EXPECT_EQ(1, write(p[1], "x", 1));
          io_uring_sqe* s =
              add(r, IORING_OP_POLL_ADD, p[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0);
          s->poll32_events = POLLIN;
          std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};  // no wait
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          append(&v, run(r, 2));  // the poll's CQE and the NOP's
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
          append(&v, run(r, 1));  // nothing more from the poll
          append(&v, r.reap());
          EXPECT_EQ(1, write(p[1], "y", 1));  // a wakeup: one CQE
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
          append(&v, run(r, 2));
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 5, 0);
          append(&v, run(r, 2));
          append(&v, r.reap());
          ::close(p[0]);
          ::close(p[1]);
          return v;
        },
        8, params);
  }
}

// A multishot poll posts the mask its wakeup carries (io_poll_wake's key),
// not all that is ready: an eventfd write wakes with EPOLLIN, a read of it
// with EPOLLOUT; a pipe write wakes its readers with EPOLLIN|EPOLLRDNORM.
TEST(UringFuzzFound, MultishotPollPostsTheWakeupsMask) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const unsigned flags :
       {0u, unsigned{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN}}) {
    SCOPED_TRACE(flags);
    io_uring_params params{};
    params.flags = flags;
    compare_with_kernel(
        [](Ring& r) {
          const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
          io_uring_sqe* s =
              add(r, IORING_OP_POLL_ADD, efd, nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0);
          s->poll32_events = POLLIN | POLLOUT;
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          auto v = run(r, 2);  // POLLOUT, ready when armed
          const std::uint64_t one = 1;
          EXPECT_EQ(8, write(efd, &one, 8));  // EPOLLIN only, though it is writable too
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
          append(&v, run(r, 2));
          std::uint64_t got;
          EXPECT_EQ(8, read(efd, &got, 8));  // EPOLLOUT
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
          append(&v, run(r, 2));
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 5, 0);
          append(&v, run(r, 2));
          append(&v, r.reap());
          ::close(efd);
          return v;
        },
        8, params);
  }
  compare([](Ring& r) {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
    io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, p[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0);
    // (Not POLLOUT here, nor POLLIN on the write end: both ends' polls hang
    // on both of the pipe's wait queues, so the kernel's would also post a
    // reader's wakeup on the read end, which epoll does not report.)
    s->poll32_events = POLLIN | POLLRDNORM;
    s = add(r, IORING_OP_POLL_ADD, p[1], nullptr, IORING_POLL_ADD_MULTI, 0, 2, 0);
    s->poll32_events = POLLOUT;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
    auto v = run(r, 2);  // the write end is writable when armed
    EXPECT_EQ(3, write(p[1], "abc", 3));
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
    append(&v, run(r, 2));  // the read end: POLLIN|POLLRDNORM
    char b[8];
    EXPECT_EQ(3, read(p[0], b, sizeof(b)));
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 5, 0);
    // Nothing for the write end: a read wakes writers only from a full pipe.
    append(&v, run(r, 1));
    add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 6, 0);
    add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 7, 0);
    append(&v, run(r, 4));
    append(&v, r.reap());
    ::close(p[0]);
    ::close(p[1]);
    return v;
  });
}

// A cancel by descriptor takes that file as its own (io_async_cancel): on
// io-wq (IOSQE_ASYNC) it finds itself running there, -EALREADY, where
// nothing else matches; with CANCEL_ALL it does not count itself (seeds
// 200464, 200486: the "timing" class of -EALREADY against -ENOENT).
TEST(UringFuzzFound, CancelByDescriptorOnAWorkerFindsItself) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Scratch f;
    std::vector<Cqe> v;
    int fds[2] = {f.fd, -1};
    v.push_back(Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 2), 0});
    io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, f.fd, nullptr, 0, 0, 1, IOSQE_ASYNC);
    s->cancel_flags = IORING_ASYNC_CANCEL_FD;
    append(&v, run(r, 1));
    s = add(r, IORING_OP_ASYNC_CANCEL, 0, nullptr, 0, 0, 2, IOSQE_ASYNC | IOSQE_IO_LINK);
    s->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED;
    append(&v, run(r, 1));
    s = add(r, IORING_OP_ASYNC_CANCEL, f.fd, nullptr, 0, 0, 3, IOSQE_ASYNC);
    s->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    append(&v, run(r, 1));
    s = add(r, IORING_OP_ASYNC_CANCEL, f.fd, nullptr, 0, 0, 4, 0);  // inline: nothing
    s->cancel_flags = IORING_ASYNC_CANCEL_FD;
    append(&v, run(r, 1));
    // By user_data, its own.
    add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(5), 0, 0, 5, IOSQE_ASYNC);
    append(&v, run(r, 1));
    return v;
  });
}

// The extra words of a CQE32 ring's CQE belong to the request object, and
// only a CQE that carries them clears them (io_fill_cqe_req): a NOP with
// IORING_NOP_CQE32 and CQE_SKIP_SUCCESS leaves them to the next request that
// reuses its object from the ring's cache, whose CQE then carries them
// (seed 3018: a TIMEOUT's CQE with the words of the skipped NOP before it).
TEST(UringFuzzFound, SkippedCqe32WordsGoToTheNextRequest) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params params{};
  params.flags = IORING_SETUP_CQE32;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        auto nop = [&](std::uint64_t ud, unsigned flags, std::uint8_t sqe_flags) {
          io_uring_sqe* s =
              add(r, IORING_OP_NOP, -1, reinterpret_cast<void*>(0x22), 0, 0x11, ud, sqe_flags);
          s->rw_flags = static_cast<int>(flags);
          v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        };
        nop(1, kNopCqe32, IOSQE_CQE_SKIP_SUCCESS);  // no CQE: its words stay
        nop(2, 0, 0);                               // gets them
        nop(3, 0, 0);                               // zeros again
        for (int got = 0; got < 2;) {
          Cqe c;
          std::uint64_t big[2];
          if (!r.peek(&c, big)) {
            if (const int e = r.enter(0, 1, IORING_ENTER_GETEVENTS); e < 0 && e != -EINTR) break;
            continue;
          }
          ++got;
          v.push_back(c);
          v.push_back(Cqe{c.user_data, static_cast<std::int32_t>(big[0]),
                          static_cast<std::uint32_t>(big[1])});
        }
        return v;
      },
      8, params);
}

// A multishot TIMEOUT with a period of zero: each re-armed timer fires at
// once, and the kernel's task work posts expiry after expiry before the
// submitter returns, until the CQ ring is full; the expiry that finds no
// room ends the request (-ETIME without F_MORE, overflowed). Seed 10727.
TEST(UringFuzzFound, MultishotTimeoutOfZeroPeriodFillsTheRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static __kernel_timespec ts{0, 0};
        io_uring_sqe* s = add(r, IORING_OP_TIMEOUT, -1, &ts, 1, 0, 1, 0);
        s->timeout_flags = iostack::uring::uapi::kTimeoutMultishot;
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        while (v.size() < 100) {  // bounded: a ring's worth is expected
          auto c = r.wait(1, 2000);
          if (c.empty()) break;
          v.push_back(c[0]);
          if (!(c[0].flags & IORING_CQE_F_MORE)) break;
        }
        return v;
      },
      4);
}

// pipe_write copies a page at a time and keeps nothing of a page that
// faults: a WRITEV whose iovec runs into a PROT_NONE page writes the whole
// pages before it, or is -EFAULT. (Seed 96401 looked like a difference here:
// its SQE counted one iovec entry more than the program gave, which the
// fuzzer took from different heap memory on each side.)
TEST(UringFuzzFound, PipeWriteIntoAGuardPageKeepsWholePagesOnly) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    Pages mem(3);
    mprotect(mem.p + 2 * 4096, 4096, PROT_NONE);
    char* near_guard = mem.p + 2 * 4096 - 289;
    std::vector<Cqe> v;
    for (const bool prefill : {false, true}) {
      for (const unsigned whole : {0u, 4096u}) {
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
        const ssize_t pre = prefill ? write(p[1], "0123456789abcdef", 16) : 0;
        EXPECT_EQ(prefill ? 16 : 0, pre);
        struct iovec iov[2] = {{mem.p, whole}, {near_guard, 389}};
        add(r, IORING_OP_WRITEV, p[1], iov, 2, 0, 1, 0);
        append(&v, run(r, 1));
        int held = -1;
        ioctl(p[0], FIONREAD, &held);
        v.push_back(Cqe{2, held, 0});
        ::close(p[0]);
        ::close(p[1]);
      }
    }
    return v;
  });
}

}  // namespace
}  // namespace uring_test
