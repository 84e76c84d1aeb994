// Differences iostack-fuzz found in seeds 670000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../common/sanitized.hpp"
#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

// A msghdr of 16 bytes to send.
struct msghdr* sixteen_bytes() {
  static char data[16] = "0123456789abcde";
  static struct iovec iov = {data, sizeof(data)};
  static struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return &msg;
}

// A msghdr over a 16-byte buffer to receive into.
struct msghdr* sixteen_byte_room() {
  static char data[16];
  static struct iovec iov = {data, sizeof(data)};
  static struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return &msg;
}

// A POLL_FIRST RECV of the ring's own descriptor, after an earlier
// request's CQE was reaped: the ring is not readable, so the poll the
// RECV arms waits, and the final cancel ends it with -ECANCELED; it never
// gets to see that the ring is no socket (fuzz seed 680452).
TEST(UringFuzzFound670k, PollFirstRecvOfTheRingWaitsForItsPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        static char buf[4096];
        add(r, IORING_OP_SEND, 999, buf, 4096, 0, 1, 0)->ioprio = IORING_RECVSEND_POLL_FIRST;
        append(&v, run(r, 1));
        add(r, IORING_OP_RECV, r.fd(), buf, 16, 0, 4, 0)->ioprio = IORING_RECVSEND_POLL_FIRST;
        v.push_back(Cqe{0, r.submit(), 0});
        cancel_all(r, 9);
        append(&v, run(r, 2));
        return v;
      },
      4);
}

// The same RECV while that CQE is still in the ring: the ring is readable
// when the poll is armed, so the RECV is retried at once and fails
// -ENOTSOCK.
TEST(UringFuzzFound670k, PollFirstRecvOfAReadableRingRetriesAtOnce) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        static char buf[4096];
        add(r, IORING_OP_SEND, 999, buf, 4096, 0, 1, 0)->ioprio = IORING_RECVSEND_POLL_FIRST;
        v.push_back(Cqe{0, r.submit(1), 0});
        add(r, IORING_OP_RECV, r.fd(), buf, 16, 0, 4, 0)->ioprio = IORING_RECVSEND_POLL_FIRST;
        append(&v, run(r, 2));
        return v;
      },
      4);
}

// A SPLICE of `len` bytes from `in` to `out` at their own positions.
void add_splice(Ring& r, int in, int out, unsigned len, std::uint64_t ud) {
  io_uring_sqe* s = add(r, IORING_OP_SPLICE, out, nullptr, len, -1, ud, 0);
  s->splice_fd_in = in;
  s->splice_off_in = static_cast<std::uint64_t>(-1);
}

// Submits and leaves the requests time to start waiting.
void submit_and_let_wait(Ring& r, std::vector<Cqe>* v) {
  v->push_back(Cqe{0, r.submit(), 0});
  usleep(20000);
}

// A SPLICE from an empty socket into a pipe waits for the socket holding
// the pipe's mutex; a SPLICE out of that pipe into a file (another worker:
// its file is regular) waits for the mutex. The final cancel signals both:
// the first ends -ERESTARTSYS, then the second gets the mutex, sees the
// signal and ends -ERESTARTSYS too, moving nothing (fuzz seed 681264).
TEST(UringFuzzFound670k, SpliceFromAPipeWaitsForASpliceIntoItFromASocket) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2], p[2];
        char path[] = "/tmp/iostack-splice-XXXXXX";
        const int f = mkstemp(path);
        if (f < 0) return v;
        unlink(path);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(p, O_CLOEXEC)) return v;
        v.push_back(Cqe{7, static_cast<int>(write(p[1], "0123456789abcdef", 16)), 0});
        add_splice(r, sv[1], p[1], 8, 1);
        submit_and_let_wait(r, &v);  // the first one waits for the socket
        add_splice(r, p[0], f, 16, 2);
        submit_and_let_wait(r, &v);
        cancel_all(r, 9);
        append(&v, run(r, 3));
        struct stat st;
        v.push_back(Cqe{8, fstat(f, &st) ? -1 : static_cast<int>(st.st_size), 0});
        for (int fd : {f, sv[0], sv[1], p[0], p[1]}) ::close(fd);
        return v;
      },
      8);
}

// The same SPLICE holding the pipe, then TEEs out of that pipe to /dev/null
// and to the pipe itself: do_tee refuses an end that is no pipe, or one
// pipe twice, before it takes either mutex, so both are -EINVAL at once.
// iostack's waited for the mutex and the final cancel made them
// -ERESTARTSYS (fuzz seed 973792).
TEST(UringFuzzFound670k, TeeOfNoPairOfPipesFailsWithoutThePipesMutex) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2], p[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(p, O_CLOEXEC)) return v;
        const int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
        add_splice(r, sv[1], p[1], 1, 1);
        submit_and_let_wait(r, &v);  // it waits for the socket
        add(r, IORING_OP_TEE, dn, nullptr, 16, 0, 2, 0)->splice_fd_in = p[0];
        add(r, IORING_OP_TEE, p[1], nullptr, 16, 0, 3, 0)->splice_fd_in = p[0];
        append(&v, run(r, 2));
        cancel_all(r, 9);
        append(&v, run(r, 2));
        for (int fd : {dn, sv[0], sv[1], p[0], p[1]}) ::close(fd);
        return v;
      },
      8);
}

