// Differences iostack-fuzz found in seeds 530000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

// The one registered buffer of the tests below (index 0), and a buffer
// outside it; the registration's answer goes first as a CQE with ud 0.
char reg[4096], other[64];
Cqe register_reg(Ring& r) {
  struct iovec rv = {reg, sizeof(reg)};
  return Cqe{0, r.reg(IORING_REGISTER_BUFFERS, &rv, 1), 0};
}

// A SENDMSG_ZC or SEND_ZC from registered buffers (IORING_RECVSEND_FIXED_BUF)
// whose memory lies outside the buffer, or a SEND_ZC from unmapped memory:
// the import that finds it comes after io_assign_file, so a descriptor that
// names nothing is -EBADF (fuzz seeds 535913, 562658), where iostack
// answered -EFAULT; a descriptor that is no socket still gets the import's
// -EFAULT before the socket is looked at.
TEST(UringFuzzFound530k, ZeroCopySendLooksUpItsDescriptorBeforeTheBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v{register_reg(r)};
        int p[2];
        if (pipe2(p, O_CLOEXEC)) return v;
        const int closed = dup(p[0]);
        ::close(closed);
        struct iovec outside[1] = {{other, 8}};
        struct msghdr m {};
        m.msg_iov = outside;
        m.msg_iovlen = 1;
        int ud = 1;
        for (const int fd : {closed, p[1]}) {
          io_uring_sqe* q = add(r, IORING_OP_SENDMSG_ZC, fd, &m, 1, 0, ud++, 0);
          q->ioprio = IORING_RECVSEND_FIXED_BUF;
          q->buf_index = 0;
          // The same for SEND_ZC, and one from an unmapped buffer (seed 562658).
          q = add(r, IORING_OP_SEND_ZC, fd, other, 8, 0, ud++, 0);
          q->ioprio = IORING_RECVSEND_FIXED_BUF;
          q->buf_index = 0;
          add(r, IORING_OP_SEND_ZC, fd, reinterpret_cast<void*>(8), 8, 0, ud++, 0);
        }
        append(&v, run(r, 12));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
}

// A receive of a stream socket's out-of-band byte (MSG_OOB) on AF_UNIX:
// unix_stream_recv_urg returns before msg_inq is set, so the CQE has no
// IORING_CQE_F_SOCK_NONEMPTY though in-band bytes wait (fuzz seed 546978);
// an in-band receive after it has the flag.
TEST(UringFuzzFound530k, OutOfBandReceiveOfAUnixStreamSaysNothingOfWhatIsQueued) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return std::vector<Cqe>{};
        std::vector<Cqe> v;
        static char in[3][16];
        static struct iovec iov = {in[1], 1};
        static struct msghdr m {};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        for (int round = 0; round < 2; ++round) {
          v.push_back(Cqe{9, static_cast<int>(send(sv[1], "0123456789abcdef", 16, MSG_OOB)), 0});
          if (round == 0)
            add(r, IORING_OP_RECV, sv[0], in[0], 1, 0, 1, 0)->msg_flags = MSG_OOB;
          else
            add(r, IORING_OP_RECVMSG, sv[0], &m, 1, 0, 1, 0)->msg_flags = MSG_OOB;
          append(&v, run(r, 1));
          add(r, IORING_OP_RECV, sv[0], in[2], 4, 0, 2, 0);
          append(&v, run(r, 1));
        }
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8);
}

