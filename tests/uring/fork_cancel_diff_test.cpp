// Cancels that cross fork() on a shared ring, the same program on the kernel
// and on iostack: a child cancels its parent's requests by descriptor
// (ASYNC_CANCEL with CANCEL_FD, alone or with ALL) and through
// IORING_REGISTER_SYNC_CANCEL (by user_data and by descriptor, waiting for a
// request running on the parent's worker).
#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <vector>

#include "../common/thread_state.hpp"
#include "ring_harness.hpp"
#include "sync_cancel_reg.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::SyncCancelReg;

// The kernel either interrupts a request running on io-wq (-EINTR, its
// cancel -EALREADY) or cancels it before it runs (-ECANCELED, 0): both
// count as cancelled.
void normalise(std::vector<Cqe>* v) {
  for (Cqe& c : *v) {
    if (c.user_data < 10 && c.res == -EINTR) c.res = -ECANCELED;
    if (c.user_data >= 10 && c.res == -EALREADY) c.res = 0;
  }
  sort_by_user_data(v);
}

// Runs `child` in a forked child and returns what it reported, then the
// child's exit status under user_data 998.
template <class Child>
std::vector<Cqe> from_child(Child child) {
  int report[2];
  if (pipe(report)) return {};
  const pid_t pid = iostack::test::quiet_fork();
  if (pid == 0) {
    alarm(20);
    close(report[0]);
    std::vector<Cqe> got = child();
    const auto bytes = static_cast<ssize_t>(got.size() * sizeof(Cqe));
    _exit(write(report[1], got.data(), got.size() * sizeof(Cqe)) == bytes ? 0 : 2);
  }
  close(report[1]);
  std::vector<Cqe> got(16);
  const ssize_t n = read(report[0], got.data(), got.size() * sizeof(Cqe));
  got.resize(n > 0 ? static_cast<std::size_t>(n) / sizeof(Cqe) : 0);
  close(report[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  got.push_back(Cqe{998, status, 0});
  return got;
}

// Two pipes: the parent reads `a` (user_data 1, and 2 with `two`) and `b`
// (user_data 3), `flags` on each read. What the child does comes back in
// its report; then the parent fills both pipes and reaps what is left, so
// that a request the child failed to cancel shows up with its byte count.
template <class Child>
std::vector<Cqe> parent_reads(Backend* b, std::uint8_t flags, bool two, Child child) {
  Ring r(b);
  if (r.init(16) < 0) return {};
  int a[2], bp[2];
  if (pipe(a) || pipe(bp)) return {};
  static char buf[3][8];
  add(r, IORING_OP_READ, a[0], buf[0], sizeof(buf[0]), 0, 1, flags);
  if (two) add(r, IORING_OP_READ, a[0], buf[1], sizeof(buf[1]), 0, 2, flags);
  add(r, IORING_OP_READ, bp[0], buf[2], sizeof(buf[2]), 0, 3, flags);
  const unsigned n = two ? 3 : 2;
  if (r.submit(0) != static_cast<int>(n)) return {};
  std::vector<Cqe> got = from_child([&] { return child(r, a[0], bp[0]); });
  unsigned done = 0;
  for (const Cqe& c : got) done += c.user_data <= 3;
  if (write(a[1], "aaaaaaaa", 8) != 8 || write(bp[1], "bbbbbbbb", 8) != 8) return {};
  std::vector<Cqe> rest = r.wait(n - std::min(done, n), 2000);
  got.insert(got.end(), rest.begin(), rest.end());
  // A round trip of the parent's own before the pipes go: its CQE is posted
  // after those the child reaped (which ThreadSanitizer cannot see through
  // the child).
  r.set_tail(r.sq_tail());
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 5, 0);
  if (r.submit(1) != 1 || r.reap().size() != 1) got.push_back(Cqe{997, 0, 0});
  for (int fd : {a[0], a[1], bp[0], bp[1]}) close(fd);
  normalise(&got);
  return got;
}

template <class Script>
void expect_same(Script script, const std::vector<Cqe>& expected) {
  KernelBackend k;
  IostackBackend i;
  const std::vector<Cqe> kernel = script(&k);
  ASSERT_EQ(expected, kernel);
  EXPECT_EQ(kernel, script(&i));
}

// The child's ASYNC_CANCEL (user_data 10) by descriptor `fd` with `flags`;
// it reaps `n` CQEs.
std::vector<Cqe> child_cancels_by_fd(Ring& r, int fd, unsigned flags, unsigned n) {
  r.set_tail(r.sq_tail());
  io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, fd, nullptr, 0, 0, 10, 0);
  s->cancel_flags = IORING_ASYNC_CANCEL_FD | flags;
  if (r.submit(0) != 1) return {};
  return r.wait(n, 2000);
}

