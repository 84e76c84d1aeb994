// Differences iostack-fuzz found in seeds 440000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
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

// A BIND of a regular file to a filesystem name goes to io-wq at prep and
// fails there, -ENOTSOCK, which io_bind returns from its issue: the kernel
// posts it from task work (io_req_task_queue_fail), and the RECVMSG hard-
// linked behind it is issued from there without blocking, so it waits on
// poll and a cancel ends it -ECANCELED. iostack's worker ran the RECVMSG
// next and waited in it: the cancel interrupted it, -EINTR (fuzz seed 441002).
// The kernel's worker runs it now and then too, when its put of the BIND is
// the last (io_wq_free_work): the usual answer is asked for.
TEST(UringFuzzFound440k, FailedBindOnAWorkerIssuesItsLinkFromTaskWork) {
  SKIP_WITHOUT_KERNEL_URING();
  char tmpl[] = "/tmp/iostack-fuzz440k-XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(tmpl));
  const std::string dir = tmpl;
  const int file = open((dir + "/f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  static struct sockaddr_un sun {};
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir.c_str());
  compare_with_settled_kernel(
      [&](Ring& r) {
        static char buf[16];
        static struct iovec iov = {buf, sizeof(buf)};
        static struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        add(r, 56 /* BIND */, file, &sun, 0, sizeof(sun), 1, IOSQE_IO_HARDLINK);
        add(r, IORING_OP_RECVMSG, sv[0], &msg, 1, 0, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        append(&v, r.wait(1, 1000));  // the BIND's -ENOTSOCK
        append(&v, r.wait(1, 20));    // the RECVMSG waits
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        auto c = r.wait(2, 1000);
        sort_by_user_data(&c);
        append(&v, c);
        return v;
      },
      16,
      [](const std::vector<Cqe>& v) {
        return std::find(v.begin(), v.end(), Cqe{2, -ECANCELED, 0}) != v.end();
      });
  for (int fd : {file, sv[0], sv[1]}) ::close(fd);
  unlink((dir + "/f").c_str());
  unlink(sun.sun_path);
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace uring_test