// A READV at the file position whose second segment is unmapped: the first
// attempt reads up to the fault. Without RWF_NOWAIT the kernel retries the
// rest, fails, and leaves f_pos where it was; with it the short count
// stands at once and f_pos moves past it (fuzz seed 568929, where iostack
// put it back).
TEST(UringFuzzFound530k, NowaitReadAtTheFilePositionStopsAtAFaultAndMovesIt) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        char path[] = "/tmp/iostack-fpos-XXXXXX";
        const int fd = mkstemp(path);
        if (fd < 0) return v;
        unlink(path);
        static char data[8192], out[4096], tail[8];
        if (write(fd, data, sizeof(data)) != static_cast<ssize_t>(sizeof(data))) return v;
        static struct iovec iov[3] = {{out, sizeof(out)}, {nullptr, 512}, {tail, sizeof(tail)}};
        for (const int rwf : {RWF_NOWAIT, 0}) {
          lseek(fd, 0, SEEK_SET);
          add(r, IORING_OP_READV, fd, iov, 3, static_cast<std::uint64_t>(-1), 1, 0)->rw_flags = rwf;
          append(&v, run(r, 1));
          v.push_back(Cqe{2, static_cast<int>(lseek(fd, 0, SEEK_CUR)), 0});
        }
        ::close(fd);
        return v;
      },
      8);
}

// A READ of an empty pipe, then two writes of 8 bytes by the program: the
// first write's wakeup queues the read's retry as task work, which the
// kernel runs as that write returns (the program submitted the read), so
// the read gets 8 bytes and the second write's stay in the pipe. iostack
// left the retry to an io-wq worker, which under load read both writes
// (fuzz seeds 569412, 569413).
TEST(UringFuzzFound530k, ReadWokenByTheProgramsWriteRunsBeforeTheWriteReturns) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const unsigned flags : {0u, unsigned{IORING_SETUP_COOP_TASKRUN}}) {
    compare_with_kernel(
        [](Ring& r) {
          std::vector<Cqe> v;
          for (int i = 0; i < 20; ++i) {
            int p[2];
            if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) return v;
            static char in[64];
            add(r, IORING_OP_READ, p[0], in, sizeof(in), 0, 1, 0);
            v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
            for (int w = 0; w < 2; ++w) {
              v.push_back(Cqe{2, static_cast<int>(write(p[1], "abcdefgh", 8)), 0});
              r.backend()->wrote();
            }
            append(&v, r.wait(1));
            v.push_back(Cqe{3, static_cast<int>(read(p[0], in, sizeof(in))), 0});
            ::close(p[0]);
            ::close(p[1]);
          }
          return v;
        },
        8, io_uring_params{.flags = flags});
  }
}

// A READ or WRITE of the ring's own descriptor as a chain the batch leaves
// unfinished (IOSQE_IO_HARDLINK on the last SQE): the chain goes to io-wq,
// whose worker tries it blocking, and a ring's file has no read or write
// method: -EINVAL at once. iostack's worker waited on the ring's poll as
// for a pipe, until the ring's exit cancelled it (fuzz seeds 581340,
// 586883; the READs had RWF_APPEND, which changes nothing).
TEST(UringFuzzFound530k, UnfinishedChainReadingItsOwnRingFailsOnTheWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        std::vector<Cqe> v;
        for (const std::uint8_t op : {IORING_OP_READ, IORING_OP_WRITE}) {
          add(r, op, r.fd(), buf, 8, 512, op, IOSQE_IO_HARDLINK);
          append(&v, run(r, 1));
        }
        return v;
      },
      8);
}

// A WRITEV_FIXED whose vector lies outside the registered buffer, on a
// descriptor open with O_PATH: fget refuses such a file, so io_assign_file
// fails first with -EBADF, where iostack answered the import's -EFAULT
// (fuzz seed 607006: an OPENAT of /dev/null with O_PATH took the number of
// an eventfd a CLOSE had freed).
TEST(UringFuzzFound530k, PathOnlyDescriptorIsRefusedBeforeTheBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v{register_reg(r)};
        const int fd = open("/dev/null", O_PATH | O_CLOEXEC);
        if (fd < 0) return v;
        static struct iovec outside[1] = {{other, 8}};
        add(r, iostack::uring::uapi::kOpWritevFixed, fd, outside, 1, 0, 1, 0)->buf_index = 0;
        add(r, IORING_OP_WRITE_FIXED, fd, other, 8, 0, 2, 0)->buf_index = 0;
        append(&v, run(r, 2));
        ::close(fd);
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
