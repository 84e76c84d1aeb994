// The worker pool (aio_wq, built like io-wq): as many workers as requests
// actually wait for I/O, none for requests finished inside io_submit, idle
// ones leaving after a timeout; and its threads keep every asynchronous
// signal blocked, so no handler of the program runs there and a write past
// RLIMIT_FSIZE on a worker ends with -EFBIG rather than SIGXFSZ.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <atomic>
#include <thread>
#include <vector>

#include "aio/aio_wq.hpp"
#include "aio_backends.hpp"
#include "child_process.hpp"
#include "core/internal_thread.hpp"
#include "pool_gate.hpp"
#include "threads.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::size_t kFileSize = 8 << 20;

bool direct_io_works(const TempFile& f) {
  const int fd = f.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// `threads` threads, each with its own context, keep `depth` 4 KiB O_DIRECT
// reads in flight until each has done `per_thread`; returns the most
// threads the process had (sampled after every reap).
unsigned peak_threads_under_direct_load(const TempFile& f, int threads, int depth, int per_thread) {
  const int fd = f.reopen(O_RDONLY | O_DIRECT);
  if (fd < 0) return 0;
  std::atomic<unsigned> peak{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      aio_context_t ctx = 0;
      void* mem = nullptr;
      if (iostack_io_setup(static_cast<unsigned>(depth), &ctx) != 0) return;
      if (::posix_memalign(&mem, 4096, static_cast<std::size_t>(depth) * 4096) != 0) return;
      std::vector<struct iocb> cbs(static_cast<std::size_t>(depth));
      unsigned seed = static_cast<unsigned>(t) * 7919u + 1;
      auto prep = [&](std::size_t i) {
        seed = seed * 1103515245u + 12345u;
        cbs[i] = make_iocb(fd, IOCB_CMD_PREAD, static_cast<char*>(mem) + i * 4096, 4096,
                           static_cast<std::int64_t>((seed >> 8) % (kFileSize / 4096)) * 4096, i);
      };
      std::vector<struct iocb*> ptrs;
      for (std::size_t i = 0; i < cbs.size(); ++i) {
        prep(i);
        ptrs.push_back(&cbs[i]);
      }
      long inflight = iostack_io_submit(ctx, depth, ptrs.data());
      int submitted = static_cast<int>(inflight);
      std::vector<struct io_event> ev(static_cast<std::size_t>(depth));
      while (inflight > 0) {
        const long n = iostack_io_getevents(ctx, 1, depth, ev.data(), nullptr);
        if (n <= 0) break;
        const unsigned now = static_cast<unsigned>(process_threads().size());
        for (unsigned p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        inflight -= n;
        ptrs.clear();
        for (long i = 0; i < n && submitted < per_thread; ++i, ++submitted) {
          const std::size_t slot = ev[static_cast<std::size_t>(i)].data;
          prep(slot);
          ptrs.push_back(&cbs[slot]);
        }
        if (!ptrs.empty()) {
          inflight += iostack_io_submit(ctx, static_cast<long>(ptrs.size()), ptrs.data());
        }
      }
      iostack_io_destroy(ctx);
      ::free(mem);
    });
  }
  for (auto& t : ts) t.join();
  ::close(fd);
  return peak.load();
}

TEST(AioWorkers, NoMoreWorkersThanRequestsInFlight) {
  const WorkersServeDirectIo workers_only;
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file(kFileSize);
  if (!direct_io_works(file)) GTEST_SKIP() << "no O_DIRECT on " << file.path();
  for (int threads : {1, 4}) {
    SCOPED_TRACE(threads);
    const int depth = 32 / threads;
    struct Counts {
      unsigned base = 0, peak = 0;
    };
    const auto child = run_in_child<Counts>([&](Counts& c) {
      // The child's own threads and its submitters. A sanitizer may start
      // a helper thread with the first thread the child creates: do that.
      std::thread([] {}).join();
      c.base = static_cast<unsigned>(process_threads().size() + threads);
      c.peak = peak_threads_under_direct_load(file, threads, depth, 4000 / threads);
    });
    ASSERT_TRUE(child.got_result) << "signal " << child.signal;
    // At most one worker for each of the 32 reads in flight.
    EXPECT_GT(child.result.peak, child.result.base) << "the reads went through workers";
    EXPECT_LE(child.result.peak, child.result.base + 32);
  }
}

TEST(AioWorkers, BufferedIoStartsNoWorker) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file(1 << 20);
  const auto child = run_in_child<unsigned>([&](unsigned& workers) {
    aio_context_t ctx = 0;
    if (iostack_io_setup(64, &ctx) != 0) return;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        char buf[4096];
        for (int i = 0; i < 200; ++i) {
          struct iocb cb =
              make_iocb(file.fd(), IOCB_CMD_PREAD, buf, sizeof(buf), ((t * 200 + i) % 256) * 4096);
          if (submit1(iostack_aio(), ctx, &cb) != 1) return;
          struct io_event ev {};
          reap1(iostack_aio(), ctx, &ev);
        }
      });
    }
    for (auto& t : ts) t.join();
    workers = static_cast<unsigned>(threads_named("iostack-aio-wq").size());
    iostack_io_destroy(ctx);
  });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  EXPECT_EQ(child.result, 0u);
}

