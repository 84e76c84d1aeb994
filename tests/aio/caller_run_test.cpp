// io_getevents about to sleep while an O_DIRECT read its own thread queued
// waits in the worker pool's queue runs that read itself, when at most one
// other request of the context is in flight (never a write): the event is
// posted as a worker would post it, min_nr and the timeout keep their
// meaning (no read is started when the deadline is too near for one), work
// of another thread or with a priority of its own is left to the workers,
// and a signal handled while the read ran ends the wait with -EINTR.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "aio/aio_wq.hpp"
#include "aio/ioctx_table.hpp"
#include "aio/kioctx.hpp"
#include "aio_backends.hpp"
#include "pool_gate.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::size_t kFileSize = 1 << 20;
constexpr int kReads = 4;

std::uint64_t caller_runs() { return aio_wq_stats().caller_runs; }

class AioCallerRun : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = file_.reopen(O_RDONLY | O_DIRECT);
    if (fd_ < 0) GTEST_SKIP() << "no O_DIRECT on " << file_.path();
    ASSERT_EQ(0, ::posix_memalign(&buf_, 4096, kReads * 4096));
    ASSERT_EQ(0, iostack_io_setup(16, &ctx_));
    // One read before the pool is held, so that its duration is known:
    // with a timeout, a read runs on the caller only if it fits.
    ASSERT_EQ(1, submit(0, 0));
    struct io_event ev {};
    ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, nullptr));
    ASSERT_EQ(4096, static_cast<long>(ev.res));
  }
  void TearDown() override {
    if (ctx_ != 0) iostack_io_destroy(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ::free(buf_);
  }

  char* slot(int i) { return static_cast<char*>(buf_) + i * 4096; }

  // Read i of the file's i-th 4 KiB block into slot i.
  long submit(int i, std::uint16_t ioprio_flagged) {
    cbs_[i] = make_iocb(fd_, IOCB_CMD_PREAD, slot(i), 4096, static_cast<std::int64_t>(i) * 4096,
                        100 + static_cast<std::uint64_t>(i));
    if (ioprio_flagged != 0) {
      cbs_[i].aio_flags = IOCB_FLAG_IOPRIO;
      cbs_[i].aio_reqprio = static_cast<__s16>(ioprio_flagged);
    }
    struct iocb* p = &cbs_[i];
    return iostack_io_submit(ctx_, 1, &p);
  }

  bool slot_holds_block(int i) {
    for (std::size_t k = 0; k < 4096; ++k) {
      const std::size_t off = static_cast<std::size_t>(i) * 4096 + k;
      if (slot(i)[k] != static_cast<char>('a' + (off * 7) % 26)) return false;
    }
    return true;
  }

  const WorkersServeDirectIo workers_only_;
  TempFile file_{kFileSize};
  int fd_ = -1;
  void* buf_ = nullptr;
  aio_context_t ctx_ = 0;
  struct iocb cbs_[kReads] {};
};

TEST_F(AioCallerRun, RunsItsQueuedReadInsteadOfSleeping) {
  PoolGate gate(1);  // the pool's one worker is busy: the read stays queued
  std::memset(slot(1), 0, 4096);
  ASSERT_EQ(1, submit(1, 0));
  const std::uint64_t before = caller_runs();
  struct io_event ev {};
  struct timespec ts = {30, 0};  // far longer than a read: never expires here
  ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
  EXPECT_EQ(1u, caller_runs() - before);
  EXPECT_EQ(101u, ev.data);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&cbs_[1]), ev.obj);
  EXPECT_EQ(4096, static_cast<long>(ev.res));
  EXPECT_TRUE(slot_holds_block(1));
}

TEST_F(AioCallerRun, RunsAsManyAsMinNrNeeds) {
  PoolGate gate(1);
  for (int i = 1; i <= 2; ++i) ASSERT_EQ(1, submit(i, 0));
  const std::uint64_t before = caller_runs();
  struct io_event ev[2]{};
  struct timespec ts = {30, 0};
  ASSERT_EQ(2, iostack_io_getevents(ctx_, 2, 2, ev, &ts));
  EXPECT_EQ(2u, caller_runs() - before);
  for (const struct io_event& e : ev) {
    EXPECT_EQ(4096, static_cast<long>(e.res));
    EXPECT_TRUE(slot_holds_block(static_cast<int>(e.data) - 100));
  }
}

// Blocked in a read, the thread would leave the others' events in the ring.
TEST_F(AioCallerRun, LeavesReadsToTheWorkersWhenMoreThanTwoAreInFlight) {
  const std::uint64_t before = caller_runs();
  {
    PoolGate gate(1);
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(1, submit(i, 0));
    struct io_event ev {};
    struct timespec ts = {0, 50 * 1000 * 1000};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
    EXPECT_EQ(0u, caller_runs() - before);
  }
  struct io_event ev[3]{};
  ASSERT_EQ(3, iostack_io_getevents(ctx_, 3, 3, ev, nullptr));
  for (const struct io_event& e : ev) EXPECT_EQ(4096, static_cast<long>(e.res));
}

