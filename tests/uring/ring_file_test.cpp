// The ring as a file: dup()s name the same ring, any descriptor number
// works, poll reports what the kernel's io_uring_poll reports, a forked
// child does not hang on its parent's ring, and internal threads
// take no signal meant for the program.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "../common/sanitized.hpp"
#include "iostack/fd.h"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

int count_open_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

std::vector<Cqe> nop_round_trip(int fd, Ring& r, std::uint64_t ud) {
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud, 0);
  r.flush();
  EXPECT_EQ(1, iostack_io_uring_enter(fd, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0));
  return r.reap();
}

TEST(RingFile, ADupIsTheSameRingAndTheLastCloseFreesIt) {
  IostackBackend b;
  {
    Ring warm(&b);  // process-wide services (timers, polling) start once
    ASSERT_GE(warm.init(8), 0);
  }
  const int fds_before = count_open_fds();
  auto* r = new Ring(&b);
  const int fd = r->init(8);
  ASSERT_GE(fd, 0);
  const int copy = dup(fd);
  ASSERT_GE(copy, 0);
  iostack_fd_dup(fd, copy);
  EXPECT_EQ(1, iostack_io_uring_is_ring(copy));

  EXPECT_EQ((std::vector<Cqe>{{1, 0, 0}}), nop_round_trip(copy, *r, 1));
  // A probe header with room for some ops (an array of the flexible struct
  // is an extension).
  constexpr std::size_t kProbeLen = sizeof(io_uring_probe) + 4 * sizeof(io_uring_probe_op);
  alignas(io_uring_probe) unsigned char probe[kProbeLen] = {};
  EXPECT_EQ(0, iostack_io_uring_register(copy, IORING_REGISTER_PROBE, probe, 0));
  void* sqes = iostack_io_uring_mmap(copy, IORING_OFF_SQES, 8 * sizeof(io_uring_sqe));
  ASSERT_FALSE(IOSTACK_URING_IS_ERR(sqes));
  EXPECT_EQ(0, iostack_io_uring_munmap(sqes, 8 * sizeof(io_uring_sqe)));

  // Closing the original leaves the ring alive behind the copy.
  EXPECT_EQ(0, iostack_fd_close(fd));
  EXPECT_EQ(0, iostack_io_uring_is_ring(fd));
  EXPECT_EQ((std::vector<Cqe>{{2, 0, 0}}), nop_round_trip(copy, *r, 2));
  EXPECT_EQ(0, iostack_fd_close(copy));
  EXPECT_EQ(-EBADF, iostack_io_uring_enter(copy, 0, 0, 0, nullptr, 0));
  delete r;  // unmaps; its close of the (closed) descriptor is -EBADF
  EXPECT_EQ(fds_before, count_open_fds()) << "the ring's own descriptors were not all closed";
}

TEST(RingFile, DescriptorNumbersAbove65535Work) {
  struct rlimit rl;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
  constexpr int kHigh = 100000;
  const struct rlimit saved = rl;
  if (rl.rlim_max <= kHigh) rl.rlim_max = kHigh + 1;  // allowed with CAP_SYS_RESOURCE
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    GTEST_SKIP() << "RLIMIT_NOFILE cannot reach " << kHigh + 1 << ": " << strerror(errno);
  IostackBackend b;
  Ring r(&b);
  const int fd = r.init(8);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(kHigh, dup2(fd, kHigh));
  iostack_fd_dup(fd, kHigh);
  EXPECT_EQ((std::vector<Cqe>{{5, 0, 0}}), nop_round_trip(kHigh, r, 5));
  EXPECT_EQ(0, iostack_fd_close(kHigh));
  setrlimit(RLIMIT_NOFILE, &saved);
}