// The same SPLICE holding the pipe, then a SPLICE into the pipe from an
// eventfd (no splice_read): it waits for the pipe's mutex, which a cancel
// does not interrupt, and once the final cancel has made the first one let
// go it takes the mutex and fails -EINVAL. iostack's wait for the mutex
// ended at the cancel: -ERESTARTSYS (fuzz seeds 1002885, 1002937).
TEST(UringFuzzFound670k, CancelDoesNotEndAWaitForAPipesMutex) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2], p[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(p, O_CLOEXEC)) return v;
        const int efd = eventfd(1, EFD_CLOEXEC);
        add_splice(r, sv[1], p[1], 4096, 1);
        submit_and_let_wait(r, &v);  // it waits for the socket, holding the pipe
        add_splice(r, efd, p[1], 1, 2);
        submit_and_let_wait(r, &v);
        cancel_all(r, 9);
        append(&v, run(r, 3));
        for (int fd : {efd, sv[0], sv[1], p[0], p[1]}) ::close(fd);
        return v;
      },
      8);
}

// A buffered WRITE of a file (io-wq, on a file system without async
// buffered writes), a URING_CMD of the ring hard-linked behind it and an
// ASYNC_CANCEL of its own user_data behind that. The worker runs the
// URING_CMD next; io_uring_cmd returns -EOPNOTSUPP itself (the ring has no
// ->uring_cmd), so it fails from task work, which issues the cancel: it
// finds nothing, -ENOENT. iostack's worker ran the cancel, which found
// itself running: -EALREADY (fuzz seeds 1037116, 1037143).
TEST(UringFuzzFound670k, RefusedUringCmdOnAWorkerIssuesItsLinkFromTaskWork) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        char path[] = "/tmp/iostack-ucmd-XXXXXX";
        const int f = mkstemp(path);
        if (f < 0) return v;
        unlink(path);
        static char block[16384];
        if (write(f, block, sizeof(block)) != static_cast<ssize_t>(sizeof(block))) std::abort();
        add(r, IORING_OP_WRITE, f, "ABCDEFGH", 8, 0x1000, 3, IOSQE_IO_LINK);
        add(r, IORING_OP_URING_CMD, r.fd(), nullptr, 0, 0, 4, IOSQE_IO_HARDLINK);
        add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 5, 0)->addr = 5;
        append(&v, run(r, 3));
        ::close(f);
        return v;
      },
      16);
}

// A multishot POLL_ADD of the ring itself, ready (POLLOUT) when armed, and
// a zero LINK_TIMEOUT behind it: the poll's first CQE and the timeout's
// expiry are task work of one batch, and the kernel flushes that CQE (so
// wakes the ring's pollers) only after the batch, when the timeout has
// cancelled the poll. iostack's poll saw its own CQE first and ended with
// POLLIN, which the timeout then did not find (fuzz seed 683949).
TEST(UringFuzzFound670k, ZeroLinkTimeoutCancelsAMultishotPollOfTheRingBeforeItsOwnCqeWakesIt) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        static __kernel_timespec zero = {0, 0};
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 5, IOSQE_IO_LINK)
            ->poll32_events = POLLIN | POLLOUT;
        add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 6, 0);
        append(&v, run(r, 3));
        return v;
      },
      16);
}

// A SENDMSG_ZC that fails (an AF_UNIX socket: -EOPNOTSUPP) completes with
// its batch (F_MORE) and its notification follows from task work: both
// come after a TIMEOUT later in the batch is armed, and they are the two
// completions it waits for. iostack posted both at issue, before the
// TIMEOUT counted from the tail, which then timed out (fuzz seed 709165).
TEST(UringFuzzFound670k, AFailedZeroCopySendsCqesCountForALaterTimeout) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2], p[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(p, O_CLOEXEC)) return v;
        static __kernel_timespec second = {1, 0};
        add(r, IORING_OP_SENDMSG_ZC, sv[0], sixteen_bytes(), 1, 0, 1, 0);
        add(r, IORING_OP_TIMEOUT, -1, &second, 1, 2, 2, 0);
        append(&v, run(r, 3));
        // The same after the TIMEOUT, of a descriptor that is no socket.
        add(r, IORING_OP_TIMEOUT, -1, &second, 1, 2, 3, 0);
        add(r, IORING_OP_SENDMSG_ZC, p[0], sixteen_bytes(), 1, 0, 4, 0);
        append(&v, run(r, 3));
        for (int fd : {sv[0], sv[1], p[0], p[1]}) ::close(fd);
        return v;
      },
      8);
}

