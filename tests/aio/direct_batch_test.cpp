// O_DIRECT reads handed to iostack's workers in numbers, beside the kernel's
// AIO: every request of a large io_submit completes exactly once with its
// own result and data, a waiter whose min_nr is met wakes with exactly its
// events, and an eventfd given with IOCB_FLAG_RESFD counts every completion.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "../common/thread_state.hpp"
#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr int kBlocks = 256;

// What TempFile wrote at byte `off`.
char pattern_at(std::size_t off) { return static_cast<char>('a' + (off * 7) % 26); }

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char, AlignedFree>;

Buffer aligned(std::size_t bytes) {
  void* p = nullptr;
  if (::posix_memalign(&p, kBlock, bytes) != 0) return nullptr;
  std::memset(p, 0, bytes);
  return Buffer(static_cast<char*>(p));
}

class AioDirectBatch : public ::testing::TestWithParam<const AioBackend*> {
 protected:
  void SetUp() override {
    if (&b() == &kernel_aio() && !kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here";
    fd_ = file_.reopen(O_RDONLY | O_DIRECT);
    if (fd_ < 0) GTEST_SKIP() << "no O_DIRECT on " << file_.path();
    mem_ = aligned(kBlocks * kBlock);
    ASSERT_NE(mem_, nullptr);
    ASSERT_EQ(b().setup(kBlocks, &ctx_), 0);
  }
  void TearDown() override {
    if (ctx_ != 0) {
      EXPECT_EQ(b().destroy(ctx_), 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  const AioBackend& b() const { return *GetParam(); }

  // Read i lands in buffer slot i from block (i * 37) % kBlocks, so
  // neighbouring requests read far-apart blocks.
  static std::size_t block_of(int i) { return static_cast<std::size_t>(i * 37 % kBlocks); }
  std::vector<struct iocb> reads(int n, int resfd = -1) {
    std::vector<struct iocb> cbs;
    for (int i = 0; i < n; ++i) {
      cbs.push_back(make_iocb(
          fd_, IOCB_CMD_PREAD, mem_.get() + static_cast<std::size_t>(i) * kBlock, kBlock,
          static_cast<std::int64_t>(block_of(i) * kBlock), static_cast<std::uint64_t>(i)));
      if (resfd >= 0) {
        cbs.back().aio_flags = IOCB_FLAG_RESFD;
        cbs.back().aio_resfd = static_cast<std::uint32_t>(resfd);
      }
    }
    return cbs;
  }
  long submit_all(std::vector<struct iocb>& cbs) {
    std::vector<struct iocb*> ptrs;
    for (auto& c : cbs) ptrs.push_back(&c);
    return b().submit(ctx_, static_cast<long>(ptrs.size()), ptrs.data());
  }
  // Each event once, with 4096 and the block's bytes in its slot.
  void expect_each_once(const std::vector<struct io_event>& ev, int n) {
    std::vector<int> seen(static_cast<std::size_t>(n), 0);
    for (const auto& e : ev) {
      ASSERT_LT(e.data, static_cast<std::uint64_t>(n));
      ++seen[e.data];
      EXPECT_EQ(e.res, static_cast<long long>(kBlock)) << "request " << e.data;
      EXPECT_EQ(e.res2, 0);
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(seen[static_cast<std::size_t>(i)], 1) << "request " << i;
      const char* got = mem_.get() + static_cast<std::size_t>(i) * kBlock;
      const std::size_t off = block_of(i) * kBlock;
      for (std::size_t k = 0; k < kBlock; k += 512) {
        ASSERT_EQ(got[k], pattern_at(off + k)) << "request " << i << " byte " << k;
      }
    }
  }
  // Nothing more in the ring, by the system call and by the ring's indexes.
  void expect_ring_empty() {
    struct io_event extra;
    struct timespec zero = {0, 0};
    EXPECT_EQ(b().getevents(ctx_, 0, 1, &extra, &zero), 0);
    const AioRingHeader* r = ring_of(ctx_);
    EXPECT_EQ(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE),
              __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE));
  }

  WorkersServeDirectIo workers_only_;
  TempFile file_{kBlocks * kBlock};
  int fd_ = -1;
  Buffer mem_;
  aio_context_t ctx_ = 0;
};

TEST_P(AioDirectBatch, ManyAtOnceCompleteExactlyOnce) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    std::memset(mem_.get(), 0, kBlocks * kBlock);
    auto cbs = reads(kBlocks);
    ASSERT_EQ(submit_all(cbs), kBlocks);
    // Reaped in small bites, as a program with a short events array does.
    std::vector<struct io_event> all;
    struct io_event ev[7];
    while (all.size() < static_cast<std::size_t>(kBlocks)) {
      struct timespec ts = {30, 0};
      const long n = b().getevents(ctx_, 1, 7, ev, &ts);
      ASSERT_GT(n, 0);
      all.insert(all.end(), ev, ev + n);
    }
    expect_each_once(all, kBlocks);
    expect_ring_empty();
  }
}