// poll(2) on the ring fd: POLLOUT while the SQ has room, POLLIN exactly
// while CQEs are pending, also after the program consumed them in user
// space without entering. The kernel's answers, then iostack's.
std::vector<short> poll_script(Backend* b, bool kernel) {
  Ring r(b);
  std::vector<short> seen;
  if (r.init(8) < 0) return seen;
  auto mask = [&] {
    if (kernel) {
      struct pollfd p = {r.fd(), POLLIN | POLLOUT, 0};
      poll(&p, 1, 0);
      return p.revents;
    }
    const short m = static_cast<short>(iostack_io_uring_poll_mask(r.fd()));
    // The descriptor itself must agree about POLLIN for plain poll/epoll users.
    struct pollfd p = {r.fd(), POLLIN, 0};
    poll(&p, 1, 0);
    EXPECT_EQ(m & POLLIN, p.revents & POLLIN);
    return static_cast<short>(m & (POLLIN | POLLOUT));
  };
  seen.push_back(mask());
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
  r.submit(0);
  seen.push_back(mask());
  r.reap();  // consumed in user space: no enter
  seen.push_back(mask());
  for (int i = 0; i < 8; ++i) r.sqe();  // SQ full, nothing submitted
  r.flush();
  seen.push_back(mask());
  return seen;
}

TEST(RingFile, PollReportsWhatTheKernelReports) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend k;
  IostackBackend i;
  const std::vector<short> kernel = poll_script(&k, true);
  const std::vector<short> ours = poll_script(&i, false);
  ASSERT_EQ(4u, kernel.size());
  EXPECT_EQ(kernel, ours);
  EXPECT_EQ(POLLOUT, kernel[0]);
  EXPECT_EQ(POLLIN | POLLOUT, kernel[1]);
  EXPECT_EQ(POLLOUT, kernel[2]);
  EXPECT_EQ(0, kernel[3]);
}

// A child forked while the parent's io-wq workers and SQPOLL thread are busy
// (and may hold locks) makes and uses rings of its own, cancels its
// requests, and enters and maps its parent's ring (shared, as on the
// kernel) without a hang.
TEST(RingFile, ForkedChildUsesItsOwnRingsAndReachesItsParents) {
  // The sanitizers' own allocators are not fork-safe while other threads
  // allocate (GCC 12's ASan deadlocks the child in its region lock).
  if (iostack::test::kSanitized) GTEST_SKIP() << "sanitizer runtimes are not fork-safe here";
  IostackBackend b;
  Ring busy(&b);
  ASSERT_GE(busy.init(64), 0);
  io_uring_params sqp{};
  sqp.flags = IORING_SETUP_SQPOLL;
  sqp.sq_thread_idle = 1;
  Ring polled(&b);
  ASSERT_GE(polled.init(8, sqp), 0);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    int fds[2];
    ASSERT_EQ(0, pipe(fds));
    char c = 'x', buf[1];
    while (!stop.load()) {
      // Reads that go to io-wq workers and writes that complete them.
      for (int i = 0; i < 16; ++i) add(busy, IORING_OP_READ, fds[0], buf, 1, 0, 1, IOSQE_ASYNC);
      busy.submit(0);
      for (int i = 0; i < 16; ++i) ASSERT_EQ(1, write(fds[1], &c, 1));
      busy.wait(16);
      if (io_uring_sqe* s = polled.sqe()) {  // the SQ thread may lag behind
        prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 2);
        polled.submit(0);
      }
      polled.enter(0, 0, IORING_ENTER_SQ_WAKEUP);
      polled.reap();
    }
    close(fds[0]);
    close(fds[1]);
  });
  int status = 0;
  for (int round = 0; round < 20 && status == 0; ++round) {
    const int parent_fd = busy.fd();
    status = in_child([&] {
      if (iostack_io_uring_enter(parent_fd, 0, 0, 0, nullptr, 0) != 0) return 10;
      if (iostack_io_uring_register(parent_fd, IORING_REGISTER_PROBE, nullptr, 0) != -EINVAL)
        return 11;
      void* m = iostack_io_uring_mmap(parent_fd, IORING_OFF_SQ_RING, 64);
      if (IOSTACK_URING_IS_ERR(m)) return 12;
      munmap(m, 64);
      IostackBackend cb;
      Ring mine(&cb);
      if (mine.init(8) < 0) return 13;
      int fds[2];
      if (pipe(fds)) return 14;
      char buf[1];
      add(mine, IORING_OP_READ, fds[0], buf, 1, 0, 1, 0);
      add(mine, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 2, 0)->addr = 1;
      __kernel_timespec ts{0, 1000000};
      add(mine, IORING_OP_TIMEOUT, -1, &ts, 1, 0, 3, 0);
      if (mine.submit(0) != 3) return 15;
      std::vector<Cqe> got = mine.wait(3);
      if (got.size() != 3) return 16;
      for (const Cqe& c : got) {
        if (c.user_data == 1 && c.res != -ECANCELED) return 17;
        if (c.user_data == 2 && c.res != 0) return 18;
        if (c.user_data == 3 && c.res != -ETIME) return 19;
      }
      if (iostack_fd_close(parent_fd) != 0) return 20;
      return 0;
    });
    EXPECT_EQ(0, status) << "round " << round << (status == -1 ? ": the child hung" : "");
  }
  stop = true;
  churn.join();
}

