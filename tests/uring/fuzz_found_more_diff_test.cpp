// Differences a later round of iostack-fuzz found (seeds 48001-57000), each
// reduced to a few SQEs and compared with the kernel's CQEs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

struct Socks {
  int sv[2] = {-1, -1};
  Socks() { EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)); }
  ~Socks() {
    ::close(sv[0]);
    ::close(sv[1]);
  }
};

struct Pipe {
  int p[2] = {-1, -1};
  Pipe() { EXPECT_EQ(0, pipe2(p, O_CLOEXEC)); }
  ~Pipe() {
    ::close(p[0]);
    ::close(p[1]);
  }
};

// A SPLICE (or TEE) that has nothing to move blocks its io-wq worker; a
// cancel finds it running (-EALREADY) and the signal io-wq sends ends it
// with -ERESTARTSYS, which splice's CQE carries as is. A cancel of
// everything, as at the ring's exit, does the same without counting it
// (fuzz seed 48028: iostack's worker stayed in splice(2) and the ring's exit
// waited for it forever). It is linked behind a FALLOCATE, whose worker
// runs it next: once the FALLOCATE's CQE is in, it is on a worker. Under
// load the kernel's splice has once ended -ERESTARTSYS with its cancel
// finding nothing (-ENOENT): such a kernel run is made again.
TEST(UringFuzzFoundMore, BlockedSpliceEndsWhenCancelled) {
  SKIP_WITHOUT_KERNEL_URING();
  char tmpl[] = "/tmp/iostack-fuzzmore-XXXXXX";
  const int f = mkstemp(tmpl);
  ASSERT_GE(f, 0);
  unlink(tmpl);
  for (const int op : {IORING_OP_SPLICE, IORING_OP_TEE}) {
    for (const bool all : {false, true}) {
      compare_with_settled_kernel(
          [op, all, f](Ring& r) {
            Socks s;
            Pipe in, out;
            add(r, IORING_OP_FALLOCATE, f, reinterpret_cast<void*>(4096), 0, 0, 1, IOSQE_IO_LINK);
            // SPLICE: from an empty socket; TEE: from an empty pipe.
            io_uring_sqe* q =
                add(r, static_cast<std::uint8_t>(op), out.p[1], nullptr, 1u << 20, 0, 2, 0);
            q->splice_fd_in = op == IORING_OP_SPLICE ? s.sv[0] : in.p[0];
            q->splice_off_in = op == IORING_OP_SPLICE ? ~0ull : 0;
            q->off = op == IORING_OP_SPLICE ? ~0ull : 0;
            std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
            append(&v, r.wait(1));       // the FALLOCATE's
            append(&v, r.wait(1, 100));  // the splice blocks
            q = add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
            if (all) q->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
            append(&v, run(r, 2));
            return v;
          },
          8,
          [](const std::vector<Cqe>& k) {
            return std::none_of(k.begin(), k.end(),
                                [](const Cqe& c) { return c.user_data == 3 && c.res == -ENOENT; });
          });
    }
  }
  ::close(f);
}

// A zero-copy send whose descriptor io-wq finds not open (IOSQE_ASYNC
// assigns the file on the worker, after prep allocated the notification):
// the failure goes through io_sendrecv_fail, so the result carries F_MORE
// and the notification follows it (fuzz seed 52008).
TEST(UringFuzzFoundMore, AsyncZeroCopySendOfABadDescriptorNotifies) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        add(r, IORING_OP_SEND_ZC, -1, buf, sizeof(buf), 0, 1, IOSQE_ASYNC);
        add(r, IORING_OP_SEND_ZC, 1 << 20, buf, sizeof(buf), 0, 2, IOSQE_ASYNC);
        return run(r, 4);
      },
      8);
}

// A send with IORING_RECVSEND_POLL_FIRST on a socket that is writable: its
// poll finds the file ready when armed, so the request is not left armed
// but retried from task work, and a cancel of anything in the same batch
// finds nothing (fuzz seed 52102). The same where a later batch cancels a
// receive that waits: that one is found.
TEST(UringFuzzFoundMore, PollFirstSendReadyWhenArmedIsNotCancelled) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        Socks s;
        static char buf[64];
        io_uring_sqe* q = add(r, IORING_OP_SEND, s.sv[0], buf, 1, 0, 1, 0);
        q->ioprio = IORING_RECVSEND_POLL_FIRST;
        q = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 2, 0);
        q->cancel_flags = IORING_ASYNC_CANCEL_ANY;
        auto v = run(r, 2);
        q = add(r, IORING_OP_RECV, s.sv[0], buf, sizeof(buf), 0, 3, 0);
        q->ioprio = IORING_RECVSEND_POLL_FIRST;
        q = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 4, 0);
        q->cancel_flags = IORING_ASYNC_CANCEL_ANY;
        append(&v, run(r, 2));
        char got[8];
        v.push_back(Cqe{5, static_cast<int>(recv(s.sv[1], got, sizeof(got), MSG_DONTWAIT)), 0});
        return v;
      },
      8);
}

