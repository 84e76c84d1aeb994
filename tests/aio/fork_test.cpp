// AIO across fork(): the child has none of the parent's contexts (io_submit
// and io_getevents on them are -EINVAL, as on the kernel) and can set up and
// use its own, even when the parent's workers and submitters were in the
// middle of their work -- holding the pool's and the contexts' locks -- at
// the moment of the fork.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>
#include <vector>

#include "aio_backends.hpp"
#include "child_process.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::size_t kFileSize = 4 << 20;

struct ChildView {
  long submit_parent_ctx = 0;
  long getevents_parent_ctx = 0;
  long setup = 0;
  long submit_own = 0;
  long long res_direct = 0, res_buffered = 0, res_fsync = 0, res_poll = 0;
  long destroy = 0;
};

// In the child: the parent's context is not there; a new one works for
// O_DIRECT (through workers), buffered reads, fsync and poll.
void use_aio_in_child(const AioBackend& b, aio_context_t parent_ctx, const TempFile& f,
                      ChildView& v) {
  char byte[1];
  struct iocb probe = make_iocb(f.fd(), IOCB_CMD_PREAD, byte, 1);
  v.submit_parent_ctx = submit1(b, parent_ctx, &probe);
  struct io_event pev[1];
  struct timespec zero = {0, 0};
  v.getevents_parent_ctx = b.getevents(parent_ctx, 0, 1, pev, &zero);
  aio_context_t ctx = 0;
  v.setup = b.setup(16, &ctx);
  if (v.setup != 0) return;
  const int direct = f.reopen(O_RDONLY | O_DIRECT);
  void* mem = nullptr;
  if (::posix_memalign(&mem, 4096, 8192) != 0) return;
  int p[2];
  if (::pipe(p) != 0) return;
  struct iocb cbs[4] = {
      make_iocb(direct >= 0 ? direct : f.fd(), IOCB_CMD_PREAD, mem, 4096, 8192, 0),
      make_iocb(f.fd(), IOCB_CMD_PREAD, static_cast<char*>(mem) + 4096, 100, 5, 1),
      make_iocb(f.fd(), IOCB_CMD_FSYNC, nullptr, 0, 0, 2),
      make_iocb(p[1], IOCB_CMD_POLL, nullptr, 0, 0, 3),
  };
  cbs[3].aio_buf = POLLOUT;
  struct iocb* ptrs[4] = {&cbs[0], &cbs[1], &cbs[2], &cbs[3]};
  v.submit_own = b.submit(ctx, 4, ptrs);
  long got = 0;
  struct io_event ev[4];
  while (got < v.submit_own) {
    struct timespec ts = {10, 0};
    const long n = b.getevents(ctx, 1, 4, ev + got, &ts);
    if (n <= 0) break;
    got += n;
  }
  for (long i = 0; i < got; ++i) {
    long long* slot[4] = {&v.res_direct, &v.res_buffered, &v.res_fsync, &v.res_poll};
    *slot[ev[i].data] = static_cast<long long>(ev[i].res);
  }
  v.destroy = b.destroy(ctx);
}

TEST(AioFork, ChildHasNoContextsAndUsesItsOwn) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here: nothing to compare with";
  TempFile f(kFileSize);
  std::vector<ChildView> views;
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(4, &ctx), 0);
    const auto child =
        run_in_child<ChildView>([&](ChildView& v) { use_aio_in_child(*b, ctx, f, v); });
    EXPECT_EQ(b->destroy(ctx), 0);
    ASSERT_TRUE(child.got_result) << b->name << ": signal " << child.signal;
    views.push_back(child.result);
  }
  const ChildView& k = views[0];
  const ChildView& s = views[1];
  EXPECT_EQ(k.submit_parent_ctx, -EINVAL);
  EXPECT_EQ(s.submit_parent_ctx, k.submit_parent_ctx);
  EXPECT_EQ(s.getevents_parent_ctx, k.getevents_parent_ctx);
  EXPECT_EQ(s.setup, 0);
  EXPECT_EQ(s.submit_own, k.submit_own);
  EXPECT_EQ(s.res_direct, k.res_direct);
  EXPECT_EQ(s.res_buffered, k.res_buffered);
  EXPECT_EQ(s.res_fsync, k.res_fsync);
  EXPECT_EQ(s.res_poll, k.res_poll);
  EXPECT_EQ(s.destroy, 0);
}

// Forks again and again while two threads keep O_DIRECT reads going through
// the workers: every child still gets a working AIO of its own within its
// time bound (a deadlock on a lock copied in its held state would end the
// child with SIGALRM).
TEST(AioFork, ForkDuringBusyWorkersDoesNotDeadlock) {
  const WorkersServeDirectIo workers_only;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtimes themselves are not fork-safe with threads
  // running (ThreadSanitizer refuses; AddressSanitizer's allocator locks
  // can be copied held), which is exactly this test's situation.
  GTEST_SKIP() << "sanitizer runtime: fork with threads running";
#endif
  TempFile f(kFileSize);
  const int direct = f.reopen(O_RDONLY | O_DIRECT);
  if (direct < 0) GTEST_SKIP() << "no O_DIRECT on " << f.path();
  aio_context_t ctx = 0;
  ASSERT_EQ(iostack_io_setup(64, &ctx), 0);
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&, t] {
      void* mem = nullptr;
      if (::posix_memalign(&mem, 4096, 16 * 4096) != 0) return;
      std::vector<struct iocb> cbs(16);
      std::vector<struct iocb*> ptrs;
      for (int i = 0; i < 16; ++i) {
        cbs[static_cast<std::size_t>(i)] =
            make_iocb(direct, IOCB_CMD_PREAD, static_cast<char*>(mem) + i * 4096, 4096,
                      ((t * 16 + i) * 37 % 1024) * 4096);
        ptrs.push_back(&cbs[static_cast<std::size_t>(i)]);
      }
      struct io_event ev[16];
      while (!stop.load()) {
        const long n = iostack_io_submit(ctx, 8, ptrs.data() + (t % 2) * 8);
        if (n <= 0) continue;
        long got = 0;
        while (got < n) {
          const long r = iostack_io_getevents(ctx, 1, n - got, ev, nullptr);
          if (r <= 0) break;
          got += r;
        }
      }
      ::free(mem);
    });
  }
  int failures = 0;
  for (int i = 0; i < 30; ++i) {
    const auto child = run_in_child<ChildView>(
        [&](ChildView& v) { use_aio_in_child(iostack_aio(), ctx, f, v); }, 20);
    const ChildView& v = child.result;
    const bool ok = child.got_result && v.submit_parent_ctx == -EINVAL && v.setup == 0 &&
                    v.submit_own == 4 && v.res_direct == 4096 && v.res_buffered == 100 &&
                    v.res_fsync == 0 && v.res_poll != 0 && v.destroy == 0;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "child " << i << ": signal " << child.signal << ", submit " << v.submit_own
                    << ", direct " << v.res_direct;
    }
  }
  stop.store(true);
  for (auto& t : load) t.join();
  EXPECT_EQ(iostack_io_destroy(ctx), 0);
  ::close(direct);
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace iostack::aio::testing
