// Differences iostack-fuzz found in seeds 440000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A READV of a pipe that holds data and a POLL_ADD of the pipe, submitted
// while a drained READ of another pipe waits: both are held back by the
// drain, and when the READ completes they go to io-wq in that order, whose
// worker takes the POLL_ADD after the READV emptied the pipe. The poll
// waits (here until the test writes again); iostack armed it from the task
// work that queued them, before its worker ran the READV, and it was ready
// (fuzz seed 443083, where a drained WRITEV still on io-wq when the next
// batch came held them back).
TEST(UringFuzzFound440k, PollHeldBackByADrainIsArmedAfterTheReadBeforeIt) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int held[2], data[2];
        if (pipe2(held, O_CLOEXEC) || pipe2(data, O_CLOEXEC)) return std::vector<Cqe>{};
        EXPECT_EQ(16, write(data[1], "0123456789abcdef", 16));
        static char small[8], big[116];
        add(r, IORING_OP_READ, held[0], small, sizeof(small), ~0ull, 1, IOSQE_IO_DRAIN);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        static struct iovec iov = {big, sizeof(big)};
        add(r, IORING_OP_READV, data[0], &iov, 1, ~0ull, 2, 0);
        add(r, IORING_OP_POLL_ADD, data[0], nullptr, 0, 0, 3, 0)->poll32_events = POLLIN;
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        EXPECT_EQ(3, write(held[1], "xyz", 3));
        r.backend()->wrote();
        auto done = r.wait(2, 1000);   // the READ's 3, the READV's 16
        append(&done, r.wait(1, 50));  // the poll waits
        std::stable_sort(done.begin(), done.end(),
                         [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
        append(&v, done);
        v.push_back(Cqe{4, 0, 0});  // the test writes again: the poll's POLLIN
        EXPECT_EQ(1, write(data[1], "x", 1));
        r.backend()->wrote();
        append(&v, r.wait(1, 1000));
        for (int fd : {held[0], held[1], data[0], data[1]}) ::close(fd);
        return v;
      },
      16);
}

}  // namespace
}  // namespace uring_test
