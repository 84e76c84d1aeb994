// Engine behaviour beyond single CQEs: readiness of the ring fd, eventfd
// notification, io-wq punting, SQPOLL wake-ups, registered ring fds,
// SINGLE_ISSUER, locked-memory accounting and block-device targets.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "../common/thread_state.hpp"
#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "ring_harness.hpp"
#include "task/current.hpp"

namespace uring_test {
namespace {

// epoll_wait, again after EINTR: the kernel's io_uring of an earlier test
// in this process may notify task work to this thread (TIF_NOTIFY_SIGNAL),
// which interrupts the wait without a signal.
int epoll_wait_once(int ep, struct epoll_event* out, int timeout_ms) {
  int n;
  do {
    n = epoll_wait(ep, out, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n;
}

bool readable(int fd) {
  struct pollfd p {
    fd, POLLIN, 0
  };
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(UringEngine, RingFdIsReadableWhileCqesArePending) {
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(8), 0);
  EXPECT_FALSE(readable(r.fd()));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, r.fd(), &ev));
  prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
  ASSERT_EQ(1, r.submit(0));
  EXPECT_TRUE(readable(r.fd()));
  struct epoll_event out;
  EXPECT_EQ(1, epoll_wait_once(ep, &out, 1000));
  EXPECT_EQ(1u, r.reap().size());
  // Readiness is re-evaluated when the application enters for events.
  EXPECT_EQ(0, r.enter(0, 0, IORING_ENTER_GETEVENTS));
  EXPECT_FALSE(readable(r.fd()));
  EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
  // A completion from another thread wakes a poller.
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  char buf[4];
  prep(r.sqe(), IORING_OP_READ, p[0], buf, 4, 0, 2);
  ASSERT_EQ(1, r.submit(0));
  EXPECT_FALSE(readable(r.fd()));
  const pid_t poller = iostack::test::gettid_now();
  std::thread w([&] {
    EXPECT_TRUE(iostack::test::wait_until_blocked(poller));  // in epoll_wait
    EXPECT_EQ(4, write(p[1], "abcd", 4));
  });
  EXPECT_EQ(1, epoll_wait_once(ep, &out, 5000));
  w.join();
  auto c = r.reap();
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(4, c[0].res);
  r.exit();  // waits for the worker, which may still hold the pipe after posting
  ::close(ep);
  ::close(p[0]);
  ::close(p[1]);
}

std::uint64_t evcount(int efd) {
  std::uint64_t v = 0;
  if (read(efd, &v, sizeof(v)) != sizeof(v)) return 0;
  return v;
}

TEST(UringEngine, EventfdNotificationMatchesKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    Ring r(b);
    ASSERT_GE(r.init(8), 0);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    EXPECT_EQ(-EINVAL, r.reg(IORING_REGISTER_EVENTFD, &efd, 2));
    EXPECT_EQ(0, r.reg(IORING_REGISTER_EVENTFD, &efd, 1));
    EXPECT_EQ(-EBUSY, r.reg(IORING_REGISTER_EVENTFD, &efd, 1));
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    ASSERT_EQ(1, r.submit(1));
    EXPECT_GE(evcount(efd), 1u);
    // Disabled through the CQ ring flags.
    std::atomic_ref<std::uint32_t>(r.cq_flags()).store(IORING_CQ_EVENTFD_DISABLED);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    ASSERT_EQ(1, r.submit(1));
    EXPECT_EQ(0u, evcount(efd));
    std::atomic_ref<std::uint32_t>(r.cq_flags()).store(0);
    EXPECT_EQ(0, r.reg(IORING_UNREGISTER_EVENTFD, nullptr, 0));
    EXPECT_EQ(-ENXIO, r.reg(IORING_UNREGISTER_EVENTFD, nullptr, 0));
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
    ASSERT_EQ(1, r.submit(1));
    EXPECT_EQ(0u, evcount(efd));
    // EVENTFD_ASYNC: inline completions do not signal.
    EXPECT_EQ(0, r.reg(IORING_REGISTER_EVENTFD_ASYNC, &efd, 1));
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 4);
    ASSERT_EQ(1, r.submit(1));
    EXPECT_EQ(0u, evcount(efd));
    ::close(efd);
  }
}

