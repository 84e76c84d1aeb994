// Rings shared across fork(), the same program on the kernel and on
// iostack: a child submits to its parent's ring and the parent reaps, a
// child waits for the CQE of its parent's request, both submit and reap at
// once, SINGLE_ISSUER refuses the child, a child cancels its parent's
// request, a child exits with requests in flight, and a child reads
// through a file its parent registered before the fork.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "../common/sanitized.hpp"
#include "../common/thread_state.hpp"
#include "ring_harness.hpp"

// ThreadSanitizer kills a child that starts threads after a fork of a
// process with threads (sanitized.hpp); these children must (io-wq workers,
// the ring-share thread), and the parents' engine threads are idle at the
// fork, so the runtime is told to let them.
#if defined(__SANITIZE_THREAD__)
#define FORK_SHARE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_SHARE_TSAN 1
#endif
#endif
#ifdef FORK_SHARE_TSAN
extern "C" const char* __tsan_default_options() { return "die_after_fork=0"; }
#endif

namespace uring_test {
namespace {

std::vector<Cqe> sorted(std::vector<Cqe> v) {
  sort_by_user_data(&v);
  return v;
}

// `script` run on the kernel, then on iostack.
using iostack::test::quiet_fork;

template <class Script>
auto on_both(Script script) {
  KernelBackend k;
  IostackBackend i;
  auto kernel = script(&k);
  return std::make_pair(kernel, script(&i));
}

// The child queues NOPs and a write to a pipe only it has; the parent reaps
// them, and its own NOP after them.
std::vector<Cqe> child_submits_parent_reaps(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  const int st = in_child([&] {
    int p[2];
    if (pipe(p)) return 1;
    for (std::uint64_t ud = 1; ud <= 3; ++ud) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud, 0);
    add(r, IORING_OP_WRITE, p[1], "abc", 3, 0, 4, 0);
    return r.submit(0) == 4 ? 0 : 2;
  });
  std::vector<Cqe> got = sorted(r.wait(4));
  if (st) got.push_back(Cqe{999, st, 0});
  r.set_tail(r.sq_tail());  // past the child's SQEs
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 5, 0);
  if (r.submit(1) == 1) {
    std::vector<Cqe> more = r.reap();
    got.insert(got.end(), more.begin(), more.end());
  }
  return got;
}

TEST(ForkShare, ChildSubmitsAndParentReaps) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(child_submits_parent_reaps);
  ASSERT_EQ(5u, kernel.size());
  EXPECT_EQ(kernel, ours);
}

// The parent's read of a pipe is pending at the fork; the child waits in
// io_uring_enter(GETEVENTS) and reaps the CQE the parent's write completes.
std::vector<Cqe> child_waits_for_parents_cqe(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  int data[2], sync[2], report[2];
  if (pipe(data) || pipe(sync) || pipe(report)) return {};
  static char buf[8];
  add(r, IORING_OP_READ, data[0], buf, sizeof(buf), 0, 7, 0);
  if (r.submit(0) != 1) return {};
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(20);
    char c = 'w';
    if (write(sync[1], &c, 1) != 1) _exit(1);
    const int ret = r.enter(0, 1, IORING_ENTER_GETEVENTS);
    Cqe cqe{0, ret, 0};
    if (ret < 0 || !r.peek(&cqe)) cqe = Cqe{0, ret, 0};
    _exit(write(report[1], &cqe, sizeof(cqe)) == sizeof(cqe) ? 0 : 2);
  }
  char c;
  std::vector<Cqe> got;
  if (read(sync[0], &c, 1) == 1 && write(data[1], "hello", 5) == 5) {
    Cqe cqe;
    if (read(report[0], &cqe, sizeof(cqe)) == sizeof(cqe)) got.push_back(cqe);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  got.push_back(Cqe{998, status, 0});
  for (int fd : {data[0], data[1], sync[0], sync[1], report[0], report[1]}) close(fd);
  return got;
}

TEST(ForkShare, ChildWaitsForTheCqeOfItsParentsRequest) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(child_waits_for_parents_cqe);
  ASSERT_EQ(2u, kernel.size());
  EXPECT_EQ((Cqe{7, 5, 0}), kernel[0]);
  EXPECT_EQ(kernel, ours);
}