// A TIMEOUT linked behind a POLL_REMOVE that finds nothing is armed by the
// task work that follows the batch's completions; a failed SENDMSG_ZC later
// in the batch posts its notification from task work queued after that, so
// the timeout counts it. iostack posted the notification when the send's
// request was freed, before the timeout was armed (fuzz seed 743287).
TEST(UringFuzzFound670k, ZeroCopyNotificationComesAfterALinkedTimeoutIsArmed) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int p[2];
        if (pipe2(p, O_CLOEXEC)) return v;
        static __kernel_timespec second = {1, 0};
        add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(77), 0, 0, 1, IOSQE_IO_HARDLINK);
        add(r, IORING_OP_TIMEOUT, -1, &second, 1, 1, 2, 0);
        add(r, IORING_OP_SENDMSG_ZC, p[1], sixteen_bytes(), 1, 0, 3, 0);
        append(&v, run(r, 4));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
}

// A counted TIMEOUT, then a STATX (always io-wq work, still queued) and an
// ASYNC_CANCEL of anything: the cancel takes the queued STATX first, whose
// failure is task work (io_req_task_queue_fail) and so posts after the
// cancel found the TIMEOUT too: both -ECANCELED, the cancel 2. iostack
// posted the STATX's CQE at once, which satisfied the TIMEOUT (fuzz seed
// 749149).
TEST(UringFuzzFound670k, CancelledQueuedWorkPostsAfterTheCancelFoundATimeout) {
  SKIP_WITHOUT_KERNEL_URING();
  // ThreadSanitizer slows the submitter so much that iostack's worker takes
  // the STATX before every cancel: the queued case is never reached there.
  if (iostack::test::kThreadSanitized)
    GTEST_SKIP() << "ThreadSanitizer: the STATX never stays queued";
  compare_with_kernel(
      [](Ring& r) {
        static __kernel_timespec second = {1, 0};
        static struct statx stx;
        // A worker may take the STATX before the cancel comes (on a loaded
        // machine, either side): tried again until the cancel finds it queued.
        std::vector<Cqe> v;
        for (int attempt = 0; attempt < 50; ++attempt) {
          v.clear();
          add(r, IORING_OP_TIMEOUT, -1, &second, 1, 1, 1, 0);
          v.push_back(Cqe{0, r.submit(), 0});
          add(r, IORING_OP_STATX, AT_FDCWD, "/", STATX_BASIC_STATS,
              reinterpret_cast<std::uintptr_t>(&stx), 2, 0);
          add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 3, 0)->cancel_flags =
              IORING_ASYNC_CANCEL_ANY;
          append(&v, run(r, 3));
          // Caught queued: the STATX cancelled and the cancel counting two
          // (one a worker had begun is cancelled alone, or not at all).
          const auto res_of = [&v](std::uint64_t ud) {
            for (const Cqe& c : v)
              if (c.user_data == ud) return c.res;
            return 0;
          };
          const bool caught = res_of(2) == -ECANCELED && res_of(3) == 2;
          if (caught) break;
        }
        return v;
      },
      8);
}

// A READ_MULTISHOT of the ring's own descriptor handed to io-wq (IOSQE_ASYNC,
// or held back by a drain): the ring's file has no FMODE_NOWAIT, so the
// worker runs it once as a plain read, whose buffer selection finds the
// group empty: -ENOBUFS. iostack armed the multishot poll and waited for
// the ring (fuzz seed 707268). With O_NONBLOCK on the ring it waits.
TEST(UringFuzzFound670k, ReadMultishotOfTheRingOnAWorkerRunsOnce) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_DRAIN);
        add(r, 49 /* READ_MULTISHOT */, r.fd(), nullptr, 0, 0, 2, IOSQE_BUFFER_SELECT)->buf_group =
            1;
        add(r, 49 /* READ_MULTISHOT */, r.fd(), nullptr, 0, 0, 3, IOSQE_BUFFER_SELECT | IOSQE_ASYNC)
            ->buf_group = 1;
        append(&v, run(r, 3));
        const int fl = fcntl(r.fd(), F_GETFL);
        v.push_back(Cqe{8, fcntl(r.fd(), F_SETFL, fl | O_NONBLOCK), 0});
        add(r, 49 /* READ_MULTISHOT */, r.fd(), nullptr, 0, 0, 4, IOSQE_BUFFER_SELECT | IOSQE_ASYNC)
            ->buf_group = 1;
        v.push_back(Cqe{0, r.submit(), 0});
        usleep(20000);  // armed on the ring's poll by then
        cancel_all(r, 9);
        append(&v, run(r, 2));
        return v;
      },
      8);
}

// A SOCKET into a registered slot of a ring that has no file table: -ENXIO,
// and the request linked behind it still runs, as io_socket marks only a
// failed socket() as failing the link (fuzz seed 728140).
TEST(UringFuzzFound670k, SocketThatCannotInstallItsSlotKeepsItsLink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        io_uring_sqe* s =
            add(r, IORING_OP_SOCKET, AF_UNIX, nullptr, 0, SOCK_STREAM, 1, IOSQE_IO_LINK);
        s->file_index = 1;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
        append(&v, run(r, 2));
        return v;
      },
      8);
}