TEST(UringEngine, BlockingWorkGoesToIoWq) {
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(8), 0);
  // A read of an empty pipe parks; the writer releases it.
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  char buf[8] = {};
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_READ, p[0], buf, 8, 0, 1);
  s->flags = IOSQE_ASYNC;
  ASSERT_EQ(1, r.submit(0));
  // fsync always runs on a worker.
  char path[] = "/tmp/iostack-iowq-XXXXXX";
  const int fd = mkstemp(path);
  unlink(path);
  ASSERT_EQ(3, write(fd, "xyz", 3));
  prep(r.sqe(), IORING_OP_FSYNC, fd, nullptr, 0, 0, 2);
  s = r.sqe();
  prep(s, IORING_OP_READ, fd, buf, 3, 0, 3);
  s->flags = IOSQE_ASYNC;
  ASSERT_EQ(2, r.submit(0));
  auto c = r.wait(2);
  ASSERT_EQ(2u, c.size());
  for (const Cqe& e : c) EXPECT_EQ(e.user_data == 2 ? 0 : 3, e.res);
  EXPECT_EQ(5, write(p[1], "hello", 5));
  c = r.wait(1);
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(5, c[0].res);
  EXPECT_EQ(0, std::memcmp(buf, "hello", 5));
  // Worker limits: previous values come back.
  unsigned counts[2] = {2, 3};
  EXPECT_EQ(0, r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, counts, 2));
  unsigned again[2] = {0, 0};
  EXPECT_EQ(0, r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, again, 2));
  EXPECT_EQ(2u, again[0]);
  EXPECT_EQ(3u, again[1]);
  EXPECT_EQ(-EINVAL, r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, again, 1));
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  EXPECT_EQ(0, r.reg(IORING_REGISTER_IOWQ_AFF, &set, sizeof(set)));
  EXPECT_EQ(0, r.reg(IORING_UNREGISTER_IOWQ_AFF, nullptr, 0));
  ::close(fd);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(UringEngine, SqpollSubmitsAndSleepsAfterIdle) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    // The previous ring's SQPOLL thread must be gone, or it is the one found.
    ASSERT_TRUE(iostack::test::wait_until_no_thread_named("iou-sqp-"));
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_SQPOLL;
    p.sq_thread_idle = 20;
    ASSERT_GE(r.init(8, p), 0);
    // No enter unless the thread asks for it (it may already sleep: the
    // idle period only starts after its first work).
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    r.flush();
    // Full barrier between the tail store and the flags load (io_uring_smp_mb).
    if (std::atomic_ref<std::uint32_t>(r.u32(r.params().sq_off.flags)).fetch_or(0) &
        IORING_SQ_NEED_WAKEUP) {
      EXPECT_EQ(1, r.enter(1, 0, IORING_ENTER_SQ_WAKEUP));
    }
    auto c = r.wait(1);
    ASSERT_EQ(1u, c.size());
    // Idle: it asks to be woken.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!(r.sq_flags() & IORING_SQ_NEED_WAKEUP) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(r.sq_flags() & IORING_SQ_NEED_WAKEUP);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    r.flush();
    const pid_t sq_thread = iostack::test::thread_named("iou-sqp-");
    ASSERT_NE(0, sq_thread);
    EXPECT_TRUE(iostack::test::wait_until_blocked(sq_thread));
    EXPECT_EQ(0u, r.cq_ready());  // asleep: nothing happened
    EXPECT_EQ(1, r.enter(1, 0, IORING_ENTER_SQ_WAKEUP));
    c = r.wait(1);
    ASSERT_EQ(1u, c.size());
    EXPECT_EQ(2u, c[0].user_data);
    // SQ_WAIT returns once there is room.
    EXPECT_EQ(0, r.enter(0, 0, IORING_ENTER_SQ_WAIT));
  }
}

