// Differences iostack-fuzz found in seeds 80000 and later, each reduced to a
// few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <linux/stat.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A zero-length `op` of `fd` linked to an ASYNC_CANCEL of the cancel's own
// user_data: the cancel runs where the request ended, and finds itself
// running only on an io-wq worker (-EALREADY), not inline (-ENOENT).
std::vector<Cqe> empty_then_self_cancel(Ring& r, int fd, std::uint8_t op) {
  static char buf[8];
  add(r, op, fd, buf, 0, 0x1e5a, 1, IOSQE_IO_LINK);
  add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 2, 0);
  return run(r, 2);
}

// An eventfd has no write_iter: loop_rw_iter refuses a non-blocking try of
// a blocking eventfd before it looks at the length, so even an empty write
// goes to io-wq, where it writes nothing (fuzz seeds 80816, 80852, 80886,
// 80895, 80900, 80908). Nor has a directory FMODE_NOWAIT: an empty read of
// one goes there too, and reads nothing.
TEST(UringFuzzFound80k, EmptyWriteOfABlockingEventfdGoesToAWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  compare_with_kernel([efd](Ring& r) { return empty_then_self_cancel(r, efd, IORING_OP_WRITE); },
                      8);
  ::close(efd);
}

TEST(UringFuzzFound80k, EmptyReadOfADirectoryGoesToAWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  const int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  compare_with_kernel([dfd](Ring& r) { return empty_then_self_cancel(r, dfd, IORING_OP_READ); }, 8);
  ::close(dfd);
}

// With O_NONBLOCK the eventfd cannot block, so the empty write completes
// inline and the cancel does not find itself.
TEST(UringFuzzFound80k, EmptyWriteOfANonBlockingEventfdIsInline) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(efd, 0);
  compare_with_kernel([efd](Ring& r) { return empty_then_self_cancel(r, efd, IORING_OP_WRITE); },
                      8);
  ::close(efd);
}

// `first` (user_data 1) hard-linked to a RECV of an empty socket (2): once
// `first` has ended, an ASYNC_CANCEL of the RECV (3).
void link_recv_then_cancel(const std::function<void(Ring&)>& first) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        static char in[16];
        first(r);
        add(r, IORING_OP_RECV, sv[0], in, sizeof(in), 0, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        append(&v, r.wait(1));
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
        append(&v, run(r, 2));
        return v;
      },
      8);
  ::close(sv[0]);
  ::close(sv[1]);
}

// A read or write that fails on io-wq completes in task work (io_rw_done's
// ki_complete, io_req_task_queue_fail), so the request linked behind it is
// issued there, without blocking, and waits on poll, where a cancel takes
// it (0, and -ECANCELED); the worker does not run it blocking, where a
// cancel would interrupt it (-EALREADY, -EINTR) (fuzz seed 80510). The
// write: a blocking eventfd's (on io-wq) of ULLONG_MAX (-EINVAL).
TEST(UringFuzzFound80k, LinkBehindAFailedWriteOnAWorkerIsIssuedByTheSubmitter) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  link_recv_then_cancel([efd](Ring& r) {
    static std::uint64_t all_ones = ~0ull;
    add(r, IORING_OP_WRITE, efd, &all_ones, 8, 0, 1, IOSQE_IO_HARDLINK);
  });
  ::close(efd);
}

// So does any request whose descriptor io_wq_submit_work finds not open:
// a SPLICE (always on io-wq) to a descriptor that is not open, and the
// RECV hard-linked behind it (fuzz seed 84950).
TEST(UringFuzzFound80k, LinkBehindAWorkerWithoutItsFileIsIssuedByTheSubmitter) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(1, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  const int closed = 999;  // a number nothing here opens
  ASSERT_LT(fcntl(closed, F_GETFD), 0);
  link_recv_then_cancel([efd](Ring& r) {
    add(r, IORING_OP_SPLICE, closed, nullptr, 1000, ~0ull, 1, IOSQE_IO_HARDLINK)->splice_fd_in =
        efd;
  });
  ::close(efd);
}

