// Differential tests of multishot requests where the kernel's task work
// decides what is posted: a DEFER_TASKRUN ring's multishot poll (posted when
// the submitter waits, wakeups folded into one CQE) and multishot requests
// that find the CQ ring full (they end, their last CQE without F_MORE).
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

// Bounded wait for a flag the kernel sets synchronously and iostack's poll
// thread sets soon after: what follows is then the same on both.
bool await_sq_flag(Ring& r, std::uint32_t flag) {
  for (int i = 0; i < 5000 && !(r.sq_flags() & flag); ++i) usleep(1000);
  return r.sq_flags() & flag;
}

io_uring_params defer_params() {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  return p;
}

void poll_multi(Ring& r, int fd, std::uint64_t ud) {
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_POLL_ADD, fd, nullptr, IORING_POLL_ADD_MULTI, 0, ud);
  s->poll32_events = POLLIN;
}

void poll_remove(Ring& r, std::uint64_t target, std::uint64_t ud) {
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_POLL_REMOVE, -1, nullptr, 0, 0, ud);
  s->addr = target;
}

TEST(UringMshotDiff, DeferTaskrunMultishotPollPostsWhenTheSubmitterWaits) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        int p[2], q[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
        EXPECT_EQ(0, pipe2(q, O_CLOEXEC | O_NONBLOCK));
        char buf[8];
        // Ready when armed: its CQE waits for GETEVENTS.
        EXPECT_EQ(1, write(p[1], "x", 1));
        poll_multi(r, p[0], 1);
        EXPECT_EQ(1, r.submit(0));
        out.push_back(Cqe{100, static_cast<int>(r.cq_ready()), 0});
        append(&out, r.wait(1));
        EXPECT_EQ(1, read(p[0], buf, sizeof(buf)));
        // Two writes before the submitter waits: one CQE.
        EXPECT_EQ(1, write(p[1], "a", 1));
        out.push_back(Cqe{101, await_sq_flag(r, IORING_SQ_TASKRUN) ? 1 : 0, 0});
        out.push_back(Cqe{102, static_cast<int>(r.cq_ready()), 0});
        EXPECT_EQ(1, write(p[1], "b", 1));
        append(&out, r.wait(1));
        out.push_back(Cqe{103, static_cast<int>(read(p[0], buf, sizeof(buf))), 0});
        // Emptied before the submitter waits: the task work finds nothing.
        EXPECT_EQ(1, write(p[1], "c", 1));
        out.push_back(Cqe{104, await_sq_flag(r, IORING_SQ_TASKRUN) ? 1 : 0, 0});
        EXPECT_EQ(1, read(p[0], buf, sizeof(buf)));
        out.push_back(Cqe{105, r.enter(0, 0, IORING_ENTER_GETEVENTS), 0});
        out.push_back(Cqe{106, static_cast<int>(r.cq_ready()), 0});
        // Ready when armed: its task work owns it until the submitter waits,
        // so a POLL_REMOVE meanwhile is -EALREADY.
        EXPECT_EQ(1, write(q[1], "z", 1));
        poll_multi(r, q[0], 2);
        poll_remove(r, 2, 3);
        EXPECT_EQ(2, r.submit(0));
        out.push_back(Cqe{107, static_cast<int>(r.cq_ready()), 0});
        out.push_back(Cqe{108, r.enter(0, 0, IORING_ENTER_GETEVENTS), 0});
        append(&out, r.reap());
        // Removed when nothing is pending: -ECANCELED at the next wait.
        poll_remove(r, 1, 4);
        poll_remove(r, 2, 5);
        EXPECT_EQ(2, r.submit(0));
        out.push_back(Cqe{109, static_cast<int>(r.cq_ready()), 0});
        auto c = r.wait(4);
        sort_by_user_data(&c);
        append(&out, c);
        for (int fd : {p[0], p[1], q[0], q[1]}) ::close(fd);
        return out;
      },
      8, defer_params());
}

// Writable when armed, then readable and writable again before the
// submitter waits: one CQE with both (liburing's poll.t missing events).
TEST(UringMshotDiff, DeferTaskrunMultishotPollFoldsWakeups) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        int sp[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        int one = 1;
        EXPECT_EQ(0, setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)));
        char buf[2] = {};
        EXPECT_EQ(2, send(sp[0], buf, 2, 0));
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_POLL_ADD, sp[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1);
        s->poll32_events = POLLIN | POLLOUT;
        EXPECT_EQ(1, r.submit(0));
        EXPECT_EQ(2, send(sp[1], buf, 2, 0));
        EXPECT_EQ(2, recv(sp[1], buf, 2, 0));
        append(&out, r.wait(1));
        ::close(sp[0]);
        ::close(sp[1]);
        return out;
      },
      8, defer_params());
}