// Both processes queue NOPs and reap, the SQ tail and CQ head moved under a
// lock of the program's (as two liburing users of one ring must); their
// io_uring_enter calls run unlocked and race. Every NOP comes back once.
constexpr unsigned kPerProcess = 1000;

struct Shared {
  pthread_mutex_t mu;
  std::atomic<int> seen[2 * kPerProcess + 1];
  std::atomic<unsigned> reaped;
};

void reap_into(Ring& r, Shared* sh) {
  pthread_mutex_lock(&sh->mu);
  Cqe c;
  while (r.peek(&c)) {
    if (c.user_data >= 1 && c.user_data <= 2 * kPerProcess && c.res == 0)
      sh->seen[c.user_data].fetch_add(1);
    sh->reaped.fetch_add(1);
  }
  pthread_mutex_unlock(&sh->mu);
}

int submit_half(Ring& r, Shared* sh, std::uint64_t first) {
  for (unsigned i = 0; i < kPerProcess; ++i) {
    for (;;) {
      pthread_mutex_lock(&sh->mu);
      r.set_tail(r.sq_tail());  // the other process's SQEs too
      io_uring_sqe* s = r.sqe();
      if (s) {
        prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, first + i);
        r.flush();
      }
      pthread_mutex_unlock(&sh->mu);
      if (s) break;
      if (r.enter(8, 0, 0) < 0) return 1;  // full: consume some
    }
    if (r.enter(1, 0, 0) < 0) return 2;
    reap_into(r, sh);
  }
  return 0;
}

// The number of NOPs that came back exactly once, and the number of CQEs.
std::vector<unsigned> both_submit(Backend* b) {
  void* m =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return {};
  auto* sh = new (m) Shared{};
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&sh->mu, &a);
  Ring r(b);
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = 4 * kPerProcess;  // no overflow whoever reaps late
  if (r.init(16, p) < 0) return {};
  auto drain = [&] {
    while (r.load(r.params().sq_off.head) != r.sq_tail())
      if (r.enter(16, 0, 0) < 0) return 3;
    return 0;
  };
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(30);
    int ret = submit_half(r, sh, 1 + kPerProcess);
    if (!ret) ret = drain();
    _exit(ret);
  }
  const int mine = submit_half(r, sh, 1);
  int status = 0;
  waitpid(pid, &status, 0);
  const int drained = drain();
  while (sh->reaped.load() < 2 * kPerProcess) {
    if (r.enter(0, 1, IORING_ENTER_GETEVENTS) < 0) break;
    reap_into(r, sh);
  }
  unsigned once = 0;
  for (unsigned i = 1; i <= 2 * kPerProcess; ++i) once += sh->seen[i].load() == 1;
  std::vector<unsigned> out{once, sh->reaped.load(), static_cast<unsigned>(mine),
                            static_cast<unsigned>(status), static_cast<unsigned>(drained)};
  munmap(m, sizeof(Shared));
  return out;
}

TEST(ForkShare, BothProcessesSubmitAndReapAtOnce) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(both_submit);
  ASSERT_EQ((std::vector<unsigned>{2 * kPerProcess, 2 * kPerProcess, 0, 0, 0}), kernel);
  EXPECT_EQ(kernel, ours);
}

// SINGLE_ISSUER: the creator's ring refuses its child (-EEXIST); a disabled
// ring is the first enabler's, here the child's, and then refuses the parent
// (its submissions and its registrations).
std::vector<int> single_issuer(Backend* b) {
  std::vector<int> out;
  {
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER;
    if (r.init(4, p) < 0) return {};
    out.push_back(in_child([&] {
      add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
      return -r.submit(0);
    }));
    r.set_tail(r.sq_tail());  // the child's SQE is still queued: both go
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
    r.flush();
    out.push_back(r.enter(2, 0, 0));
    out.push_back(static_cast<int>(r.reap().size()));
  }
  {
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED;
    if (r.init(4, p) < 0) return {};
    out.push_back(in_child([&] {
      if (r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) return 100;
      add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
      return r.submit(1);
    }));
    out.push_back(static_cast<int>(r.reap().size()));
    r.set_tail(r.sq_tail());
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
    out.push_back(r.submit(0));
    out.push_back(r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
  }
  return out;
}

TEST(ForkShare, SingleIssuerRefusesTheOtherProcess) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(single_issuer);
  ASSERT_EQ((std::vector<int>{EEXIST, 2, 2, 1, 1, -EEXIST, -EEXIST}), kernel);
  EXPECT_EQ(kernel, ours);
}