// A SENDMSG wakes a RECV's armed poll inside the send, so the RECV's retry
// is task work queued ahead of the RECVMSG that the batch's flush queues
// behind a NOP it is linked to: the RECV takes the 16 bytes and the
// RECVMSG waits until the final cancel (fuzz seed 761944).
TEST(UringFuzzFound670k, WakeupInsideASendGoesAheadOfALinksNextRequest) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
        static char in[16];
        add(r, IORING_OP_RECV, sv[0], in, sizeof(in), 0, 1, 0);
        add(r, IORING_OP_SENDMSG, sv[1], sixteen_bytes(), 1, 0, 2, 0);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, IOSQE_IO_LINK);
        add(r, IORING_OP_RECVMSG, sv[0], sixteen_byte_room(), 1, 0, 4, 0);
        append(&v, run(r, 3));
        cancel_all(r, 9);
        append(&v, run(r, 2));
        close(sv[0]);
        close(sv[1]);
        return v;
      },
      8);
}

// A RECVMSG with MSG_DONTWAIT linked behind io-wq work runs on that worker,
// whose blocking attempt ends it with -EAGAIN: a completion, so the worker
// goes on with the RECV hard-linked behind it and blocks in it, until the
// final cancel interrupts it (-EINTR). iostack failed the RECVMSG as a
// request that could not be queued, and its RECV waited on poll from task
// work (-ECANCELED) (fuzz seed 770959).
TEST(UringFuzzFound670k, DontwaitReceiveOnAWorkerHandsItsLinkToThatWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
        static char in[16];
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_ASYNC | IOSQE_IO_LINK);
        add(r, IORING_OP_RECVMSG, sv[0], sixteen_byte_room(), 1, 0, 2, IOSQE_IO_HARDLINK)
            ->msg_flags = MSG_DONTWAIT;
        add(r, IORING_OP_RECV, sv[0], in, sizeof(in), 0, 3, 0);
        append(&v, run(r, 2));
        usleep(50000);  // the worker is inside the RECV
        cancel_all(r, 9);
        append(&v, run(r, 2));
        close(sv[0]);
        close(sv[1]);
        return v;
      },
      8);
}

// A READ_MULTISHOT of a readable eventfd held back by a drain goes to
// io-wq, whose worker only arms its poll, within microseconds: the poll
// finds the eventfd readable and buffer selection fails (-ENOBUFS, the
// group is empty). iostack's worker armed it after the program's next
// batch had read the eventfd empty, and the request waited (fuzz seed
// 782095).
TEST(UringFuzzFound670k, DrainedReadMultishotArmsBeforeTheNextBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        const int efd = eventfd(2, EFD_CLOEXEC);
        static std::uint64_t got;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_DRAIN);
        add(r, 49 /* READ_MULTISHOT */, efd, nullptr, 0, 0, 2, IOSQE_BUFFER_SELECT)->buf_group = 1;
        v.push_back(Cqe{0, r.submit(), 0});
        add(r, IORING_OP_READ, efd, &got, sizeof(got), 0, 3, 0);
        append(&v, run(r, 3));
        close(efd);
        return v;
      },
      8);
}

// A failed SEND_ZC with a LINK_TIMEOUT and a SPLICE linked, a READ
// hard-linked to a counted TIMEOUT, and one more CQE in each of two later
// batches. The TIMEOUT is issued by task work behind the link failure and
// the notification, whose CQEs that run posts together when it ends: it
// counts from the two CQEs before them, and the seventh CQE satisfies it.
// iostack posted the notification at once, so its count started one later
// and the timeout expired (fuzz seed 790783).
TEST(UringFuzzFound670k, NotificationPostsWithItsTaskWorkRunsOtherCompletions) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
        const int efd = eventfd(2, EFD_CLOEXEC);
        const int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
        static char buf[16];
        // Long enough that a sanitizer's slow submission cannot outrun the
        // linked timeout before the failed head cancels it.
        static const __kernel_timespec ms = {0, 200000000};
        add(r, IORING_OP_SEND_ZC, sv[0], buf, 1, 0, 1, IOSQE_IO_LINK);  // -EOPNOTSUPP
        add(r, IORING_OP_LINK_TIMEOUT, -1, &ms, 1, 0, 2, IOSQE_IO_LINK);
        io_uring_sqe* q = add(r, IORING_OP_SPLICE, dn, nullptr, 0, ~0ull, 3, 0);
        q->splice_fd_in = efd;
        q->splice_off_in = ~0ull;
        add(r, IORING_OP_READ, dn, buf, 0, 0, 4, IOSQE_IO_HARDLINK);
        add(r, IORING_OP_TIMEOUT, -1, &ms, 1, 5, 5, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 6, 0)->ioprio = 1;  // -EINVAL
        v.push_back(Cqe{0, r.submit(), 0});
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 7, 0)->ioprio = 1;
        append(&v, run(r, 8));
        for (int fd : {sv[0], sv[1], efd, dn}) close(fd);
        return v;
      },
      16);
}