// A one-shot poll completes when its descriptor becomes ready: by the next
// wait at the latest, whenever iostack's poll thread gets to it.
TEST(UringMshotDiff, OneShotPollIsCompleteByTheNextWait) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 1);
        s->poll32_events = POLLIN;
        EXPECT_EQ(1, r.submit(0));
        EXPECT_EQ(1, write(p[1], "x", 1));
        out.push_back(Cqe{100, r.enter(0, 0, IORING_ENTER_GETEVENTS), 0});
        out.push_back(Cqe{101, static_cast<int>(r.cq_ready()), 0});
        append(&out, r.wait(1));
        ::close(p[0]);
        ::close(p[1]);
        return out;
      },
      8);
}

// A multishot poll of the ring's own registered eventfd is woken by the
// ring's CQE posting, which makes it one-shot (liburing's evloop).
TEST(UringMshotDiff, MultishotPollOfTheRingsEventfdEndsAtItsWakeup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        const int efd = eventfd(0, EFD_CLOEXEC);
        out.push_back(Cqe{100, r.reg(IORING_REGISTER_EVENTFD, const_cast<int*>(&efd), 1), 0});
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_POLL_ADD, efd, nullptr, IORING_POLL_ADD_MULTI, 0, 1);
        s->poll32_events = POLLIN;
        EXPECT_EQ(1, r.submit(0));
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
        EXPECT_EQ(1, r.submit(0));
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&out, c);
        // Nothing more: the poll has ended.
        poll_remove(r, 1, 3);
        append(&out, submit_wait(r, 1));
        r.exit();
        ::close(efd);
        return out;
      },
      8);
}

// The program's own write to that eventfd is an ordinary wakeup: the poll
// posts with F_MORE, and only the wakeup its CQE's signal makes ends it,
// with a second CQE (liburing's poll-mshot-wake).
void program_wakes_rings_eventfd_poll(io_uring_params params) {
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        out.push_back(Cqe{100, r.reg(IORING_REGISTER_EVENTFD, const_cast<int*>(&efd), 1), 0});
        poll_multi(r, efd, 1);
        EXPECT_EQ(1, r.submit(0));
        for (int round = 0; round < 2; ++round) {
          std::uint64_t v = 1;
          EXPECT_EQ(8, write(efd, &v, 8));
          r.backend()->wrote();
          EXPECT_EQ(8, read(efd, &v, 8));
          append(&out, r.wait(1, 1000));
        }
        // Nothing more: the poll has ended.
        poll_remove(r, 1, 3);
        append(&out, submit_wait(r, 1));
        r.exit();
        ::close(efd);
        return out;
      },
      8, params);
}

TEST(UringMshotDiff, MultishotPollOfTheRingsEventfdWokenByTheProgramPostsTwice) {
  SKIP_WITHOUT_KERNEL_URING();
  program_wakes_rings_eventfd_poll({});
}

TEST(UringMshotDiff, DeferTaskrunMultishotPollOfTheRingsEventfdWokenByTheProgramPostsTwice) {
  SKIP_WITHOUT_KERNEL_URING();
  program_wakes_rings_eventfd_poll(defer_params());
}

// A multishot poll whose event finds the CQ ring full ends: its CQE, without
// F_MORE, waits in the overflow list, and a later POLL_REMOVE finds nothing.
void full_ring_poll(bool defer) {
  io_uring_params params = defer ? defer_params() : io_uring_params{};
  params.flags |= IORING_SETUP_CQSIZE;
  params.cq_entries = 2;
  compare_with_kernel(
      [defer](Ring& r) {
        std::vector<Cqe> out;
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
        poll_multi(r, p[0], 1);
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
        EXPECT_EQ(2, r.submit(0));
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
        EXPECT_EQ(1, r.submit(0));
        EXPECT_EQ(1, write(p[1], "x", 1));
        if (defer) {
          out.push_back(Cqe{100, await_sq_flag(r, IORING_SQ_TASKRUN) ? 1 : 0, 0});
          out.push_back(Cqe{101, r.enter(0, 0, IORING_ENTER_GETEVENTS), 0});
        }
        out.push_back(Cqe{102, await_sq_flag(r, IORING_SQ_CQ_OVERFLOW) ? 1 : 0, 0});
        append(&out, r.reap());
        append(&out, r.wait(1));
        poll_remove(r, 1, 4);
        EXPECT_EQ(1, r.submit(0));
        append(&out, r.wait(1));
        ::close(p[0]);
        ::close(p[1]);
        return out;
      },
      2, params);
}

TEST(UringMshotDiff, MultishotPollOnAFullCqRingEnds) {
  SKIP_WITHOUT_KERNEL_URING();
  full_ring_poll(false);
}

TEST(UringMshotDiff, DeferTaskrunMultishotPollOnAFullCqRingEnds) {
  SKIP_WITHOUT_KERNEL_URING();
  full_ring_poll(true);
}

}  // namespace
}  // namespace uring_test