TEST(AioWorkers, IdleWorkersLeave) {
  const WorkersServeDirectIo workers_only;
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file(kFileSize);
  if (!direct_io_works(file)) GTEST_SKIP() << "no O_DIRECT on " << file.path();
  struct Counts {
    unsigned busy = 0, after = 0;
  };
  const auto child = run_in_child<Counts>([&](Counts& c) {
    aio_wq_set_idle_timeout_ms(20);
    c.busy = static_cast<unsigned>(threads_named("iostack-aio-wq").size());
    peak_threads_under_direct_load(file, 1, 16, 500);
    c.busy = static_cast<unsigned>(threads_named("iostack-aio-wq").size());
    // Bounded wait for the timeouts (20 ms each) to run out; io-wq keeps
    // the last worker.
    for (int i = 0; i < 500 && aio_wq_stats().nr_workers > 1; ++i) {
      ::usleep(10 * 1000);
    }
    for (int i = 0; i < 100 && threads_named("iostack-aio-wq").size() > 1; ++i) {
      ::usleep(10 * 1000);
    }
    c.after = static_cast<unsigned>(threads_named("iostack-aio-wq").size());
  });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  EXPECT_GT(child.result.busy, 1u);
  EXPECT_EQ(child.result.after, 1u);
}

TEST(AioWorkers, InternalThreadsBlockAllButSynchronousSignals) {
  const WorkersServeDirectIo workers_only;
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file(kFileSize);
  if (!direct_io_works(file)) GTEST_SKIP() << "no O_DIRECT on " << file.path();
  const auto child = run_in_child<bool>([&](bool& ok) {
    // A worker (an O_DIRECT read held by the gate) and the poller thread
    // (a poll on an empty pipe).
    PoolGate gate(1);
    int p[2];
    if (::pipe(p) != 0) return;
    aio_context_t ctx = 0;
    if (iostack_io_setup(8, &ctx) != 0) return;
    struct iocb poll_cb = make_iocb(p[0], IOCB_CMD_POLL);
    poll_cb.aio_buf = POLLIN;
    if (submit1(iostack_aio(), ctx, &poll_cb) != 1) return;
    unsigned long long want = 0;
    for (int sig = 1; sig <= 64; ++sig) {
      // SIGKILL and SIGSTOP cannot be blocked; glibc keeps 32 and 33 (its
      // cancellation and setxid signals) open.
      if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33) continue;
      if (sigismember(&core::synchronous_signals(), sig)) continue;
      want |= 1ull << (sig - 1);
    }
    // The poller names itself once it runs: a bounded wait for that.
    std::vector<pid_t> internal = threads_named("iostack-aio");
    for (int i = 0; i < 500 && internal.size() < 2; ++i) {
      ::usleep(1000);
      internal = threads_named("iostack-aio");
    }
    ok = internal.size() == 2;
    if (!ok) std::fprintf(stderr, "%zu internal threads\n", internal.size());
    for (pid_t t : internal) {
      const unsigned long long got = thread_blocked_signals(t);
      if (got != want) {
        std::fprintf(stderr, "%s: SigBlk %llx, want %llx\n", thread_comm(t).c_str(), got, want);
        ok = false;
      }
    }
    gate.open();
    iostack_io_destroy(ctx);
  });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  EXPECT_TRUE(child.result);
}

std::atomic<pid_t> g_handler_tid{0};
void record_tid(int) { g_handler_tid.store(static_cast<pid_t>(::syscall(SYS_gettid))); }

TEST(AioWorkers, ProgramSignalHandlersNeverRunOnWorkers) {
  const WorkersServeDirectIo workers_only;
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file(kFileSize);
  if (!direct_io_works(file)) GTEST_SKIP() << "no O_DIRECT on " << file.path();
  const auto child = run_in_child<int>([&](int& on_worker) {
    PoolGate gate(4);  // four workers alive, waiting
    const std::vector<pid_t> workers = threads_named("iostack-aio-wq");
    struct sigaction sa {};
    sa.sa_handler = record_tid;
    ::sigaction(SIGUSR1, &sa, nullptr);
    // The main thread blocks SIGUSR1 and waits for it with sigsuspend, so a
    // process-directed signal can go to any thread that has it unblocked.
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGUSR1);
    for (int i = 0; i < 50; ++i) {
      g_handler_tid.store(0);
      ::kill(::getpid(), SIGUSR1);
      ::sigsuspend(&wait_mask);
      for (pid_t w : workers) on_worker += g_handler_tid.load() == w;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    gate.open();
  });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  EXPECT_EQ(child.result, 0);
}

