// Differences iostack-fuzz found in seeds 1150000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A READV of a write-only file fails at once; the ANY cancel hard-linked
// behind it runs from task work at the end of the batch. A write of a
// blocking eventfd later in the batch cannot try without blocking, yet its
// poll finds the eventfd writable: the kernel retries it from task work,
// each retry behind what was queued meanwhile, 127 times before io-wq
// takes it (APOLL_MAX_RETRY). So the cancel does not find it, and a worker
// writes. iostack went to io-wq after one retry, where the linked cancel
// found it (fuzz seeds 1163778, 1176515).
TEST(UringFuzzFound1150k, AnyCancelBehindAFailedReadMissesABlockingEventfdWriteStillRetrying) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        char path[] = "/tmp/iostack-fuzz-found-XXXXXX";
        const int tmp = mkstemp(path);
        if (tmp < 0) return std::vector<Cqe>{};
        close(tmp);
        const int wronly = open(path, O_WRONLY | O_CLOEXEC);
        unlink(path);
        const int efd = eventfd(2, EFD_CLOEXEC);
        static char zero[4096];
        static struct iovec iov = {zero, 0};
        add(r, IORING_OP_READV, wronly, &iov, 1, ~0ull, 3, IOSQE_IO_HARDLINK);
        add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 4, 0)->cancel_flags =
            IORING_ASYNC_CANCEL_ANY;
        add(r, IORING_OP_WRITE, efd, zero, 8, 0, 5, 0);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        append(&v, r.wait(3, 1000));
        cancel_all(r, 9);  // finds nothing left
        append(&v, run(r, 1));
        close(wronly);
        close(efd);
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
