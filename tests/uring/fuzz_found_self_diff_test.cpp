// Differences iostack-fuzz found where a ring reads or polls its own
// descriptor, each reduced to a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdint>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A READ of the ring waits on the ring's poll; its zero LINK_TIMEOUT fires
// when the READ is armed, and the timer's task work is queued before the
// wakeup that the failing SYMLINKAT's CQE brings: the timeout cancels the
// READ (-ECANCELED, -ETIME) before its retry could find the ring readable
// (fuzz seed 232265).
TEST(UringFuzzFoundSelf, ZeroLinkTimeoutOfARingReadComesBeforeTheBatchsWakeup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[512];
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), 0, 1, IOSQE_IO_LINK);
        static const struct __kernel_timespec zero = {0, 0};
        add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, 0);
        io_uring_sqe* s = add(r, IORING_OP_SYMLINKAT, AT_FDCWD, "x", 0, 0, 3, 0);
        s->addr2 = reinterpret_cast<std::uintptr_t>("");  // -ENOENT
        return run(r, 3);
      },
      8);
}

// A DEFER_TASKRUN ring's first poll activates its poll wait queue; a READ
// of the ring that makes it is armed on the ring's poll meanwhile, so an
// ASYNC_CANCEL with CANCEL_ALL in its batch finds it (fuzz seed 236407).
TEST(UringFuzzFoundSelf, CancelFindsTheFirstReadOfADeferTaskrunRing) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[192];
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), ~0ull, 1, 0);
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0)
            ->cancel_flags = IORING_ASYNC_CANCEL_ALL;
        return run(r, 2);
      },
      8, p);
}

}  // namespace
}  // namespace uring_test