// A write past RLIMIT_FSIZE done by an io-wq worker completes with -EFBIG
// and leaves the process alive, on the kernel and on iostack.
int write_past_fsize(Backend* b) {
  char path[] = "/dev/shm/iostack-fsize-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 30;
  unlink(path);
  struct rlimit rl = {4096, 4096};
  if (setrlimit(RLIMIT_FSIZE, &rl)) return 31;
  Ring r(b);
  if (r.init(4) < 0) return 32;
  static char buf[8192];
  add(r, IORING_OP_WRITE, fd, buf, 4096, 4096, 1, IOSQE_ASYNC);
  add(r, IORING_OP_WRITE, fd, buf, 8192, 0, 2, 0);  // short: up to the limit
  add(r, IORING_OP_FALLOCATE, fd, nullptr, 0, 0, 3, 0)->addr = 8192;
  if (r.submit(0) != 3) return 33;
  std::vector<Cqe> got = r.wait(3);
  if (got.size() != 3) return 34;
  for (const Cqe& c : got) {
    if (c.user_data == 1 && c.res != -EFBIG) return 35;
    if (c.user_data == 2 && c.res != 4096) return 36;
    if (c.user_data == 3 && c.res != -EFBIG) return 37;
  }
  return 0;
}

TEST(RingFile, WorkerWritePastFsizeLimitIsEfbigNotSigxfsz) {
  SKIP_IF_THREAD_SANITIZED();
  IostackBackend i;
  EXPECT_EQ(0, in_child([&] { return write_past_fsize(&i); }));
  std::string why;
  if (!kernel_uring_available(&why)) GTEST_SKIP() << why;
  KernelBackend k;
  EXPECT_EQ(0, in_child([&] { return write_past_fsize(&k); }));
}

// liburing's ring-leak: a ring with a pipe's both ends registered and two
// reads of it pending (one waiting on poll, one on a worker) is closed; the
// pipe's reader then sees end of file once the ring has let go of the
// registered write end (the kernel's exit work is asynchronous: the read
// waits for it). 0, or where it went wrong.
int close_releases_registered_files(Backend* b) {
  Ring r(b);
  if (r.init(8) < 0) return 1;
  int fds[2];
  if (pipe(fds) != 0) return 2;
  if (r.reg(IORING_REGISTER_FILES, fds, 2) != 0) return 3;
  close(fds[1]);
  char buf[16];
  add(r, IORING_OP_READ, 0, buf, 10, 0, 1, IOSQE_FIXED_FILE);
  add(r, IORING_OP_READ, 0, buf, 10, 0, 2, IOSQE_FIXED_FILE | IOSQE_ASYNC);
  if (r.submit(0) != 2) return 4;
  r.exit();
  struct pollfd p = {fds[0], POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) return 5;  // the write end is still open
  if (read(fds[0], buf, sizeof(buf)) != 0) return 6;
  close(fds[0]);
  return 0;
}

TEST(RingFile, CloseWithPendingReadsReleasesRegisteredFiles) {
  IostackBackend i;
  EXPECT_EQ(0, close_releases_registered_files(&i));
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend k;
  EXPECT_EQ(0, close_releases_registered_files(&k));
}