// A READ of a DEFER_TASKRUN ring's own descriptor with a zero LINK_TIMEOUT:
// the timeout starts after the READ's first attempt and its task work makes
// the ring readable, so the READ is not armed but retried by task work
// behind the timeout's. The timeout's cancel finds nothing (-ENOENT) and the
// READ waits until the final cancel. iostack armed the READ first and the
// timeout cancelled it (fuzz seeds 803591, 803658).
TEST(UringFuzzFound670k, ZeroLinkTimeoutOfAReadOfItsOwnDeferTaskrunRingFindsNothing) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        static char buf[8192];
        static const __kernel_timespec zero = {0, 0};
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), 0, 1, IOSQE_IO_LINK);
        add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        usleep(20000);
        append(&v, run(r, 1));
        cancel_all(r, 9);
        append(&v, run(r, 2));
        return v;
      },
      8, p);
}

// An edge-triggered POLL_ADD of a pipe with IOSQE_ASYNC and a READ that
// empties the pipe later in the batch: the kernel's worker arms the poll
// after the batch, when the pipe is empty, and it waits until the final
// cancel. iostack armed it at once and it saw the data (fuzz seed 816270).
TEST(UringFuzzFound670k, AsyncPollAddIsArmedAfterItsBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0 || write(p[1], "0123456789abcdef", 16) != 16) std::abort();
        static char buf[64];
        add(r, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 1, IOSQE_ASYNC)->poll32_events =
            POLLIN | EPOLLET;
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 2, 0);
        append(&v, run(r, 1));
        usleep(20000);
        cancel_all(r, 9);
        append(&v, run(r, 2));
        close(p[0]);
        close(p[1]);
        return v;
      },
      8);
}

// A POLL_ADD (multishot, or with the program's EPOLLONESHOT) of a
// DEFER_TASKRUN ring's own descriptor, then a failing head whose
// CQE_SKIP_SUCCESS link skips the CQE of the READ behind it. The READ's
// failure is task work run at the next wait, and its flush wakes the
// ring's pollers though no CQE was posted: the poll ends with POLLIN.
// iostack woke them only for CQEs posted, and the poll waited for the
// final cancel (fuzz seed 793495).
TEST(UringFuzzFound670k, FlushOfSkippedCqesWakesAPollOfTheRing) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const std::uint32_t setup : {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, 0u})
    for (const std::uint32_t oneshot : {0u, static_cast<std::uint32_t>(EPOLLONESHOT)}) {
      SCOPED_TRACE(testing::Message() << "setup " << setup << " events " << oneshot);
      io_uring_params p{};
      p.flags = setup;
      compare_with_kernel(
          [oneshot](Ring& r) {
            std::vector<Cqe> v;
            static char buf[4096];
            const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
            add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0)
                ->poll32_events = POLLIN | oneshot;
            v.push_back(Cqe{0, r.submit(), 0});
            add(r, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 2,
                IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS)
                ->ioprio = 1;  // -EINVAL
            add(r, IORING_OP_READ, fd, buf, sizeof(buf), 512, 3, IOSQE_IO_HARDLINK);
            v.push_back(Cqe{0, r.submit(), 0});
            append(&v, r.reap());       // the TIMEOUT_REMOVE's failure, without entering
            append(&v, r.wait(1, 20));  // runs the READ's task work
            cancel_all_and_reap(r, &v, 1);
            close(fd);
            return v;
          },
          8, p);
    }
}

// A multishot POLL_ADD (IN|OUT) of an eventfd, then a READV that waits on
// it. A write wakes the newest waiter first: the READV's retry is task
// work ahead of the poll's, and its read wakes the poll again (POLLOUT)
// while that task work is queued, which then asks the eventfd: one CQE,
// POLLOUT. iostack posted POLLIN at the write and POLLOUT after the read
// (fuzz seeds 816763, 816780).
TEST(UringFuzzFound670k, ReadWokenAheadOfAMultishotPollFoldsItsWakeupIn) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        const int efd = eventfd(2, EFD_CLOEXEC);
        static char a[512], b[64];
        static struct iovec first[] = {{a, sizeof(a)}};
        static struct iovec second[] = {{b, sizeof(b)}};
        add(r, IORING_OP_POLL_ADD, efd, nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0)->poll32_events =
            POLLIN | POLLOUT;
        add(r, IORING_OP_READV, efd, first, 1, 0, 2, 0);
        add(r, IORING_OP_READV, efd, second, 1, 0, 3, 0);
        append(&v, run(r, 2));  // the poll's arming CQE, the first READV's
        const std::uint64_t one = 1;
        if (write(efd, &one, sizeof(one)) != sizeof(one)) std::abort();
        r.backend()->wrote();
        append(&v, r.wait(2, 200));  // the second READV's, the poll's
        cancel_all_and_reap(r, &v, 2);
        close(efd);
        return v;
      },
      16);
}

// io-wq of `r` with one bounded worker, and a new pipe `p` (for an FADVISE
// that fails once it runs: -ESPIPE).
void one_bounded_worker_and_a_pipe(Ring& r, int p[2]) {
  unsigned one_worker[2] = {1, 1};
  if (r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, one_worker, 2) != 0) std::abort();
  if (pipe2(p, O_CLOEXEC) != 0) std::abort();
}

