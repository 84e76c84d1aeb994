// Differences iostack-fuzz found in seeds 610000 and later, and the drain
// seeds left before them, each reduced to a few SQEs and compared with the
// kernel's CQEs.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "core/eventfd_info.hpp"
#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

// An io-wq work's class comes from its op alone until the request has a
// file (io_prep_async_work): a request drained or sent with IOSQE_ASYNC
// has none yet, so an eventfd READ is unbound work and an ASYNC_CANCEL
// (no unbound_nonreg_file) bounded work. Both wait behind a drained WRITE
// that fails on the worker; when it is done, the READ runs on the unbound
// worker that ran the WRITE and the cancel waits for a new bounded one, so
// it finds nothing. iostack made every op without a file unbound: the
// cancel ran first on the same worker and cancelled the READ (fuzz seed
// 515026).
TEST(UringFuzzFound610k, AnOpWithoutAFileIsBoundedWork) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int p[2];
        if (pipe2(p, O_CLOEXEC)) return v;
        const int efd = eventfd(2, EFD_CLOEXEC | EFD_NONBLOCK);
        static char buf[64];
        static struct iovec wv[2] = {{buf, 8}, {buf, 16}};
        add(r, IORING_OP_WRITEV, p[0], wv, 2, 0, 1, IOSQE_IO_DRAIN)->ioprio = 0x6000;
        v.push_back(Cqe{0, r.submit(), 0});
        io_uring_sqe* c = add(r, IORING_OP_ASYNC_CANCEL, efd, nullptr, 0, 0, 2, 0);
        c->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD;
        struct iovec rv = {buf, sizeof(buf)};
        v.push_back(Cqe{0, r.reg(IORING_REGISTER_BUFFERS, &rv, 1), 0});
        static struct iovec iov[2] = {{buf, 4}, {buf + 8, 8}};
        add(r, 60 /* READV_FIXED */, efd, iov, 2, 0, 3, 0);
        append(&v, run(r, 3));
        std::uint64_t left = 0;
        v.push_back(
            Cqe{9, static_cast<int>(read(efd, &left, 8)), static_cast<std::uint32_t>(left)});
        ::close(p[0]);
        ::close(p[1]);
        ::close(efd);
        return v;
      },
      8);
}

// A RECV guarded by a LINK_TIMEOUT whose absolute time has passed, and a
// SEND to its socket later in the same batch: the timer fires as it is
// armed, after the RECV's poll, and its task work cancels the RECV before
// the SEND's wakeup retries it; the NOP linked behind the timeout is
// cancelled with the chain (fuzz seed 617310).
TEST(UringFuzzFound610k, PastLinkTimeoutCancelsBeforeALaterSendInTheBatchWakes) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return v;
        static char in[16], out[16] = "0123456789abcde";
        static __kernel_timespec past = {10, 0};
        add(r, IORING_OP_RECV, sv[1], in, 0, 0, 1, IOSQE_IO_LINK);
        add(r, IORING_OP_LINK_TIMEOUT, -1, &past, 1, 0, 2, IOSQE_IO_LINK)->timeout_flags =
            IORING_TIMEOUT_ABS;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
        add(r, IORING_OP_SEND, sv[0], out, 16, 0, 4, 0);
        append(&v, run(r, 4));
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8);
}

// The counter of eventfd `fd`, from its fdinfo (-1 if unreadable).
long long eventfd_counter(int fd) {
  unsigned long long v = 0;
  return iostack::core::eventfd_fdinfo(fd, "eventfd-count: %llx", &v) ? static_cast<long long>(v)
                                                                      : -1;
}

// A WRITEV of a blocking eventfd whose second value would overflow the
// counter: the first write goes in, and io-wq's worker sleeps in the
// second (loop_rw_iter, one eventfd_write per segment) until a cancel's
// signal ends the sleep: the WRITEV posts the 8 bytes written, the cancel
// -EALREADY. iostack's worker blocked in the host's write, where no cancel
// reached it (fuzz seed 630830: no CQE at all).
TEST(UringFuzzFound610k, BlockedEventfdWriteOnAWorkerEndsAtTheCancel) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        const int efd = eventfd(0, EFD_CLOEXEC);
        if (efd < 0) return v;
        static std::uint64_t vals[2] = {5, UINT64_MAX - 2};
        static struct iovec iov[2] = {{&vals[0], 8}, {&vals[1], 8}};
        add(r, IORING_OP_WRITEV, efd, iov, 2, 0, 1, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        // Until the first value is in (bounded: a worker that never
        // writes fails the comparison, not the wait).
        for (int i = 0; i < 5000 && eventfd_counter(efd) != 5; ++i) usleep(1000);
        v.push_back(Cqe{8, static_cast<int>(eventfd_counter(efd)), 0});
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0);
        append(&v, run(r, 2));
        v.push_back(Cqe{9, static_cast<int>(eventfd_counter(efd)), 0});
        ::close(efd);
        return v;
      },
      8);
}

// A bundle SEND (multishot) that io-wq issues, of a file that cannot poll
// (a regular file): io_wq_submit_work's multishot check fails it with
// -EBADFD before the op would see that it is no socket; a socket's gets
// -ECANCELED (fuzz seeds 651512, 651515).
TEST(UringFuzzFound610k, BundleSendOnAWorkerOfAFileThatCannotPollIsEbadfd) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        char path[] = "/tmp/iostack-bundle-XXXXXX";
        const int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) return v;
        unlink(path);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return v;
        static char buf[16];
        int ud = 1;
        for (const int target : {fd, sv[0]}) {
          io_uring_sqe* s = add(r, IORING_OP_SEND, target, buf, 8, 0, ud++, IOSQE_ASYNC);
          s->ioprio = iostack::uring::uapi::kRecvsendBundle;
        }
        append(&v, run(r, 2));
        ::close(fd);
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