TEST_F(AioCallerRun, ANearDeadlineStartsNoRead) {
  const std::uint64_t before = caller_runs();
  {
    PoolGate gate(1);
    ASSERT_EQ(1, submit(1, 0));
    struct io_event ev {};
    struct timespec zero = {0, 0};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &zero));
    // 1 ns is shorter than any read the pool has measured.
    struct timespec one_ns = {0, 1};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &one_ns));
    EXPECT_EQ(0u, caller_runs() - before);
    EXPECT_FALSE(event_in_ring(ctx_, &cbs_[1]));
  }
  struct io_event ev {};
  ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, nullptr));
  EXPECT_EQ(4096, static_cast<long>(ev.res));
}

TEST_F(AioCallerRun, LeavesAnotherThreadsReadToTheWorkers) {
  const std::uint64_t before = caller_runs();
  {
    PoolGate gate(1);
    std::thread([&] { EXPECT_EQ(1, submit(1, 0)); }).join();
    struct io_event ev {};
    struct timespec ts = {0, 50 * 1000 * 1000};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
    EXPECT_EQ(0u, caller_runs() - before);
  }
  struct io_event ev {};
  ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, nullptr));
  EXPECT_EQ(4096, static_cast<long>(ev.res));
}

// The worker takes on the iocb's priority with ioprio_set on itself; the
// program's thread must keep its own.
TEST_F(AioCallerRun, LeavesAReadWithItsOwnPriorityToTheWorkers) {
  const std::uint64_t before = caller_runs();
  {
    PoolGate gate(1);
    ASSERT_EQ(1, submit(1, (2 << 13) | 5));  // best effort, level 5
    struct io_event ev {};
    struct timespec ts = {0, 50 * 1000 * 1000};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
    EXPECT_EQ(0u, caller_runs() - before);
  }
  struct io_event ev {};
  ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, nullptr));
  EXPECT_EQ(4096, static_cast<long>(ev.res));
}

// A write past a RLIMIT_FSIZE lowered since io_submit would signal the
// program's thread, where the kernel checked the limit at submission only.
TEST_F(AioCallerRun, LeavesWritesToTheWorkers) {
  const int wfd = file_.reopen(O_RDWR | O_DIRECT);
  ASSERT_GE(wfd, 0);
  std::memset(slot(1), 'w', 4096);
  cbs_[1] = make_iocb(wfd, IOCB_CMD_PWRITE, slot(1), 4096, 8192, 7);
  struct iocb* p = &cbs_[1];
  const std::uint64_t before = caller_runs();
  {
    PoolGate gate(1);
    ASSERT_EQ(1, iostack_io_submit(ctx_, 1, &p));
    struct io_event ev {};
    struct timespec ts = {0, 50 * 1000 * 1000};
    EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
    EXPECT_EQ(0u, caller_runs() - before);
  }
  struct io_event ev {};
  ASSERT_EQ(1, iostack_io_getevents(ctx_, 1, 1, &ev, nullptr));
  EXPECT_EQ(4096, static_cast<long>(ev.res));
  ::close(wfd);
}

std::atomic<int> g_handled{0};
void count_signal(int) { g_handled.fetch_add(1); }

// A queued work of this thread for the context, standing for a read during
// which a signal arrives: it raises one and posts nothing.
struct SignalDuringWork {
  AioWork work;
  explicit SignalDuringWork(aio_context_t ctx_id) {
    Kioctx* ctx = lookup_ioctx(ctx_id);
    work.fn = [](AioWork*) { ::pthread_kill(::pthread_self(), SIGUSR1); };
    work.quick = true;
    work.submitter = aio_wq_thread_token();
    work.group = ctx;
    put_ioctx(ctx);
  }
};

class SignalDisposition {
 public:
  explicit SignalDisposition(void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, &old_);
  }
  ~SignalDisposition() { ::sigaction(SIGUSR1, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

TEST_F(AioCallerRun, ASignalHandledDuringTheRunEndsTheWaitWithEintr) {
  const SignalDisposition handled(count_signal);
  g_handled.store(0);
  PoolGate gate(1);
  SignalDuringWork w(ctx_);
  aio_wq_queue_one(&w.work);
  const std::uint64_t before = caller_runs();
  struct io_event ev {};
  struct timespec ts = {30, 0};
  EXPECT_EQ(-EINTR, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
  EXPECT_EQ(1u, caller_runs() - before);
  EXPECT_EQ(1, g_handled.load());
}

TEST_F(AioCallerRun, AnIgnoredSignalDoesNotEndTheWait) {
  const SignalDisposition ignored(SIG_IGN);
  PoolGate gate(1);
  SignalDuringWork w(ctx_);
  aio_wq_queue_one(&w.work);
  const std::uint64_t before = caller_runs();
  struct io_event ev {};
  struct timespec ts = {0, 50 * 1000 * 1000};
  EXPECT_EQ(0, iostack_io_getevents(ctx_, 1, 1, &ev, &ts));
  EXPECT_EQ(1u, caller_runs() - before);
}

}  // namespace
}  // namespace iostack::aio::testing