struct FsizeResult {
  long submit = 0;
  bool in_ring_at_return = false;
  long long res = 0;
  long long straddle_res = 0;
};

// A forked child lowers RLIMIT_FSIZE to 8 KiB and writes 4 KiB at 16 KiB,
// then 8 KiB at 4 KiB (straddling the limit).
ChildOutcome<FsizeResult> write_past_fsize(const AioBackend& b, const std::string& path,
                                           bool direct, bool ignore_sigxfsz) {
  return run_in_child<FsizeResult>([&](FsizeResult& r) {
    if (ignore_sigxfsz) ::signal(SIGXFSZ, SIG_IGN);
    const int fd = ::open(path.c_str(), O_RDWR | O_TRUNC | (direct ? O_DIRECT : 0));
    void* mem = nullptr;
    if (fd < 0 || ::posix_memalign(&mem, 4096, 8192) != 0) return;
    std::memset(mem, 'x', 8192);
    struct rlimit rl = {8192, 8192};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    aio_context_t ctx = 0;
    if (b.setup(4, &ctx) != 0) return;
    struct iocb cb = make_iocb(fd, IOCB_CMD_PWRITE, mem, 4096, 16384);
    r.submit = submit1(b, ctx, &cb);
    r.in_ring_at_return = event_in_ring(ctx, &cb);
    struct io_event ev {};
    if (r.submit == 1 && reap1(b, ctx, &ev) == 1) r.res = static_cast<long long>(ev.res);
    cb = make_iocb(fd, IOCB_CMD_PWRITE, mem, 8192, 4096);
    if (submit1(b, ctx, &cb) == 1 && reap1(b, ctx, &ev) == 1) {
      r.straddle_res = static_cast<long long>(ev.res);
    }
    b.destroy(ctx);
  });
}

TEST(AioWorkers, WritePastRlimitFsizeMatchesKernel) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here: nothing to compare with";
  TempFile file;
  const bool have_direct = direct_io_works(file);
  for (bool direct : {false, true}) {
    if (direct && !have_direct) continue;
    for (bool ignore : {true, false}) {
      SCOPED_TRACE(std::string(direct ? "O_DIRECT" : "buffered") +
                   (ignore ? ", SIGXFSZ ignored" : ", SIGXFSZ default"));
      const auto k = write_past_fsize(kernel_aio(), file.path(), direct, ignore);
      const auto s = write_past_fsize(iostack_aio(), file.path(), direct, ignore);
      // The kernel checks the limit inside io_submit and signals the
      // submitter: by default SIGXFSZ ends the process there; ignored, the
      // event says -EFBIG before io_submit returns, and a write straddling
      // the limit is cut short.
      EXPECT_EQ(s.signal, k.signal);
      EXPECT_EQ(s.got_result, k.got_result);
      if (ignore) {
        EXPECT_TRUE(k.got_result);
        EXPECT_EQ(k.result.res, -EFBIG);
        EXPECT_TRUE(k.result.in_ring_at_return);
        EXPECT_EQ(k.result.straddle_res, 4096);
      } else {
        EXPECT_EQ(k.signal, SIGXFSZ);
      }
      EXPECT_EQ(s.result.submit, k.result.submit);
      EXPECT_EQ(s.result.res, k.result.res);
      EXPECT_EQ(s.result.in_ring_at_return, k.result.in_ring_at_return);
      EXPECT_EQ(s.result.straddle_res, k.result.straddle_res);
    }
  }
}

// The limit drops while an O_DIRECT write waits for a worker: the worker's
// write fails with -EFBIG, and the SIGXFSZ the kernel raises on the worker
// stays blocked there instead of ending the process.
TEST(AioWorkers, WorkerWritePastRlimitFsizeCompletesWithEfbig) {
  const WorkersServeDirectIo workers_only;
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile file;
  if (!direct_io_works(file)) GTEST_SKIP() << "no O_DIRECT on " << file.path();
  const std::string path = file.path();
  const auto child = run_in_child<long long>([&](long long& res) {
    const int fd = ::open(path.c_str(), O_RDWR | O_TRUNC | O_DIRECT);
    void* mem = nullptr;
    if (fd < 0 || ::posix_memalign(&mem, 4096, 4096) != 0) return;
    aio_context_t ctx = 0;
    if (iostack_io_setup(4, &ctx) != 0) return;
    PoolGate gate(1);
    struct iocb cb = make_iocb(fd, IOCB_CMD_PWRITE, mem, 4096, 16384);
    if (submit1(iostack_aio(), ctx, &cb) != 1) return;
    struct rlimit rl = {8192, 8192};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    gate.open();
    struct io_event ev {};
    if (reap1(iostack_aio(), ctx, &ev) == 1) res = static_cast<long long>(ev.res);
    iostack_io_destroy(ctx);
  });
  EXPECT_EQ(child.signal, 0);
  ASSERT_TRUE(child.got_result);
  EXPECT_EQ(child.result, -EFBIG);
}

}  // namespace
}  // namespace iostack::aio::testing
