// Differential tests of how a DEFER_TASKRUN ring runs its task work
// (io_run_local_work): a wait runs items until as many as it asked for have
// run, and work those items queue waits for the next wait.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr unsigned kLocalRing =
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;

// A CQE-shaped record of what the program saw between waits.
Cqe seen(std::uint64_t what, unsigned value) {
  return Cqe{what, static_cast<std::int32_t>(value), 0};
}

// Waits (bounded) until the ring says it has task work: the io-wq worker
// has finished the FSYNC and queued its completion.
bool wait_taskrun_flag(Ring& r) {
  for (int i = 0; i < 20000; ++i) {
    if (r.sq_flags() & IORING_SQ_TASKRUN) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return false;
}

// An FSYNC (always on io-wq) linked to a NOP: the FSYNC's completion is one
// item of task work, and freeing it queues the NOP as another. A wait for
// one CQE runs the first and stops there (the TASKRUN flag stays up); the
// NOP's CQE comes with the next wait. A wait for two runs both.
std::vector<Cqe> fsync_then_nop(Ring& r, int fd, unsigned first_wait) {
  add(r, IORING_OP_FSYNC, fd, nullptr, 0, 0, 1, IOSQE_IO_LINK);
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
  std::vector<Cqe> v;
  v.push_back(seen(100, static_cast<unsigned>(r.submit(0))));
  v.push_back(seen(101, wait_taskrun_flag(r)));
  v.push_back(
      seen(102, static_cast<unsigned>(r.enter(0, first_wait, IORING_ENTER_GETEVENTS, nullptr, 8))));
  v.push_back(seen(103, r.cq_ready()));
  v.push_back(seen(104, (r.sq_flags() & IORING_SQ_TASKRUN) != 0));
  append(&v, r.reap());
  append(&v, r.wait(first_wait == 1 ? 1 : 0));
  return v;
}

struct TmpFile {
  char path[32] = "/var/tmp/iostack-lwork-XXXXXX";
  int fd = mkstemp(path);
  ~TmpFile() {
    ::close(fd);
    unlink(path);
  }
};

TEST(UringLocalWork, AWaitRunsAsManyItemsAsItAskedFor) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpFile f;
  ASSERT_GE(f.fd, 0);
  io_uring_params p{};
  p.flags = kLocalRing;
  for (const unsigned first_wait : {1u, 2u})
    compare_with_kernel([&](Ring& r) { return fsync_then_nop(r, f.fd, first_wait); }, 8, p);
}

// A SENDMSG_ZC cancelled because the request it is linked to failed: the
// cancel is one item of task work, and the zero-copy notification that the
// request's cleanup sends is a request of its own whose completion is
// another, run by the next wait (fuzz seed 100152).
TEST(UringLocalWork, ACancelledZeroCopySendNotifiesAtTheNextWait) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = kLocalRing;
  compare_with_kernel(
      [](Ring& r) {
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        static char byte = 'x';
        static struct iovec iov { &byte, 1 };
        static struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        add(r, IORING_OP_READ, -1, &byte, 1, 0, 1, IOSQE_IO_LINK);
        add(r, IORING_OP_SENDMSG_ZC, sv[0], &msg, 1, 0, 2, 0);
        std::vector<Cqe> v;
        v.push_back(seen(100, static_cast<unsigned>(r.submit(0))));
        append(&v, r.reap());
        v.push_back(
            seen(101, static_cast<unsigned>(r.enter(0, 1, IORING_ENTER_GETEVENTS, nullptr, 8))));
        v.push_back(seen(102, r.cq_ready()));
        append(&v, r.reap());
        append(&v, r.wait(1));
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8, p);
}

}  // namespace
}  // namespace uring_test