// Polled reads only: the kernel assigns a request's file when io-wq issues
// it, so a cancel by descriptor misses an IOSQE_ASYNC read still queued.
TEST(ForkCancel, ChildCancelsByTheInheritedDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  expect_same(
      [](Backend* b) {
        return parent_reads(b, 0, false,
                            [](Ring& r, int a, int) { return child_cancels_by_fd(r, a, 0, 2); });
      },
      {{1, -ECANCELED, 0}, {3, 8, 0}, {10, 0, 0}, {998, 0, 0}});
}

// A dup in the child names the same open file; a pipe of the child's own
// does not.
TEST(ForkCancel, ChildsDupMatchesAndItsOwnFileDoesNot) {
  SKIP_WITHOUT_KERNEL_URING();
  expect_same(
      [](Backend* b) {
        return parent_reads(b, 0, false, [](Ring& r, int, int bfd) {
          const int d = dup(bfd);
          return child_cancels_by_fd(r, d, 0, 2);
        });
      },
      {{1, 8, 0}, {3, -ECANCELED, 0}, {10, 0, 0}, {998, 0, 0}});
  expect_same(
      [](Backend* b) {
        return parent_reads(b, 0, false, [](Ring& r, int, int) {
          int p[2];
          if (pipe(p)) return std::vector<Cqe>{};
          return child_cancels_by_fd(r, p[0], 0, 1);
        });
      },
      {{1, 8, 0}, {3, 8, 0}, {10, -ENOENT, 0}, {998, 0, 0}});
}

// CANCEL_FD|ALL in the child counts the parent's two reads of the file and
// the child's own.
TEST(ForkCancel, ChildCancelsAllOfADescriptorInBothProcesses) {
  SKIP_WITHOUT_KERNEL_URING();
  expect_same(
      [](Backend* b) {
        return parent_reads(b, 0, true, [](Ring& r, int a, int) {
          static char buf[8];
          r.set_tail(r.sq_tail());
          add(r, IORING_OP_READ, a, buf, sizeof(buf), 0, 4, 0);
          if (r.submit(0) != 1) return std::vector<Cqe>{};
          return child_cancels_by_fd(r, a, IORING_ASYNC_CANCEL_ALL, 4);
        });
      },
      {{1, -ECANCELED, 0},
       {2, -ECANCELED, 0},
       {3, 8, 0},
       {4, -ECANCELED, 0},
       {10, 3, 0},
       {998, 0, 0}});
}

// IORING_REGISTER_SYNC_CANCEL in the child (its answers as user_data 11 to
// 13), by user_data, and by descriptor for a polled read (see above); with
// IOSQE_ASYNC it waits for the parent's worker to end the read.
TEST(ForkCancel, ChildsSyncCancelReachesTheParent) {
  SKIP_WITHOUT_KERNEL_URING();
  for (std::uint8_t flags : {std::uint8_t{0}, std::uint8_t{IOSQE_ASYNC}}) {
    SCOPED_TRACE(flags ? "on io-wq" : "polled");
    expect_same(
        [&](Backend* b) {
          return parent_reads(b, flags, false, [flags](Ring& r, int, int bfd) {
            SyncCancelReg sc = sync_cancel_of(1, 0, -1);
            std::vector<Cqe> v{{11, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1), 0}};
            sc = flags ? sync_cancel_of(3, 0, -1) : sync_cancel_of(0, IORING_ASYNC_CANCEL_FD, bfd);
            v.push_back({12, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1), 0});
            sc = sync_cancel_of(7, 0, -1);
            v.push_back({13, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1), 0});
            std::vector<Cqe> cqes = r.wait(2, 2000);
            v.insert(v.end(), cqes.begin(), cqes.end());
            return v;
          });
        },
        {{1, -ECANCELED, 0},
         {3, -ECANCELED, 0},
         {11, 0, 0},
         {12, 0, 0},
         {13, -ENOENT, 0},
         {998, 0, 0}});
  }
}

}  // namespace
}  // namespace uring_test