// poll(2) of the ring fd in the child: readable once the parent's request
// posts its CQE, and no longer once the child reaped it.
std::vector<int> child_polls_ring_fd(Backend* b, bool kernel) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  int data[2], sync[2];
  if (pipe(data) || pipe(sync)) return {};
  static char buf[8];
  add(r, IORING_OP_READ, data[0], buf, sizeof(buf), 0, 7, 0);
  if (r.submit(0) != 1) return {};
  auto child = [&] {
    char c = 'p';
    if (write(sync[1], &c, 1) != 1) return 1;
    struct pollfd p = {r.fd(), POLLIN, 0};
    if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLIN)) return 2;
    Cqe cqe;
    if (!r.peek(&cqe) || cqe.user_data != 7 || cqe.res != 5) return 3;
    short after;
    if (kernel) {
      p = {r.fd(), POLLIN | POLLOUT, 0};
      poll(&p, 1, 0);
      after = p.revents;
    } else {
      after = static_cast<short>(iostack_io_uring_poll_mask(r.fd()) & (POLLIN | POLLOUT));
      p = {r.fd(), POLLIN, 0};
      if (poll(&p, 1, 0) != 0) return 4;  // the descriptor agrees
    }
    return after == POLLOUT ? 0 : 5;
  };
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(20);
    _exit(child());
  }
  char c;
  std::vector<int> out;
  if (read(sync[0], &c, 1) == 1) out.push_back(static_cast<int>(write(data[1], "hello", 5)));
  int status = 0;
  waitpid(pid, &status, 0);
  out.push_back(status);
  for (int fd : {data[0], data[1], sync[0], sync[1]}) close(fd);
  return out;
}

TEST(ForkShare, ChildPollsTheRingFd) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both([](Backend* b) {
    return child_polls_ring_fd(b, dynamic_cast<KernelBackend*>(b) != nullptr);
  });
  ASSERT_EQ((std::vector<int>{5, 0}), kernel);
  EXPECT_EQ(kernel, ours);
}

// The parent's read of an empty pipe (IOSQE_ASYNC) is cancelled by its
// child; the child reaps both CQEs. The kernel interrupts its worker
// (-EINTR, the cancel -EALREADY) or cancels the read before it runs
// (-ECANCELED, 0): either counts as cancelled.
std::vector<Cqe> child_cancels_parents_request(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  int data[2], report[2];
  if (pipe(data) || pipe(report)) return {};
  static char buf[8];
  add(r, IORING_OP_READ, data[0], buf, sizeof(buf), 0, 1, IOSQE_ASYNC);
  if (r.submit(0) != 1) return {};
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(20);
    r.set_tail(r.sq_tail());
    add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 2, 0)->addr = 1;
    if (r.submit(0) != 1) _exit(1);
    std::vector<Cqe> got = sorted(r.wait(2));
    for (Cqe& c : got) {
      if (c.user_data == 1 && c.res == -EINTR) c.res = -ECANCELED;
      if (c.user_data == 2 && c.res == -EALREADY) c.res = 0;
    }
    const auto bytes = static_cast<ssize_t>(got.size() * sizeof(Cqe));
    _exit(write(report[1], got.data(), got.size() * sizeof(Cqe)) == bytes ? 0 : 2);
  }
  close(report[1]);
  std::vector<Cqe> got(2);
  const ssize_t n = read(report[0], got.data(), 2 * sizeof(Cqe));
  got.resize(n > 0 ? static_cast<std::size_t>(n) / sizeof(Cqe) : 0);
  int status = 0;
  waitpid(pid, &status, 0);
  got.push_back(Cqe{998, status, 0});
  // A round trip of the parent's own before the pipe goes: its CQE is
  // posted after the cancelled read's (which ThreadSanitizer cannot see
  // through the child).
  r.set_tail(r.sq_tail());
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
  if (r.submit(1) != 1 || r.reap().size() != 1) got.push_back(Cqe{997, 0, 0});
  for (int fd : {data[0], data[1], report[0]}) close(fd);
  return got;
}