// io_recvmsg, io_send, io_sendmsg and the zero-copy sends look for the
// socket before IORING_RECVSEND_POLL_FIRST: on a pipe each fails at once
// with -ENOTSOCK instead of waiting on the pipe's poll (fuzz seed 81716).
// io_recv looks at POLL_FIRST first and waits. Each is then cancelled: a
// request still waiting ends -ECANCELED, the cancel of one that ended
// finds nothing.
TEST(UringFuzzFound80k, PollFirstOnAPipeIsNotASocket) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  for (const std::uint8_t op : {IORING_OP_RECVMSG, IORING_OP_RECV, IORING_OP_SENDMSG,
                                IORING_OP_SEND, IORING_OP_SEND_ZC, IORING_OP_SENDMSG_ZC}) {
    SCOPED_TRACE(static_cast<int>(op));
    compare_with_kernel(
        [&](Ring& r) {
          static char buf[16];
          static struct iovec iov = {buf, sizeof(buf)};
          static struct msghdr mh = {nullptr, 0, &iov, 1, nullptr, 0, 0};
          const bool msg =
              op == IORING_OP_RECVMSG || op == IORING_OP_SENDMSG || op == IORING_OP_SENDMSG_ZC;
          const bool in = op == IORING_OP_RECVMSG || op == IORING_OP_RECV;
          // The end that never becomes ready for it.
          add(r, op, in ? p[1] : p[0], msg ? static_cast<void*>(&mh) : buf, msg ? 1 : sizeof(buf),
              0, 1, 0)
              ->ioprio = IORING_RECVSEND_POLL_FIRST;
          std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);
          v.push_back(Cqe{0, r.submit(), 0});
          // The request's and the cancel's, and a zero-copy send's
          // notification where its CQE says one follows.
          std::vector<Cqe> c = r.wait(2);
          for (const Cqe& e : std::vector<Cqe>(c))
            if (e.flags & IORING_CQE_F_MORE) append(&c, r.wait(1));
          sort_by_user_data(&c);
          append(&v, c);
          return v;
        },
        8);
  }
  ::close(p[0]);
  ::close(p[1]);
}

// A RECV with POLL_FIRST of a regular file: no poll can be armed, so the
// worker it goes to answers -EAGAIN too, and that is final (fuzz seed
// 152114, with MSG_WAITALL).
TEST(UringFuzzFound80k, PollFirstRecvOfARegularFileEndsEagain) {
  SKIP_WITHOUT_KERNEL_URING();
  char path[] = "/tmp/uring_pf_recv.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(write(fd, "data", 4), 4);
  for (const std::uint8_t sqe_flags : {std::uint8_t{0}, std::uint8_t{IOSQE_ASYNC}}) {
    SCOPED_TRACE(static_cast<int>(sqe_flags));
    compare_with_kernel(
        [&](Ring& r) {
          static char buf[16];
          io_uring_sqe* sqe = add(r, IORING_OP_RECV, fd, buf, sizeof(buf), 0, 1, sqe_flags);
          sqe->ioprio = IORING_RECVSEND_POLL_FIRST;
          sqe->msg_flags = MSG_WAITALL;
          return run(r, 1);
        },
        8);
  }
  ::close(fd);
}

// ... while a descriptor that is not open is -EBADF, POLL_FIRST or not
// (fuzz seeds 174444, a SENDMSG_ZC, and 169258, with MSG_DONTWAIT).
TEST(UringFuzzFound80k, PollFirstOfADescriptorNotOpenIsEbadf) {
  SKIP_WITHOUT_KERNEL_URING();
  const int closed = 999;  // as the seed's: no ring or file of the test takes it
  ASSERT_LT(fcntl(closed, F_GETFD), 0);
  for (const std::uint8_t op : {IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_SEND}) {
    SCOPED_TRACE(static_cast<int>(op));
    compare_with_kernel(
        [&](Ring& r) {
          static char buf[16];
          static struct iovec iov = {buf, sizeof(buf)};
          static struct msghdr mh = {nullptr, 0, &iov, 1, nullptr, 0, 0};
          const bool msg = op == IORING_OP_SENDMSG;
          add(r, op, closed, msg ? static_cast<void*>(&mh) : buf, msg ? 1 : sizeof(buf), 0, 1, 0)
              ->ioprio = IORING_RECVSEND_POLL_FIRST;
          io_uring_sqe* dontwait = add(r, op, closed, msg ? static_cast<void*>(&mh) : buf,
                                       msg ? 1 : sizeof(buf), 0, 2, 0);
          dontwait->ioprio = IORING_RECVSEND_POLL_FIRST;
          dontwait->msg_flags = MSG_DONTWAIT;
          return run(r, 2);
        },
        8);
  }
}