void add_any_cancel_on_a_worker(Ring& r, std::uint64_t ud) {
  add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, ud, IOSQE_ASYNC)->cancel_flags =
      IORING_ASYNC_CANCEL_ANY;
}

// An ASYNC_CANCEL of ANY request with IOSQE_ASYNC, then an FADVISE (an
// advice that always goes to io-wq). The cancel's worker removes the
// queued FADVISE (-ECANCELED) and also matches itself, running: io-wq
// answers RUNNING, which the search does not count, so the cancel answers
// 0. iostack counted the queued one: 1 (fuzz seeds 875732, 889726).
// In the seeds the FADVISE is queued first only because the kernel's new
// worker is slow to start; here one bounded worker is held in an OPENAT of
// a FIFO until both are queued behind it, so the order is certain.
TEST(UringFuzzFound670k, AnyCancelOnAWorkerMatchesItselfAndCountsNothingQueued) {
  SKIP_WITHOUT_KERNEL_URING();
  char dir[] = "/tmp/iostack-anycancel-XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(dir));
  const std::string fifo = std::string(dir) + "/fifo";
  ASSERT_EQ(0, mkfifo(fifo.c_str(), 0600));
  compare_with_kernel(
      [&fifo](Ring& r) {
        int p[2];
        one_bounded_worker_and_a_pipe(r, p);
        add(r, IORING_OP_OPENAT, AT_FDCWD, fifo.c_str(), 0, 0, 0, IOSQE_ASYNC)->open_flags =
            O_RDONLY | O_CLOEXEC;
        add_any_cancel_on_a_worker(r, 1);
        add(r, IORING_OP_FADVISE, p[0], nullptr, 4096, 4096, 2, 0)->fadvise_advice = 6;
        if (r.submit(0) != 3) std::abort();
        // The worker's open waits for a writer; a writer that does not wait
        // opens once the worker is there.
        int w;
        while ((w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) usleep(1000);
        close(w);
        std::vector<Cqe> v = r.wait(3);
        sort_by_user_data(&v);
        if (v[0].res >= 0) close(v[0].res);
        v[0].res = v[0].res >= 0 ? 0 : v[0].res;
        close(p[0]);
        close(p[1]);
        return v;
      },
      4);
  unlink(fifo.c_str());
  rmdir(dir);
}

// The same cancel while its batch is still under way: the worker's first
// search runs while the submitter copies a large cached READ, before the
// FADVISE is queued. __io_async_cancel's slow path searches io-wq again
// under uring_lock, which waits for the batch to end, so it finds the
// FADVISE (counted: 1). iostack's search had no second pass: 0, and the
// FADVISE ran (-ESPIPE).
TEST(UringFuzzFound670k, AnyCancelOnAWorkerFindsWhatItsBatchQueuesAfterIt) {
  SKIP_WITHOUT_KERNEL_URING();
  constexpr std::size_t kBig = 64 << 20;
  char path[] = "/var/tmp/iostack-bigread-XXXXXX";
  const int f = mkstemp(path);
  ASSERT_GE(f, 0);
  unlink(path);
  std::vector<char> buf(kBig, 'x');
  ASSERT_EQ(static_cast<ssize_t>(kBig), pwrite(f, buf.data(), kBig, 0));
  ASSERT_EQ(static_cast<ssize_t>(kBig), pread(f, buf.data(), kBig, 0));  // cached
  compare_with_kernel(
      [f, &buf](Ring& r) {
        int p[2];
        one_bounded_worker_and_a_pipe(r, p);
        add_any_cancel_on_a_worker(r, 1);
        add(r, IORING_OP_READ, f, buf.data(), kBig, 0, 2, 0);
        add(r, IORING_OP_FADVISE, p[0], nullptr, 4096, 4096, 3, 0)->fadvise_advice = 6;
        std::vector<Cqe> v = run(r, 3);
        close(p[0]);
        close(p[1]);
        return v;
      },
      4);
  close(f);
}

// A WRITE of a file that faults part way (a buffer inaccessible after its
// first 32 KiB), handed to io-wq, with a READV of an empty eventfd linked
// behind it. The worker's short write of a regular file answers -EAGAIN,
// and the request fails from task work with the bytes written: a soft link
// breaks (-ECANCELED), a hard one is issued from that task work, where it
// waits on poll and the final cancel finds it. iostack's worker posted the
// write and ran the READV itself, blocking, which the cancel interrupted
// (-EINTR, not counted) (fuzz seed 905161).
TEST(UringFuzzFound670k, ShortWriteOnAWorkerEndsFromTaskWork) {
  SKIP_WITHOUT_KERNEL_URING();
  // The fault stays where it is: an unmapped hole could be filled by a
  // mapping the test's threads make (seen under ASan: iostack wrote it all).
  char* buf = static_cast<char*>(
      mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(MAP_FAILED, buf);
  ASSERT_EQ(0, mprotect(buf + 32768, (1 << 20) - 32768, PROT_NONE));
  for (const std::uint8_t link : {IOSQE_IO_HARDLINK, IOSQE_IO_LINK}) {
    SCOPED_TRACE(testing::Message() << "link flag " << int{link});
    compare_with_kernel(
        [link, buf](Ring& r) {
          std::vector<Cqe> v;
          char path[] = "/var/tmp/iostack-shortwrite-XXXXXX";
          const int f = mkstemp(path);
          unlink(path);
          const int efd = eventfd(0, EFD_CLOEXEC);
          static char eight[8];
          static struct iovec iov = {eight, sizeof(eight)};
          add(r, IORING_OP_WRITE, f, buf, 1 << 20, 0x4000, 1, link);
          add(r, IORING_OP_READV, efd, &iov, 1, ~0ull, 2, 0);
          append(&v, run(r, link == IOSQE_IO_LINK ? 2 : 1));
          usleep(20000);
          cancel_all_and_reap(r, &v, link == IOSQE_IO_LINK ? 1 : 2);
          close(f);
          close(efd);
          return v;
        },
        32);
  }
  munmap(buf, 1 << 20);
}

// On a DEFER_TASKRUN ring a drain holds back a READV (io-wq work) and a
// READ_MULTISHOT of an eventfd (count 2, an empty buffer group) until the
// next wait, and the next
// batch's READ of the eventfd joins the requests it holds. When the drain
// ends, the READ_MULTISHOT goes to io-wq first, where it finds the count
// and no buffer: -ENOBUFS; the READ takes the count. iostack armed it by
// one more task work, after the READ had emptied the eventfd, and it waited
// (fuzz seed 923243).
TEST(UringFuzzFound670k, DrainedReadMultishotGoesAheadOfALaterBatchsRead) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        const int efd = eventfd(2, EFD_CLOEXEC);
        const int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) != 0 || write(pp[1], "0123456789abcdef", 16) != 16) std::abort();
        const int pipe_r = pp[0];
        static char buf[16];
        static struct iovec bad[] = {{buf, 8}, {reinterpret_cast<void*>(1), 100}};
        add(r, IORING_OP_WRITE, dn, buf, 1, 0, 1, IOSQE_IO_DRAIN);
        add(r, IORING_OP_READV, pipe_r, bad, 2, 0, 4, 0);  // io-wq work ahead of it
        add(r, 49 /* READ_MULTISHOT */, efd, nullptr, 0, 0, 2, IOSQE_BUFFER_SELECT)->buf_group = 2;
        v.push_back(Cqe{0, r.submit(), 0});
        add(r, IORING_OP_READ, efd, buf + 8, 8, 0, 3, 0);
        append(&v, run(r, 4));
        cancel_all_and_reap(r, &v, 1);
        for (const int fd : {efd, dn, pp[0], pp[1]}) close(fd);
        return v;
      },
      32, p);
}