// io-wq workers carry the kernel's name, "iou-wrk-" and the thread id of
// the task they work for, so ps and top show them as on the kernel. Each
// backend runs in a thread of its own: no earlier worker has that name.
TEST(UringEngine, IoWqWorkersAreNamedAfterTheirTask) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    std::thread([b] {
      Ring r(b);
      ASSERT_GE(r.init(8), 0);
      int p[2];
      ASSERT_EQ(0, pipe(p));
      char buf[8];
      add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 1, IOSQE_ASYNC);
      ASSERT_EQ(1, r.submit(0));
      const std::string name = "iou-wrk-" + std::to_string(gettid()) + "\n";
      pid_t worker = 0;
      for (int i = 0; i < 5000 && !(worker = iostack::test::thread_named(name)); ++i) usleep(1000);
      EXPECT_NE(0, worker);
      ASSERT_EQ(1, write(p[1], "x", 1));
      EXPECT_EQ(1u, r.wait(1).size());
      close(p[0]);
      close(p[1]);
    }).join();
  }
}

TEST(UringEngine, RegisteredRingFds) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    Ring r(b);
    ASSERT_GE(r.init(8), 0);
    io_uring_rsrc_update up{};
    up.offset = static_cast<std::uint32_t>(-1);
    up.data = static_cast<std::uint64_t>(r.fd());
    ASSERT_EQ(1, r.reg(IORING_REGISTER_RING_FDS, &up, 1));
    const unsigned idx = up.offset;
    EXPECT_LT(idx, 16u);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 9);
    r.flush();
    EXPECT_EQ(1, b->enter(static_cast<int>(idx), 1, 1,
                          IORING_ENTER_GETEVENTS | IORING_ENTER_REGISTERED_RING, nullptr, 0));
    EXPECT_EQ(1u, r.reap().size());
    unsigned counts[2] = {0, 0};
    EXPECT_EQ(0, b->reg(static_cast<int>(idx),
                        IORING_REGISTER_IOWQ_MAX_WORKERS | IORING_REGISTER_USE_REGISTERED_RING,
                        counts, 2));
    EXPECT_EQ(-EINVAL, b->enter(16, 0, 0, IORING_ENTER_REGISTERED_RING, nullptr, 0));
    io_uring_rsrc_update del{};
    del.offset = idx;
    EXPECT_EQ(1, r.reg(IORING_UNREGISTER_RING_FDS, &del, 1));
    EXPECT_EQ(-EBADF,
              b->enter(static_cast<int>(idx), 0, 0, IORING_ENTER_REGISTERED_RING, nullptr, 0));
  }
}

TEST(UringEngine, SingleIssuerRefusesOtherThreads) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    Ring r(b);
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    ASSERT_GE(r.init(8, p), 0);
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
    r.flush();
    int other_submit = 0, other_wait = 0, other_reg = 0;
    std::thread t([&] {
      other_submit = r.enter(1, 0, 0);
      other_wait = r.enter(0, 1, IORING_ENTER_GETEVENTS);
      unsigned counts[2] = {0, 0};
      other_reg = r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, counts, 2);
    });
    t.join();
    EXPECT_EQ(-EEXIST, other_submit);
    EXPECT_EQ(-EEXIST, other_wait);
    EXPECT_EQ(-EEXIST, other_reg);
    EXPECT_EQ(1, r.enter(1, 1, IORING_ENTER_GETEVENTS));
  }
}

TEST(UringEngine, WaitIsInterruptedBySignal) {
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(8), 0);
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sigaction(SIGUSR1, &sa, nullptr);
  const pthread_t self = pthread_self();
  const pid_t waiter = iostack::test::gettid_now();
  std::thread t([self, waiter] {
    EXPECT_TRUE(iostack::test::wait_until_blocked(waiter));  // in the enter below
    pthread_kill(self, SIGUSR1);
  });
  EXPECT_EQ(-EINTR, r.enter(0, 1, IORING_ENTER_GETEVENTS));
  t.join();
  // A wrong sigset size is refused.
  sigset_t set;
  sigemptyset(&set);
  EXPECT_EQ(-EINVAL, r.enter(0, 1, IORING_ENTER_GETEVENTS, &set, 4));
}