// A request an io-wq worker ran is freed by task work the submitter runs
// (io_free_req), onto the top of the ring's request cache, above the
// skipped CQE32 NOP's object freed before it: the next request reuses the
// worker's, whose CQE32 words are zeros, not the NOP's words (fuzz seed
// 68514). The FSYNC linked behind the STATX runs on that worker after the
// STATX is freed, so its CQE says the free has happened.
TEST(UringFuzzFound80k, RequestAWorkerFreedIsReusedFirst) {
  SKIP_WITHOUT_KERNEL_URING();
  const int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  io_uring_params params{};
  params.flags = IORING_SETUP_CQE32;
  compare_with_kernel(
      [dfd](Ring& r) {
        static struct statx stx;
        constexpr unsigned kNopCqe32 = 1u << 5;
        io_uring_sqe* s = add(r, IORING_OP_NOP, -1, reinterpret_cast<void*>(0xaabbccdd), 0, 0x11, 1,
                              IOSQE_CQE_SKIP_SUCCESS | IOSQE_IO_LINK);
        s->rw_flags = static_cast<int>(kNopCqe32);
        s = add(r, IORING_OP_STATX, AT_FDCWD, "/", STATX_BASIC_STATS, 0, 2, IOSQE_IO_LINK);
        s->addr2 = reinterpret_cast<std::uintptr_t>(&stx);
        add(r, IORING_OP_FSYNC, dfd, nullptr, 0, 0, 3, 0);
        std::vector<Cqe> v = run(r, 2);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 1, IORING_ENTER_GETEVENTS), 0});
        Cqe c{};
        std::uint64_t big[2] = {1, 1};
        EXPECT_TRUE(r.peek(&c, big));
        v.push_back(c);
        v.push_back(Cqe{c.user_data, static_cast<std::int32_t>(big[0]),
                        static_cast<std::uint32_t>(big[1])});
        return v;
      },
      8, params);
  ::close(dfd);
}

// POLL_REMOVE's IORING_POLL_UPDATE_EVENTS replaces the low 16 bits of the
// poll's events only: a multishot POLL_ADD updated without
// IORING_POLL_ADD_MULTI stays multishot, and a one-shot one updated with it
// stays one-shot (fuzz seed 122405). The eventfd is writable: each poll
// fires once it is updated.
TEST(UringFuzzFound80k, PollUpdateKeepsTheMultishotMode) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  for (const bool multi : {false, true}) {
    SCOPED_TRACE(multi);
    compare_with_kernel(
        [&](Ring& r) {
          // POLLIN first: not ready, so the poll waits for the update.
          io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, efd, nullptr, multi ? 1 : 0, 0, 1, 0);
          s->poll32_events = POLLIN;
          std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
          s = add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1), 0, 9, 2, 0);
          s->len = IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA |
                   (multi ? 0 : IORING_POLL_ADD_MULTI);
          s->poll32_events = POLLOUT;
          append(&v, run(r, 2));
          // A multishot poll is still armed: cancel it.
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(9), 0, 0, 3, 0);
          append(&v, run(r, multi ? 2 : 1));
          return v;
        },
        8);
  }
  ::close(efd);
}

// io_init_req refuses a personality that is not registered, and an op
// without IOPOLL support on an IOPOLL ring, before the op's prep: a SEND_ZC
// refused there has no notification, so its CQE has no F_MORE and none
// follows (fuzz seeds 83137, 83209). The op data of a new request object
// holds what its memory held before: the test frees a block of the size of
// iostack's first chunk of requests, filled with ones, before the first
// request (iostack read a stale byte there as its notification's).
TEST(UringFuzzFound80k, SendZcRefusedBeforePrepHasNoNotification) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  for (const bool iopoll : {false, true}) {
    SCOPED_TRACE(iopoll);
    io_uring_params params{};
    params.flags = iopoll ? IORING_SETUP_IOPOLL : 0;
    compare_with_kernel(
        [&](Ring& r) {
          static char buf[16];
          std::vector<Cqe> v;
          constexpr std::size_t kChunkBytes = 32 * 896 + 8;
          std::free(std::memset(std::malloc(kChunkBytes), 0xff, kChunkBytes));
          for (std::uint64_t ud = 1; ud <= 2; ++ud) {
            io_uring_sqe* s = add(r, IORING_OP_SEND_ZC, sv[0], buf, sizeof(buf), 0, ud, 0);
            if (!iopoll) s->personality = 7;  // not registered
            v.push_back(Cqe{0, r.submit(), 0});
            std::vector<Cqe> c = r.wait(1);
            if (!c.empty() && (c[0].flags & IORING_CQE_F_MORE)) append(&c, r.wait(1));
            append(&v, c);
          }
          return v;
        },
        8, params);
  }
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace uring_test