// A SEND with IOSQE_BUFFER_SELECT of a descriptor that is no socket (a
// directory) fails -ENOTSOCK before a buffer is picked: the CQE names none
// and the buffer stays for the next request. iostack picked it first and
// reported it (IORING_CQE_F_BUFFER) (fuzz seed 945147).
TEST(UringFuzzFound670k, SendOfANonSocketPicksNoBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        static char bufs[2][64];
        const int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        add(r, IORING_OP_PROVIDE_BUFFERS, 1, bufs[0], sizeof(bufs[0]), 0, 1, 0)->buf_group = 3;
        for (const std::uint64_t ud : {2, 3}) {
          io_uring_sqe* s = add(r, IORING_OP_SEND, dir, nullptr, 16, 0, ud, IOSQE_BUFFER_SELECT);
          s->buf_group = 3;
        }
        append(&v, run(r, 3));
        close(dir);
        return v;
      },
      8);
}

// The same for a bundle: a SEND of a pipe from a group that does not exist
// is -ENOTSOCK, of a socket -ENOENT. iostack answered -ENOENT for both
// (fuzz seed 959960).
TEST(UringFuzzFound670k, BundleSendOfANonSocketLooksForNoGroup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int p[2], sv[2];
        if (pipe2(p, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
        std::uint64_t ud = 1;
        for (const int fd : {p[1], sv[0], -1}) {
          io_uring_sqe* s = add(r, IORING_OP_SEND, fd, nullptr, 8, 0, ud++, IOSQE_BUFFER_SELECT);
          s->buf_group = 7;
          s->ioprio = 1u << 4;  // IORING_RECVSEND_BUNDLE
        }
        std::vector<Cqe> v = run(r, 3);
        for (const int fd : {p[0], p[1], sv[0], sv[1]}) close(fd);
        return v;
      },
      8);
}