// Runs `fn` in a child without CAP_IPC_LOCK and RLIMIT_MEMLOCK = 1 page.
int in_unprivileged_child(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    syscall(SYS_capget, &hdr, data);
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    syscall(SYS_capset, &hdr, data);
    struct rlimit rl {
      4096, 4096
    };
    setrlimit(RLIMIT_MEMLOCK, &rl);
    iostack::task::refresh_current();
    _exit(fn() & 0xff);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(UringEngine, RingPagesAreChargedToMemlock) {
  SKIP_WITHOUT_KERNEL_URING();
  auto attempt = [](Backend* b) {
    return [b]() {
      io_uring_params p{};
      const int r = b->setup(4096, &p);
      return r == -ENOMEM ? 1 : (r >= 0 ? 2 : 3);
    };
  };
  KernelBackend kb;
  IostackBackend ib;
  const int k = in_unprivileged_child(attempt(&kb));
  const int o = in_unprivileged_child(attempt(&ib));
  EXPECT_EQ(k, o);
  EXPECT_EQ(1, o);
}

TEST(UringEngine, BlockDeviceTarget) {
  std::string err;
  auto dev = iostack::dev::create_device("ram:4M", nullptr, &err);
  ASSERT_NE(dev, nullptr) << err;
  const int fd = iostack::block::bdev_file_open(dev->disk(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0);
  void* mem = nullptr;
  ASSERT_EQ(0, posix_memalign(&mem, 4096, 65536));
  auto* buf = static_cast<char*>(mem);
  for (int i = 0; i < 65536; ++i) buf[i] = static_cast<char>(i * 7 + 3);
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(32), 0);
  for (int i = 0; i < 16; ++i)
    prep(r.sqe(), IORING_OP_WRITE, fd, buf + i * 4096, 4096, 8192 + i * 4096, i);
  ASSERT_EQ(16, r.submit(16));
  auto c = r.wait(16);
  ASSERT_EQ(16u, c.size());
  for (const Cqe& e : c) EXPECT_EQ(4096, e.res);
  std::memset(buf, 0, 65536);
  struct iovec iov[2] = {{buf, 32768}, {buf + 32768, 32768}};
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_READV, fd, iov, 2, 8192, 100);
  s->flags = IOSQE_IO_LINK;
  prep(r.sqe(), IORING_OP_FSYNC, fd, nullptr, 0, 0, 101);
  prep(r.sqe(), IORING_OP_READ, fd, buf, 100, 0, 102);  // misaligned: -EINVAL
  ASSERT_EQ(3, r.submit(0));
  c = r.wait(3);
  ASSERT_EQ(3u, c.size());
  for (const Cqe& e : c) {
    const int want = e.user_data == 100 ? 65536 : e.user_data == 101 ? 0 : -EINVAL;
    EXPECT_EQ(want, e.res) << e.user_data;
  }
  EXPECT_EQ(static_cast<char>(3), buf[0]);
  EXPECT_EQ(static_cast<char>(65535 * 7 + 3), buf[65535]);
  // Offset -1 follows the device position (read at issue, stored at
  // completion, as REQ_F_CUR_POS does).
  for (int i = 0; i < 2; ++i) {
    prep(r.sqe(), IORING_OP_READ, fd, buf, 4096, static_cast<std::uint64_t>(-1), 200 + i);
    ASSERT_EQ(1, r.submit(1));
    c = r.wait(1);
  }
  EXPECT_EQ(8192, iostack::block::bdev_of(iostack::block::bdev_file_get(fd))->pos.load());
  r.exit();
  iostack::block::bdev_file_close(fd);
  free(mem);
}

}  // namespace
}  // namespace uring_test
