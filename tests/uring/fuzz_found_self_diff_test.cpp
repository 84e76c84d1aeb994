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

}  // namespace
}  // namespace uring_test
