// Differences iostack-fuzz found in seeds 240000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <linux/time_types.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A RECV of an empty socket heading a chain the batch leaves unfinished
// (its LINK_TIMEOUT carries IOSQE_IO_LINK) goes to io-wq, whose worker
// blocks in it. The kernel arms the linked timeout only once the op
// returns, so 5 ms pass without it firing; data sent later completes the
// RECV and cancels the timeout (fuzz seed 249741, where iostack's worker,
// waiting on poll instead, armed it at once and the timeout cut the RECV).
TEST(UringFuzzFound240k, LinkTimeoutOfABlockingWorkerWaitsForTheOp) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        static char in[16];
        static const __kernel_timespec five_ms{0, 5000000};
        add(r, IORING_OP_RECV, sv[0], in, sizeof(in), 0, 1, IOSQE_IO_LINK);
        add(r, IORING_OP_LINK_TIMEOUT, -1, &five_ms, 1, 0, 2, IOSQE_IO_LINK);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        append(&v, r.wait(2, 30));  // nothing yet: the timeout is not armed
        EXPECT_EQ(1, ::send(sv[1], "x", 1, 0));
        r.backend()->wrote();
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        return v;
      },
      8);
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace uring_test
