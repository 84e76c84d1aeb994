// Several threads submitting and reaping on one context, io_destroy with
// O_DIRECT reads still in flight, and every slot coming back.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

int open_direct(const TempFile& f) { return f.reopen(O_RDWR | O_DIRECT); }

TEST(AioConcurrency, ThreadsShareOneContext) {
  TempFile file(1 << 20);
  const int fd = open_direct(file);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT here";
  aio_context_t ctx = 0;
  ASSERT_EQ(iostack_io_setup(256, &ctx), 0);
  constexpr int kThreads = 4, kPerThread = 2000;
  std::atomic<long> reaped{0};
  std::atomic<bool> stop{false};
  std::thread reaper([&] {
    struct io_event ev[64];
    while (!stop.load() || reaped.load() < kThreads * kPerThread) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      const long n = iostack_io_getevents(ctx, 1, 64, ev, &ts);
      ASSERT_GE(n, 0);
      for (long i = 0; i < n; ++i) ASSERT_EQ(ev[i].res, 4096) << ev[i].res;
      reaped += n;
      if (stop.load() && reaped.load() >= kThreads * kPerThread) break;
    }
  });
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      void* mem = nullptr;
      ASSERT_EQ(::posix_memalign(&mem, 4096, 8 * 4096), 0);
      for (int i = 0; i < kPerThread;) {
        struct iocb cb = make_iocb(fd, IOCB_CMD_PREAD, static_cast<char*>(mem) + (i % 8) * 4096,
                                   4096, ((t * kPerThread + i) % 256) * 4096);
        struct iocb* p = &cb;
        const long r = iostack_io_submit(ctx, 1, &p);
        if (r == -EAGAIN) {
          std::this_thread::yield();
          continue;
        }
        ASSERT_EQ(r, 1);
        ++i;
      }
      // Buffers stay until the reaper has seen everything.
      while (reaped.load() < kThreads * kPerThread) std::this_thread::yield();
      ::free(mem);
    });
  }
  for (auto& s : submitters) s.join();
  stop = true;
  reaper.join();
  EXPECT_EQ(reaped.load(), kThreads * kPerThread);
  EXPECT_EQ(iostack_io_destroy(ctx), 0);
  ::close(fd);
}

TEST(AioConcurrency, DestroyWaitsForDirectReadsInFlight) {
  TempFile file(4 << 20);
  const int fd = open_direct(file);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT here";
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(64, &ctx), 0);
    void* mem = nullptr;
    ASSERT_EQ(::posix_memalign(&mem, 4096, 64 * 4096), 0);
    std::memset(mem, 0, 64 * 4096);
    std::vector<struct iocb> cbs;
    for (int i = 0; i < 64; ++i) {
      cbs.push_back(
          make_iocb(fd, IOCB_CMD_PREAD, static_cast<char*>(mem) + i * 4096, 4096, i * 65536));
    }
    std::vector<struct iocb*> ptrs;
    for (auto& c : cbs) ptrs.push_back(&c);
    ASSERT_EQ(b->submit(ctx, 64, ptrs.data()), 64);
    ASSERT_EQ(b->destroy(ctx), 0);
    // Every read has landed by the time io_destroy returns.
    for (int i = 0; i < 64; ++i)
      EXPECT_EQ(static_cast<char*>(mem)[i * 4096], 'a' + (i * 65536 * 7) % 26);
    ::free(mem);
  }
  ::close(fd);
}

TEST(AioConcurrency, SlotsAndBudgetComeBack) {
  TempFile file(8192);
  aio_context_t ctx = 0;
  ASSERT_EQ(iostack_io_setup(1, &ctx), 0);
  char buf[16];
  // Far more I/O than the ring holds, in rounds; nothing leaks.
  for (int round = 0; round < 200; ++round) {
    std::vector<struct iocb> cbs(100, make_iocb(file.fd(), IOCB_CMD_PREAD, buf, 16));
    std::vector<struct iocb*> ptrs;
    for (auto& c : cbs) ptrs.push_back(&c);
    const long n = iostack_io_submit(ctx, 100, ptrs.data());
    ASSERT_GT(n, 0);
    struct io_event ev[100];
    ASSERT_EQ(iostack_io_getevents(ctx, n, 100, ev, nullptr), n);
  }
  EXPECT_EQ(iostack_io_destroy(ctx), 0);
}

}  // namespace
}  // namespace iostack::aio::testing