// The waiter sleeps with only a poll pending (it never fires), then N reads
// are submitted at once: io_getevents(min_nr = N) returns exactly those N,
// and it returns without the poll (a waiter that slept past its min_nr
// would wait for the poll forever; the pipe write is the bounded way out).
TEST_P(AioDirectBatch, WaiterWakesWhenMinNrAreReady) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  struct iocb poll_cb = make_iocb(pipefd[0], IOCB_CMD_POLL, nullptr, 0, 0, 1000);
  poll_cb.aio_buf = POLLIN;
  ASSERT_EQ(submit1(b(), ctx_, &poll_cb), 1);
  bool poll_pending = true;
  for (int n : {1, 5, 32, 100}) {
    SCOPED_TRACE(n);
    std::vector<struct io_event> ev(static_cast<std::size_t>(n) + 1);
    std::promise<pid_t> tid;
    auto reaped = std::async(std::launch::async, [&] {
      tid.set_value(iostack::test::gettid_now());
      return b().getevents(ctx_, n, n + 1, ev.data(), nullptr);
    });
    const bool asleep = iostack::test::wait_until_blocked(tid.get_future().get());
    auto cbs = reads(n);
    const long submitted = submit_all(cbs);
    if (reaped.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      // The bounded way out: the poll fires and the waiter returns.
      ASSERT_EQ(::write(pipefd[1], "x", 1), 1);
      poll_pending = false;
      reaped.wait();
      ADD_FAILURE() << "the waiter slept past its min_nr";
      break;
    }
    EXPECT_TRUE(asleep) << "the waiter did not sleep before the reads were submitted";
    ASSERT_EQ(submitted, n);
    ASSERT_EQ(reaped.get(), n);
    ev.resize(static_cast<std::size_t>(n));
    expect_each_once(ev, n);
  }
  struct io_event res;
  if (poll_pending) {
    // A cancelled poll posts its event later, as on the kernel.
    EXPECT_EQ(b().cancel(ctx_, &poll_cb, &res), -EINPROGRESS);
  }
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

TEST_P(AioDirectBatch, EventfdCountsEveryCompletion) {
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(efd, 0);
  constexpr int kBatch = 50;
  std::uint64_t counted = 0;
  for (int round = 0; round < 4; ++round) {
    auto cbs = reads(kBatch, efd);
    ASSERT_EQ(submit_all(cbs), kBatch);
    std::vector<struct io_event> ev(kBatch);
    long got = 0;
    while (got < kBatch) {
      struct timespec ts = {30, 0};
      const long n = b().getevents(ctx_, 1, kBatch - got, ev.data() + got, &ts);
      ASSERT_GT(n, 0);
      got += n;
    }
    expect_each_once(ev, kBatch);
    // The count follows the event (on the kernel too, eventfd_signal runs
    // after the tail moved): read until every completion is counted, and
    // not one more.
    while (counted < static_cast<std::uint64_t>((round + 1) * kBatch)) {
      struct pollfd pfd = {efd, POLLIN, 0};
      ASSERT_EQ(::poll(&pfd, 1, 30000), 1) << "counted " << counted;
      std::uint64_t c = 0;
      ASSERT_EQ(::read(efd, &c, sizeof(c)), static_cast<ssize_t>(sizeof(c)));
      counted += c;
    }
    EXPECT_EQ(counted, static_cast<std::uint64_t>((round + 1) * kBatch));
  }
  std::uint64_t c = 0;
  EXPECT_EQ(::read(efd, &c, sizeof(c)), -1) << "an extra count of " << c;
  ::close(efd);
}

INSTANTIATE_TEST_SUITE_P(Backends, AioDirectBatch, ::testing::Values(&kernel_aio(), &iostack_aio()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace iostack::aio::testing