// A link the submission leaves unfinished (its last SQE asks for a link)
// goes to io-wq as it is (io_queue_sqe_fallback), and a read of an empty
// pipe blocks that worker; a cancel of everything interrupts it: -EINTR
// (fuzz seed 39299: iostack's worker stayed in read(2), no CQE).
TEST(UringFuzzFoundMore, UnfinishedLinkBlockedOnAWorkerEndsWithEintr) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        Pipe pp;
        static char buf[64];
        add(r, IORING_OP_READ, pp.p[0], buf, 16, 0, 1, IOSQE_IO_HARDLINK);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        append(&v, r.wait(1, 100));  // it blocks
        cancel_all(r, 2);
        append(&v, run(r, 2));
        return v;
      },
      8);
}

// A counted TIMEOUT that the batch's completions satisfy is completed from
// task work (io_flush_killed_timeouts): a DEFER_TASKRUN ring posts its CQE
// only when the program waits, together with a MSG_RING's message to the
// ring itself (fuzz seed 38075). Right after the submission the CQ holds
// the NOP's and the MSG_RING's CQEs only.
TEST(UringFuzzFoundMore, CountedTimeoutOfADeferTaskrunRingCompletesInTaskWork) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static __kernel_timespec ts{5, 0};
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
        add(r, IORING_OP_MSG_RING, r.fd(), nullptr, 7, 0x4d5347, 2, 0);
        add(r, IORING_OP_TIMEOUT, -1, &ts, 1, 2, 3, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        auto now = r.reap();
        v.push_back(Cqe{0, static_cast<int>(now.size()), 0});
        sort_by_user_data(&now);
        append(&v, now);
        auto later = r.wait(4 - static_cast<unsigned>(now.size()));
        sort_by_user_data(&later);
        append(&v, later);
        return v;
      },
      8, p);
}

// A zero-copy send's notification is a request of the kernel's own, made
// at prep and counted by the drain until it is posted: a SEND_ZC with
// IOSQE_IO_DRAIN waits for its own notification, which comes only once it
// ran, so neither it nor anything after it completes (fuzz seed 1535 of the
// extended generator). Without the drain both complete.
TEST(UringFuzzFoundMore, DrainedZeroCopySendWaitsForItsOwnNotification) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const unsigned drain : {0u, unsigned{IOSQE_IO_DRAIN}}) {
    compare_with_kernel(
        [drain](Ring& r) {
          Socks s;
          static char buf[64];
          add(r, IORING_OP_SEND_ZC, s.sv[0], buf, 8, 0, 1, drain);
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
          auto c = r.wait(3, drain ? 200 : 5000);
          sort_by_user_data(&c);
          append(&v, c);
          return v;
        },
        8);
  }
}

// SENDMSG_ZC with IORING_RECVSEND_FIXED_BUF (6.15's vectored registered
// buffers): prep copies the iovec array, issue checks each segment against
// the registered buffer before it looks at the socket: -EFAULT for a
// segment outside it even on an AF_UNIX socket (fuzz seed 42278), the
// socket's -EOPNOTSUPP for one inside; behind a failed link it is
// cancelled like any other (42272). On UDP it sends.
TEST(UringFuzzFoundMore, VectoredZeroCopySendFromRegisteredBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  static char reg[4096], other[64];
  compare_with_kernel(
      [](Ring& r) {
        Socks s;
        struct iovec rv = {reg, sizeof(reg)};
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_BUFFERS, &rv, 1), 0}};
        const int u[2] = {socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
                          socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
        struct sockaddr_in a {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        EXPECT_EQ(0, bind(u[1], reinterpret_cast<sockaddr*>(&a), sizeof(a)));
        EXPECT_EQ(0, getsockname(u[1], reinterpret_cast<sockaddr*>(&a), &al));
        EXPECT_EQ(0, connect(u[0], reinterpret_cast<sockaddr*>(&a), sizeof(a)));
        struct iovec outside[1] = {{other, 8}};
        struct iovec inside[2] = {{reg, 8}, {reg + 100, 16}};
        struct msghdr m1 {
        }, m2{};
        m1.msg_iov = outside;
        m1.msg_iovlen = 1;
        m2.msg_iov = inside;
        m2.msg_iovlen = 2;
        auto zc = [&](int fd, msghdr* m, std::uint64_t ud, unsigned flags) {
          io_uring_sqe* q = add(r, IORING_OP_SENDMSG_ZC, fd, m, 1, 0, ud, flags);
          q->ioprio = IORING_RECVSEND_FIXED_BUF;
          q->buf_index = 0;
        };
        zc(s.sv[0], &m1, 1, 0);
        zc(s.sv[0], &m2, 2, 0);
        io_uring_sqe* q =
            add(r, IORING_OP_NOP, -1, nullptr, static_cast<unsigned>(-EINVAL), 0, 3, IOSQE_IO_LINK);
        q->rw_flags = IORING_NOP_INJECT_RESULT;
        zc(s.sv[0], &m2, 4, 0);
        zc(u[0], &m2, 5, 0);
        append(&v, run(r, 9));
        char got[64];
        v.push_back(Cqe{6, static_cast<int>(recv(u[1], got, sizeof(got), MSG_DONTWAIT)), 0});
        ::close(u[0]);
        ::close(u[1]);
        return v;
      },
      16);
}