// sendmsg refuses a ring in SCM_RIGHTS (scm_fp_copy), on a socket and
// through the ring's own SENDMSG: -EINVAL, nothing sent.
int send_ring_fd(Backend* b, bool through_ring) {
  Ring r(b);
  if (r.init(8) < 0) return 1;
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) != 0) return 2;
  char data = 'x';
  struct iovec iov = {&data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int pass[2] = {sp[1], r.fd()};  // a socket first, then the ring
  std::memcpy(CMSG_DATA(c), pass, sizeof(pass));
  int res;
  if (through_ring) {
    add(r, IORING_OP_SENDMSG, sp[0], &msg, 1, 0, 7, 0);
    if (r.submit(0) != 1) return 4;
    const auto cqes = r.wait(1);
    res = cqes.size() == 1 ? cqes[0].res : -1000;
  } else {
    res = static_cast<int>(sendmsg(sp[0], &msg, 0));
    if (res < 0) res = -errno;
  }
  char got;
  const ssize_t n = recv(sp[1], &got, 1, MSG_DONTWAIT);
  close(sp[0]);
  close(sp[1]);
  if (res != -EINVAL) return 100 + (res < 0 ? -res : res);
  return n == -1 && errno == EAGAIN ? 0 : 3;
}

TEST(RingFile, ScmRightsRefusesARing) {
  IostackBackend i;
  EXPECT_EQ(0, send_ring_fd(&i, true));
  EXPECT_EQ(0, iostack_io_uring_scm_check(nullptr));  // the kernel's -EFAULT to give
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend k;
  EXPECT_EQ(0, send_ring_fd(&k, true));
  EXPECT_EQ(0, send_ring_fd(&k, false));
}

// The kernel handles a poll wakeup inside the write that caused it: a
// program that writes and then looks at the CQ ring without entering finds
// the CQE. iostack_io_uring_run_wakeups (which the shim calls after write)
// does the same for iostack's polls: a multishot POLL_ADD and a multishot
// read of a pipe each post for each write, with no enter in between.
TEST(RingFile, WakeupsRunAfterTheProgramsWrite) {
  IostackBackend b;
  Ring r(&b);
  ASSERT_GE(r.init(8), 0);
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, fds[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0);
  s->poll32_events = POLLIN;
  ASSERT_EQ(1, r.submit(0));
  for (int i = 0; i < 3; ++i) {
    char c = 'a';
    ASSERT_EQ(1, write(fds[1], &c, 1));
    iostack_io_uring_run_wakeups();
    Cqe cqe;
    ASSERT_TRUE(r.peek(&cqe)) << "write " << i;
    EXPECT_EQ(1u, cqe.user_data);
    EXPECT_EQ(POLLIN, cqe.res);
    EXPECT_TRUE(cqe.flags & IORING_CQE_F_MORE);
    ASSERT_EQ(1, read(fds[0], &c, 1));
  }
  close(fds[0]);
  close(fds[1]);
}

// Internal threads run no handler of the program.
std::atomic<int> g_handler_tid{0};
void note_handler(int) { g_handler_tid.store(static_cast<int>(gettid())); }

TEST(RingFile, ProcessSignalsAreNotHandledOnInternalThreads) {
  struct sigaction sa = {}, old;
  sa.sa_handler = note_handler;
  ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
  IostackBackend b;
  Ring r(&b);
  ASSERT_GE(r.init(8), 0);
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  char buf[1];
  add(r, IORING_OP_READ, fds[0], buf, 1, 0, 1, IOSQE_ASYNC);  // a worker blocks here
  ASSERT_EQ(1, r.submit(0));
  // With the main thread's SIGUSR1 blocked, a process-directed signal may
  // only go to a thread that does not block it: none of iostack's.
  sigset_t set, prev;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, &prev);
  kill(getpid(), SIGUSR1);
  char c = 'y';
  ASSERT_EQ(1, write(fds[1], &c, 1));
  EXPECT_EQ(1u, r.wait(1).size());
  EXPECT_EQ(0, g_handler_tid.load()) << "handled on thread " << g_handler_tid.load();
  pthread_sigmask(SIG_SETMASK, &prev, nullptr);  // delivered here now
  EXPECT_EQ(static_cast<int>(gettid()), g_handler_tid.load());
  sigaction(SIGUSR1, &old, nullptr);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace uring_test