// A MSG_RING to its own DEFER_TASKRUN ring leaves its CQE to the ring's task
// work, which makes the ring readable: a READ of the ring in the same batch
// fails at once (no read method, -EINVAL) and completes with the batch, so
// with every request done the program never waits and the message's CQE
// never comes. iostack failed the READ from task work, which posted the
// message too (fuzz seed 943689).
TEST(UringFuzzFound670k, ReadOfItsOwnRingFailsWithTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[8192];
        io_uring_sqe* m = add(r, IORING_OP_MSG_RING, r.fd(), nullptr, 7, 0x4d5347, 1, 0);
        m->addr = IORING_MSG_DATA;
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), 512, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        usleep(20000);
        append(&v, r.reap());
        return v;
      },
      16, p);
}

// The same with the MSG_RING linked behind a request that completes in the
// batch: the message is sent by the ring's task work at the first wait,
// whose run ends with the link's CQE (one was asked for), so the message's
// own task work, queued during that run, waits for a later one (fuzz seed
// 943689).
TEST(UringFuzzFound670k, MessageSentByTaskWorkWaitsForTheNextRun) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[8192];
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_LINK);
        io_uring_sqe* m = add(r, IORING_OP_MSG_RING, r.fd(), nullptr, 7, 0x4d5347, 2, 0);
        m->addr = IORING_MSG_DATA;
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), 512, 3, 0);
        std::vector<Cqe> v = run(r, 3);
        usleep(20000);
        append(&v, r.reap());
        return v;
      },
      16, p);
}

// The kernel's io_uring SPLICE leaves a pipe's FMODE_NOWAIT (only the
// splice(2) system call takes it), so a READ with RWF_NOWAIT of the emptied
// pipe is -EAGAIN, and once data came it reads it. iostack's host splice()
// took the flag from the host's pipe, whose preadv2 then refused RWF_NOWAIT
// (-EOPNOTSUPP; fuzz seed 1087610).
TEST(UringFuzzFound670k, NowaitReadOfAPipeUringSplicedIsEagainThenReads) {
  SKIP_WITHOUT_KERNEL_URING();
  const int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(dn, 0);
  compare_with_kernel(
      [&](Ring& r) {
        static char buf[64];
        int p[2];
        std::vector<Cqe> v = pipe_emptied_by_splice(r, dn, p);
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), ~0ull, 2, 0)->rw_flags = RWF_NOWAIT;
        append(&v, run(r, 1));
        EXPECT_EQ(3, ::write(p[1], "xyz", 3));
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0x2d2f, 3, 0)->rw_flags = RWF_NOWAIT;
        append(&v, run(r, 1));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
  ::close(dn);
}

// OPENAT with O_PATH into a fixed slot gives the ring a file with neither
// read nor write mode (empty_fops): the ops on it answer as the kernel's
// functions do on such a file -- FSYNC -EINVAL (no ->fsync), FALLOCATE its
// argument checks then -EBADF, SYNC_FILE_RANGE and FADVISE act on the
// inode, FTRUNCATE -EINVAL -- where the host's system calls refuse an
// O_PATH descriptor with -EBADF first (fuzz seed 1125548).
TEST(UringFuzzFound670k, OpsOfAnOPathSlotAnswerAsTheKernelsFileOps) {
  SKIP_WITHOUT_KERNEL_URING();
  char name[] = "/tmp/iostack-opath-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(8192, ::write(fd, std::vector<char>(8192, 'x').data(), 8192));
  compare_with_kernel(
      [&](Ring& r) {
        int fds[1] = {-1};
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 1), 0}};
        io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, name, 0, 0, 1, 0);
        s->open_flags = O_PATH;
        s->file_index = 1;
        append(&v, run(r, 1));
        add(r, IORING_OP_FSYNC, 0, nullptr, 0, 0, 2, IOSQE_FIXED_FILE);
        add(r, IORING_OP_FSYNC, 0, nullptr, 0, 0, 3, IOSQE_FIXED_FILE)->fsync_flags =
            IORING_FSYNC_DATASYNC;
        add(r, IORING_OP_SYNC_FILE_RANGE, 0, nullptr, 4096, 0, 4, IOSQE_FIXED_FILE)
            ->sync_range_flags = SYNC_FILE_RANGE_WRITE;
        add(r, IORING_OP_SYNC_FILE_RANGE, 0, nullptr, 4096, 0, 5, IOSQE_FIXED_FILE)
            ->sync_range_flags = 8;
        add(r, IORING_OP_FALLOCATE, 0, reinterpret_cast<void*>(4096), 0, 0, 6, IOSQE_FIXED_FILE);
        add(r, IORING_OP_FALLOCATE, 0, nullptr, 0, 0, 7, IOSQE_FIXED_FILE);
        add(r, IORING_OP_FADVISE, 0, nullptr, 4096, 0, 8, IOSQE_FIXED_FILE)->fadvise_advice =
            POSIX_FADV_DONTNEED;
        add(r, IORING_OP_FADVISE, 0, nullptr, 4096, 0, 9, IOSQE_FIXED_FILE)->fadvise_advice = 99;
        add(r, iostack::uring::uapi::kOpFtruncate, 0, nullptr, 0, 0, 10, IOSQE_FIXED_FILE);
        append(&v, run(r, 9));
        return v;
      },
      16);
  ::close(fd);
  ::unlink(name);
}

}  // namespace
}  // namespace uring_test