TEST(ForkShare, ChildCancelsItsParentsRequest) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(child_cancels_parents_request);
  ASSERT_EQ((std::vector<Cqe>{{1, -ECANCELED, 0}, {2, 0, 0}, {998, 0, 0}}), kernel);
  EXPECT_EQ(kernel, ours);
}

// A child leaves (exit(), as liburing's tests do) with a poll of the ring,
// a request linked to it and a timeout in flight: the kernel cancels the
// poll, which references a ring, and so its link, at the exit, and the
// timeout, which outlives the child, expires; the parent reaps all three.
std::vector<Cqe> child_exits_with_requests_in_flight(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(20);
    // Long enough for the child to be gone first, even under a sanitizer:
    // an earlier expiry would make the ring readable and fire the poll.
    __kernel_timespec ts{2, 0};
    add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, IOSQE_IO_LINK)->poll32_events = POLLIN;
    add(r, IORING_OP_TIMEOUT, -1, &ts, 1, 0, 2, 0);
    add(r, IORING_OP_TIMEOUT, -1, &ts, 1, 0, 3, 0);
    std::exit(r.submit(0) == 3 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::vector<Cqe> got = sorted(r.wait(3));
  got.push_back(Cqe{998, status, 0});
  return got;
}

TEST(ForkShare, ChildExitsWithRequestsInFlight) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(child_exits_with_requests_in_flight);
  ASSERT_EQ((std::vector<Cqe>{{1, -ECANCELED, 0}, {2, -ECANCELED, 0}, {3, -ETIME, 0}, {998, 0, 0}}),
            kernel);
  EXPECT_EQ(kernel, ours);
}

// The parent registers a pipe's read end as fixed file 0 and forks; the
// child reads through slot 0 of the shared ring (the parent having closed
// its own descriptor) and gets what the parent then writes.
std::vector<Cqe> child_reads_parents_fixed_file(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return {};
  int data[2], sync[2], report[2];
  if (pipe(data) || pipe(sync) || pipe(report)) return {};
  std::vector<Cqe> got;
  int fds[1] = {data[0]};
  got.push_back(Cqe{997, r.reg(IORING_REGISTER_FILES, fds, 1), 0});
  close(data[0]);
  const pid_t pid = quiet_fork();
  if (pid == 0) {
    alarm(20);
    static char buf[8];
    add(r, IORING_OP_READ, 0, buf, sizeof(buf), 0, 8, IOSQE_FIXED_FILE);
    const int submitted = r.submit(0);
    char c = 'w';
    if (write(sync[1], &c, 1) != 1) _exit(1);
    std::vector<Cqe> c1 = r.wait(1);
    Cqe out[2] = {{0, submitted, 0}, {0, -1, 0}};
    if (!c1.empty()) out[1] = c1[0];
    if (out[1].res == 5 && std::memcmp(buf, "hello", 5) != 0) out[1].res = -999;
    _exit(write(report[1], out, sizeof(out)) == sizeof(out) ? 0 : 2);
  }
  char c;
  if (read(sync[0], &c, 1) == 1 && write(data[1], "hello", 5) == 5) {
    Cqe out[2];
    if (read(report[0], out, sizeof(out)) == sizeof(out)) got.insert(got.end(), out, out + 2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  got.push_back(Cqe{998, status, 0});
  for (int fd : {data[1], sync[0], sync[1], report[0], report[1]}) close(fd);
  return got;
}

TEST(ForkShare, ChildReadsThroughItsParentsFixedFile) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto [kernel, ours] = on_both(child_reads_parents_fixed_file);
  ASSERT_EQ(4u, kernel.size());
  EXPECT_EQ((Cqe{8, 5, 0}), kernel[2]);
  EXPECT_EQ(kernel, ours);
}

}  // namespace
}  // namespace uring_test
