// Linux AIO on O_DIRECT files, which iostack queues on the kernel's io_uring
// where it may: the events the kernel's AIO gives, many requests in flight
// without a worker or a descriptor each, and the worker pool where the
// kernel's io_uring is not iostack's to use.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <vector>

#include "aio_backends.hpp"
#include "core/exec_stats.hpp"
#include "iostack/uring.h"

namespace iostack::aio::testing {
namespace {

using core::ThreadKind;

constexpr std::size_t kFileSize = 256 * 1024 + 512;  // ends inside a page

std::uint32_t threads_started(ThreadKind k) {
  return core::exec_stats().threads_started[static_cast<int>(k)].load();
}

bool kernel_uring_available() {
  io_uring_params p{};
  const long fd = syscall(SYS_io_uring_setup, 2, &p);
  if (fd < 0) return false;
  ::close(static_cast<int>(fd));
  return true;
}

struct Aligned {
  char* p = nullptr;
  explicit Aligned(std::size_t n) {
    void* m = nullptr;
    if (::posix_memalign(&m, 4096, n) == 0) p = static_cast<char*>(m);
    std::memset(p, 0, n);
  }
  ~Aligned() { std::free(p); }
};

struct Outcome {
  std::vector<std::pair<std::uint64_t, std::int64_t>> events;  // data, res
  std::string bytes;
};

// Reads, vectored reads, a write and its read-back, across and past the
// end of the file, through one backend.
Outcome direct_run(const AioBackend& b) {
  Outcome out;
  TempFile f(kFileSize);
  const int fd = f.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) return out;
  aio_context_t ctx = 0;
  EXPECT_EQ(0, b.setup(32, &ctx));
  Aligned buf(64 * 1024);
  Aligned w(8192);
  std::memset(w.p, 'W', 8192);
  struct iovec iov[2] = {{buf.p + 8192, 4096}, {buf.p + 12288, 8192}};
  std::vector<struct iocb> cbs = {
      make_iocb(fd, IOCB_CMD_PREAD, buf.p, 4096, 0, 1),
      make_iocb(fd, IOCB_CMD_PREADV, iov, 2, 16384, 2),
      make_iocb(fd, IOCB_CMD_PREAD, buf.p + 24576, 8192, 258048, 3),   // across the end
      make_iocb(fd, IOCB_CMD_PREAD, buf.p + 32768, 4096, 1 << 20, 4),  // past it
      make_iocb(fd, IOCB_CMD_PWRITE, w.p, 8192, 65536, 5),
  };
  std::vector<struct iocb*> ptrs;
  for (auto& cb : cbs) ptrs.push_back(&cb);
  EXPECT_EQ(static_cast<long>(cbs.size()),
            b.submit(ctx, static_cast<long>(ptrs.size()), ptrs.data()));
  struct io_event ev[8];
  struct timespec ts = {5, 0};
  long got = 0;
  while (got < static_cast<long>(cbs.size())) {
    const long n = b.getevents(ctx, 1, 8, ev, &ts);
    if (n <= 0) break;
    for (long i = 0; i < n; ++i) out.events.emplace_back(ev[i].data, ev[i].res);
    got += n;
  }
  struct iocb back = make_iocb(fd, IOCB_CMD_PREAD, buf.p + 40960, 8192, 65536, 6);
  EXPECT_EQ(1, submit1(b, ctx, &back));
  EXPECT_EQ(1, reap1(b, ctx, ev));
  out.events.emplace_back(ev[0].data, ev[0].res);
  std::sort(out.events.begin(), out.events.end());
  out.bytes.assign(buf.p, 49152);
  EXPECT_EQ(0, b.destroy(ctx));
  ::close(fd);
  return out;
}

TEST(AioHostUringDiff, SameEventsAsTheKernelsAio) {
  if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here";
  TempFile probe;
  const int fd = probe.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << probe.path();
  ::close(fd);
  const Outcome k = direct_run(kernel_aio());
  const Outcome o = direct_run(iostack_aio());
  EXPECT_EQ(k.events, o.events);
  EXPECT_EQ(k.bytes, o.bytes);
  ASSERT_EQ(6u, o.events.size());
  EXPECT_EQ(static_cast<std::int64_t>(kFileSize - 258048), o.events[2].second);
}

// 48 reads in flight from one io_submit, more than one enter of the
// kernel's io_uring carries: no worker thread waits for any of them.
TEST(AioHostUring, DirectReadsInFlightWithoutWorkers) {
  if (!kernel_uring_available()) GTEST_SKIP() << "the kernel refuses io_uring here";
  TempFile f(kFileSize);
  const int fd = f.reopen(O_RDONLY | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << f.path();
  const std::uint32_t workers = threads_started(ThreadKind::kAio);
  aio_context_t ctx = 0;
  ASSERT_EQ(0, iostack_io_setup(64, &ctx));
  constexpr unsigned kReads = 48;
  Aligned buf(kReads * 4096);
  std::vector<struct iocb> cbs;
  for (unsigned i = 0; i < kReads; ++i)
    cbs.push_back(make_iocb(fd, IOCB_CMD_PREAD, buf.p + i * 4096, 4096, i * 4096, i));
  std::vector<struct iocb*> ptrs;
  for (auto& cb : cbs) ptrs.push_back(&cb);
  ASSERT_EQ(kReads, iostack_io_submit(ctx, kReads, ptrs.data()));
  struct io_event ev[kReads];
  long got = 0;
  while (got < kReads) {
    const long n = iostack_io_getevents(ctx, 1, kReads - got, ev + got, nullptr);
    ASSERT_GT(n, 0);
    got += n;
  }
  for (const auto& e : ev) EXPECT_EQ(4096, e.res);
  for (unsigned i = 0; i < kReads; ++i)
    EXPECT_EQ(static_cast<char>('a' + ((i * 4096) * 7) % 26), buf.p[i * 4096]) << i;
  EXPECT_EQ(workers, threads_started(ThreadKind::kAio));
  EXPECT_EQ(1u, threads_started(ThreadKind::kHostUring));
  EXPECT_EQ(0, iostack_io_destroy(ctx));
  ::close(fd);
}

// Where iostack serves the program's own io_uring calls, its AIO does not
// use io_uring underneath: workers wait for the device.
TEST(AioHostUring, NotUsedWhereIostackServesIoUring) {
  TempFile f(kFileSize);
  const int fd = f.reopen(O_RDONLY | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << f.path();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    iostack_io_uring_served_here();
    const std::uint32_t host = threads_started(ThreadKind::kHostUring);
    const std::uint32_t workers = threads_started(ThreadKind::kAio);
    aio_context_t ctx = 0;
    if (iostack_io_setup(8, &ctx) != 0) _exit(2);
    Aligned buf(4096);
    struct iocb cb = make_iocb(fd, IOCB_CMD_PREAD, buf.p, 4096, 8192, 7);
    if (submit1(iostack_aio(), ctx, &cb) != 1) _exit(3);
    struct io_event ev;
    if (reap1(iostack_aio(), ctx, &ev) != 1 || ev.res != 4096) _exit(4);
    if (threads_started(ThreadKind::kAio) == workers) _exit(5);
    _exit(threads_started(ThreadKind::kHostUring) == host ? 0 : 6);
  }
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
  ::close(fd);
}

}  // namespace
}  // namespace iostack::aio::testing