// A directory and a ring have no FMODE_NOWAIT: tried without blocking, a
// read of either goes to io-wq (a directory) or waits for the ring's poll
// before its offset is looked at, so a cancel finds it there: an offset
// the kernel refuses is -ECANCELED, not -EINVAL (fuzz seeds 35392, 49546;
// the ring's read with RWF_APPEND, which reads accept). io-wq has one
// unbound worker here, busy with a SPLICE that waits, so the directory's
// read stays queued until the cancel comes.
TEST(UringFuzzFoundMore, BadOffsetOfAFileWithoutNowaitIsLookedAtLate) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        unsigned counts[2] = {0, 1};
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, counts, 2), 0}};
        Pipe in, out;
        const int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        static char buf[64];
        static struct iovec iov[2] = {{buf, 16}, {buf + 16, 16}};
        io_uring_sqe* q = add(r, IORING_OP_SPLICE, out.p[1], nullptr, 64, ~0ull, 1, 0);
        q->splice_fd_in = in.p[0];
        q->splice_off_in = ~0ull;
        add(r, IORING_OP_READV, dir, iov, 2, ~1ull, 2, 0);
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        q = add(r, IORING_OP_READV, r.fd(), iov, 2, ~1ull, 4, 0);
        q->rw_flags = RWF_APPEND;
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(4), 0, 0, 5, 0);
        append(&v, run(r, 2));
        // The SPLICE ends, queued (-ECANCELED) or interrupted (-ERESTARTSYS).
        cancel_all(r, 6);
        r.enter(r.flush(), 0, 0);
        for (const Cqe& c : r.wait(2))
          if (c.user_data == 1) v.push_back(Cqe{1, c.res < 0 ? -1 : c.res, 0});
        r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, counts, 2);  // as it was
        ::close(dir);
        return v;
      },
      8);
}

// A READ of the ring's own descriptor waits on the ring's poll while the
// CQEs of its batch are not yet in the ring, so a cancel later in the same
// batch finds it (fuzz seed 42110). Without the cancel it ends with
// -EINVAL once they are.
TEST(UringFuzzFoundMore, RingReadWaitsForItsBatchsCompletions) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
        add(r, IORING_OP_READ, r.fd(), buf, 8, 0, 2, 0);
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
        auto v = run(r, 3);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
        add(r, IORING_OP_READ, r.fd(), buf, 8, 0, 5, 0);
        append(&v, run(r, 2));
        return v;
      },
      8);
}

// A SEND with IOSQE_BUFFER_SELECT takes its one buffer through
// io_buffers_select: a buffer group that does not exist is -ENOENT (fuzz
// seed 53491), an empty one -ENOBUFS; a RECV's single buffer stays
// -ENOBUFS either way.
TEST(UringFuzzFoundMore, SendFromAMissingBufferGroup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        Socks s;
        static char pool[64];
        add(r, IORING_OP_PROVIDE_BUFFERS, 1, pool, 64, 0, 1, 0)->buf_group = 7;
        add(r, IORING_OP_REMOVE_BUFFERS, 1, nullptr, 0, 0, 2, 0)->buf_group = 7;
        auto v = run(r, 2);
        for (const unsigned group : {7u, 9u}) {
          add(r, IORING_OP_SEND, s.sv[0], nullptr, 8, 0, 10 + group, IOSQE_BUFFER_SELECT)
              ->buf_group = static_cast<std::uint16_t>(group);
          add(r, IORING_OP_RECV, s.sv[1], nullptr, 8, 0, 20 + group, IOSQE_BUFFER_SELECT)
              ->buf_group = static_cast<std::uint16_t>(group);
          append(&v, run(r, 2));
        }
        return v;
      },
      8);
}

// A SPLICE or TEE of nothing still looks its input descriptor up: one that
// is not open is -EBADF (fuzz seed 54699: the input closed by an earlier
// batch).
TEST(UringFuzzFoundMore, ZeroLengthSpliceFromAClosedDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        Pipe out;
        int in[2];
        EXPECT_EQ(0, pipe2(in, O_CLOEXEC));
        ::close(in[0]);
        ::close(in[1]);
        io_uring_sqe* q = add(r, IORING_OP_SPLICE, out.p[1], nullptr, 0, ~0ull, 1, 0);
        q->splice_fd_in = in[0];
        q->splice_off_in = ~0ull;
        add(r, IORING_OP_TEE, out.p[1], nullptr, 0, 0, 2, 0)->splice_fd_in = in[0];
        return run(r, 2);
      },
      8);
}

}  // namespace
}  // namespace uring_test
