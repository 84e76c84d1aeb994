// Differences iostack-fuzz found in seeds 80000 and later, each reduced to a
// few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

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

// A read or write that fails on io-wq completes in task work (io_rw_done's
// ki_complete, io_req_task_queue_fail), so the request linked behind it is
// issued there, without blocking, and waits on poll, where a cancel takes
// it (0, and -ECANCELED); the worker does not run it blocking, where a
// cancel would interrupt it (-EALREADY, -EINTR) (fuzz seed 80510). The
// write: a blocking eventfd's (on io-wq) of ULLONG_MAX (-EINVAL).
TEST(UringFuzzFound80k, LinkBehindAFailedWriteOnAWorkerIsIssuedByTheSubmitter) {
  SKIP_WITHOUT_KERNEL_URING();
  const int efd = eventfd(0, EFD_CLOEXEC);
  int sv[2];
  ASSERT_GE(efd, 0);
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        static std::uint64_t all_ones = ~0ull;
        static char in[16];
        add(r, IORING_OP_WRITE, efd, &all_ones, 8, 0, 1, IOSQE_IO_HARDLINK);
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
  ::close(efd);
}

}  // namespace
}  // namespace uring_test
