// io_getevents, io_cancel and io_destroy against the kernel: argument
// checks, timeouts, waiting for min_nr, user space moving the ring head,
// cancelling a poll, and destroy with requests in flight.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../common/thread_state.hpp"
#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

using Clock = std::chrono::steady_clock;

class AioGetevents : public ::testing::TestWithParam<const AioBackend*> {
 protected:
  void SetUp() override {
    ASSERT_EQ(b().setup(32, &ctx_), 0);
    ASSERT_EQ(::pipe(pipe_), 0);
  }
  void TearDown() override {
    if (ctx_ != 0) b().destroy(ctx_);
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  const AioBackend& b() const { return *GetParam(); }
  void submit_reads(int n) {
    cbs_.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      cbs_[static_cast<std::size_t>(i)] =
          make_iocb(file_.fd(), IOCB_CMD_PREAD, buf_, 8, i, static_cast<std::uint64_t>(i));
    }
    std::vector<struct iocb*> p;
    for (auto& c : cbs_) p.push_back(&c);
    ASSERT_EQ(b().submit(ctx_, n, p.data()), n);
  }
  // Waits until `n` events sit in the ring.
  void wait_ring(unsigned n) {
    const auto end = Clock::now() + std::chrono::seconds(2);
    AioRingHeader* r = ring_of(ctx_);
    while (Clock::now() < end) {
      const unsigned h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
      const unsigned t = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
      if ((t + r->nr - h) % r->nr >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL() << "events did not arrive";
  }

  aio_context_t ctx_ = 0;
  int pipe_[2];
  TempFile file_{4096};
  char buf_[64];
  std::vector<struct iocb> cbs_;
};

TEST_P(AioGetevents, ArgumentChecks) {
  struct io_event ev[4];
  struct timespec zero = {0, 0};
  EXPECT_EQ(b().getevents(ctx_, 2, 1, ev, &zero), -EINVAL);
  EXPECT_EQ(b().getevents(ctx_, -1, 1, ev, &zero), -EINVAL);
  EXPECT_EQ(b().getevents(ctx_, 0, 0, ev, &zero), 0);
  EXPECT_EQ(b().getevents(ctx_, 0, 4, ev, &zero), 0);
  EXPECT_EQ(b().getevents(ctx_, 0, 4, nullptr, &zero), 0);  // nothing to copy
  submit_reads(1);
  wait_ring(1);
  EXPECT_EQ(b().getevents(ctx_, 0, 4, nullptr, &zero), -EFAULT);
  EXPECT_EQ(b().getevents(ctx_, 0, 4, ev, &zero), 1);
  struct iostack_aio_sigset bad = {nullptr, 4};
  EXPECT_EQ(b().pgetevents(ctx_, 0, 1, ev, &zero, &bad), 0) << "no mask: size unchecked";
  sigset_t mask;
  sigemptyset(&mask);
  bad.sigmask = &mask;
  EXPECT_EQ(b().pgetevents(ctx_, 0, 1, ev, &zero, &bad), -EINVAL);
  struct iostack_aio_sigset good = {&mask, 8};
  EXPECT_EQ(b().pgetevents(ctx_, 0, 1, ev, &zero, &good), 0);
}

TEST_P(AioGetevents, TimeoutExpires) {
  struct io_event ev[4];
  struct timespec ts = {0, 50 * 1000 * 1000};
  const auto t0 = Clock::now();
  EXPECT_EQ(b().getevents(ctx_, 1, 4, ev, &ts), 0);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_GE(ms, 45);
  EXPECT_LT(ms, 1000);
}

TEST_P(AioGetevents, WaitsForMinNr) {
  // Two polls on the pipe's read end complete when data arrives.
  struct iocb p1 = make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, 1);
  struct iocb p2 = make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, 2);
  p1.aio_buf = p2.aio_buf = POLLIN;
  struct iocb* ps[] = {&p1, &p2};
  ASSERT_EQ(b().submit(ctx_, 2, ps), 2);
  struct io_event ev[4];
  struct timespec zero = {0, 0};
  EXPECT_EQ(b().getevents(ctx_, 0, 4, ev, &zero), 0);
  const pid_t reaper = iostack::test::gettid_now();
  std::thread writer([&] {
    EXPECT_TRUE(iostack::test::wait_until_blocked(reaper));  // in io_getevents
    ASSERT_EQ(::write(pipe_[1], "x", 1), 1);
  });
  EXPECT_EQ(b().getevents(ctx_, 2, 4, ev, nullptr), 2);
  writer.join();
  // A wake-up reports its key: POLLIN | POLLRDNORM from a pipe write.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(ev[i].res, POLLIN | POLLRDNORM);
}

// More sleepers than one wake-up pass takes: the first event satisfies all
// of them, every one is woken, and each gets one of the events.
TEST_P(AioGetevents, ManyWaitersAllWoken) {
  constexpr int kWaiters = 12;
  std::vector<struct iocb> polls(kWaiters);
  std::vector<struct iocb*> ps;
  for (int i = 0; i < kWaiters; ++i) {
    polls[static_cast<std::size_t>(i)] =
        make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, static_cast<std::uint64_t>(i));
    polls[static_cast<std::size_t>(i)].aio_buf = POLLIN;
    ps.push_back(&polls[static_cast<std::size_t>(i)]);
  }
  ASSERT_EQ(b().submit(ctx_, kWaiters, ps.data()), kWaiters);
  std::atomic<pid_t> tids[kWaiters] = {};
  std::atomic<long> got[kWaiters] = {};
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      tids[i] = iostack::test::gettid_now();
      struct io_event ev;
      got[i] = b().getevents(ctx_, 1, 1, &ev, nullptr);
    });
  }
  for (int i = 0; i < kWaiters; ++i) {
    while (tids[i].load() == 0) std::this_thread::yield();
    EXPECT_TRUE(iostack::test::wait_until_blocked(tids[i].load()));
  }
  ASSERT_EQ(::write(pipe_[1], "x", 1), 1);
  for (auto& t : waiters) t.join();
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(got[i].load(), 1) << "waiter " << i;
}

TEST_P(AioGetevents, NegativeTimeoutWaitsLikeNull) {
  struct iocb pl = make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, 3);
  pl.aio_buf = POLLIN;
  ASSERT_EQ(submit1(b(), ctx_, &pl), 1);
  // The writer writes only once the reaper sleeps: a negative timeout that
  // returned at once (instead of waiting like none) would get 0 events.
  const pid_t reaper = iostack::test::gettid_now();
  std::thread writer([&] {
    EXPECT_TRUE(iostack::test::wait_until_blocked(reaper));
    ASSERT_EQ(::write(pipe_[1], "x", 1), 1);
  });
  struct timespec neg = {-1, 0};
  struct io_event ev[2];
  EXPECT_EQ(b().getevents(ctx_, 1, 2, ev, &neg), 1);
  writer.join();
}

TEST_P(AioGetevents, UserSpaceMovesTheHead) {
  submit_reads(3);
  wait_ring(3);
  AioRingHeader* r = ring_of(ctx_);
  auto* events = reinterpret_cast<struct io_event*>(r + 1);
  // Reap one event straight from the ring, as fio's userspace_reap does.
  const unsigned head = r->head;
  const std::uint64_t first = events[head].data;
  __atomic_store_n(&r->head, (head + 1) % r->nr, __ATOMIC_RELEASE);
  struct io_event ev[4];
  struct timespec zero = {0, 0};
  ASSERT_EQ(b().getevents(ctx_, 0, 4, ev, &zero), 2);
  EXPECT_NE(ev[0].data, first);
  EXPECT_NE(ev[1].data, first);
  EXPECT_EQ(r->head, r->tail);
  // head is taken modulo nr.
  submit_reads(2);
  wait_ring(2);
  __atomic_store_n(&r->head, r->head + r->nr, __ATOMIC_RELEASE);
  EXPECT_EQ(b().getevents(ctx_, 0, 4, ev, &zero), 2);
  EXPECT_LT(r->head, r->nr);
}

TEST_P(AioGetevents, CancelPoll) {
  struct iocb pl = make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, 7);
  pl.aio_buf = POLLIN;
  ASSERT_EQ(submit1(b(), ctx_, &pl), 1);
  struct io_event res;
  EXPECT_EQ(b().cancel(ctx_, &pl, &res), -EINPROGRESS);
  struct io_event ev[2];
  ASSERT_EQ(reap1(b(), ctx_, ev), 1);
  EXPECT_EQ(ev[0].data, 7u);
  EXPECT_EQ(ev[0].res, 0);
  EXPECT_EQ(b().cancel(ctx_, &pl, &res), -EINVAL) << "already gone";
  pl.aio_key = 5;
  EXPECT_EQ(b().cancel(ctx_, &pl, &res), -EINVAL) << "wrong key";
  // A read cannot be cancelled.
  submit_reads(1);
  EXPECT_EQ(b().cancel(ctx_, &cbs_[0], &res), -EINVAL);
}

TEST_P(AioGetevents, DestroyCancelsAndWakesWaiters) {
  struct iocb pl = make_iocb(pipe_[0], IOCB_CMD_POLL, nullptr, 0, 0, 9);
  pl.aio_buf = POLLIN;
  ASSERT_EQ(submit1(b(), ctx_, &pl), 1);
  std::atomic<long> waiter_ret{1};
  std::atomic<pid_t> waiter_tid{0};
  std::thread waiter([&] {
    waiter_tid = iostack::test::gettid_now();
    struct io_event ev[4];
    waiter_ret = b().getevents(ctx_, 4, 4, ev, nullptr);
  });
  while (!waiter_tid.load()) std::this_thread::yield();
  EXPECT_TRUE(iostack::test::wait_until_blocked(waiter_tid.load()));
  // The cancelled poll completes into the dying ring, and the waiter is
  // woken: it got the event or -EINVAL.
  EXPECT_EQ(b().destroy(ctx_), 0);
  waiter.join();
  EXPECT_TRUE(waiter_ret == -EINVAL || waiter_ret == 1) << waiter_ret;
  struct io_event ev;
  struct timespec zero = {0, 0};
  EXPECT_EQ(b().getevents(ctx_, 0, 1, &ev, &zero), -EINVAL);
  ctx_ = 0;
}

INSTANTIATE_TEST_SUITE_P(Backends, AioGetevents, ::testing::Values(&kernel_aio(), &iostack_aio()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace iostack::aio::testing
