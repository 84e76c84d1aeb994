// A request holds its file, as the kernel's takes a file reference at
// io_submit: closing the descriptor, or dup2()-ing another file over it,
// while the request waits or runs does not change its result. On iostack
// the requests are held in the worker queue (PoolGate) across the close,
// so the test does not depend on who wins a race.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "aio_backends.hpp"
#include "child_process.hpp"
#include "pool_gate.hpp"

namespace iostack::aio::testing {
namespace {

enum class Then { kClose, kDup2Other };

struct Observed {
  long submit = 0;
  long events = 0;
  long long res = 0;
  char first = 0;  // first byte read
  bool same_fd_number = false;
};

constexpr std::size_t kSize = 65536;

// Reads 4 KiB at 8192 from `a` (its descriptor number reused afterwards
// for `b`, or just closed) through `backend`, the pool held by a gate on
// iostack.
Observed read_then(const AioBackend& backend, const std::string& a, const std::string& b, Then then,
                   int opcode) {
  Observed o;
  const int fd = ::open(a.c_str(), O_RDWR | O_DIRECT);
  const int other = ::open(b.c_str(), O_RDWR | O_DIRECT);
  void* mem = nullptr;
  if (fd < 0 || other < 0 || ::posix_memalign(&mem, 4096, 4096) != 0) return o;
  std::memset(mem, 0, 4096);
  aio_context_t ctx = 0;
  if (backend.setup(4, &ctx) != 0) return o;
  {
    std::unique_ptr<PoolGate> gate;
    if (&backend == &iostack_aio()) gate = std::make_unique<PoolGate>(1);
    struct iocb cb = opcode == IOCB_CMD_FSYNC ? make_iocb(fd, IOCB_CMD_FSYNC)
                                              : make_iocb(fd, opcode, mem, 4096, 8192);
    o.submit = submit1(backend, ctx, &cb);
    if (then == Then::kClose) {
      ::close(fd);
    } else {
      o.same_fd_number = ::dup2(other, fd) == fd;
    }
    if (gate) gate->open();
    struct io_event ev {};
    o.events = reap1(backend, ctx, &ev);
    o.res = static_cast<long long>(ev.res);
    o.first = static_cast<char*>(mem)[0];
  }
  backend.destroy(ctx);
  ::close(fd);
  ::close(other);
  ::free(mem);
  return o;
}

class AioFileReference : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF_CHILD_CANNOT_START_THREADS();
    if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here: nothing to compare with";
    const int probe = a_.reopen(O_RDWR | O_DIRECT);
    if (probe < 0) GTEST_SKIP() << "no O_DIRECT on " << a_.path();
    ::close(probe);
    // Different contents: 'a'.. in a_, 'Z' in b_.
    std::string z(kSize, 'Z');
    ASSERT_EQ(::pwrite(b_.fd(), z.data(), z.size(), 0), static_cast<ssize_t>(z.size()));
    ::fsync(b_.fd());
  }

  void expect_same(Then then, int opcode) {
    // Each side in a fresh child: the iostack one starts with no workers,
    // so the gate's worker is the only one.
    const std::string a = a_.path(), b = b_.path();
    const auto k = run_in_child<Observed>(
        [&](Observed& o) { o = read_then(kernel_aio(), a, b, then, opcode); });
    const auto s = run_in_child<Observed>(
        [&](Observed& o) { o = read_then(iostack_aio(), a, b, then, opcode); });
    ASSERT_TRUE(k.got_result) << "kernel child: signal " << k.signal;
    ASSERT_TRUE(s.got_result) << "iostack child: signal " << s.signal;
    EXPECT_EQ(k.result.submit, 1);
    EXPECT_EQ(s.result.submit, k.result.submit);
    EXPECT_EQ(s.result.events, k.result.events);
    EXPECT_EQ(s.result.res, k.result.res);
    EXPECT_EQ(s.result.first, k.result.first);
    if (then == Then::kDup2Other) {
      EXPECT_TRUE(s.result.same_fd_number);
    }
  }

  TempFile a_{kSize};
  TempFile b_{kSize};
};

TEST_F(AioFileReference, ReadSurvivesClose) { expect_same(Then::kClose, IOCB_CMD_PREAD); }

TEST_F(AioFileReference, ReadIgnoresDup2OverTheDescriptor) {
  expect_same(Then::kDup2Other, IOCB_CMD_PREAD);
}

TEST_F(AioFileReference, WriteSurvivesClose) { expect_same(Then::kClose, IOCB_CMD_PWRITE); }

TEST_F(AioFileReference, FsyncSurvivesClose) { expect_same(Then::kClose, IOCB_CMD_FSYNC); }

// What the reads returned: the original file's bytes.
TEST_F(AioFileReference, ReadReturnsTheOriginalFilesData) {
  const std::string a = a_.path(), b = b_.path();
  const auto s = run_in_child<Observed>(
      [&](Observed& o) { o = read_then(iostack_aio(), a, b, Then::kDup2Other, IOCB_CMD_PREAD); });
  ASSERT_TRUE(s.got_result) << "signal " << s.signal;
  EXPECT_EQ(s.result.res, 4096);
  EXPECT_EQ(s.result.first, static_cast<char>('a' + (8192 * 7) % 26));
}

// A request finished inside io_submit takes no private descriptor: the
// lowest free number is still the program's to get.
TEST_F(AioFileReference, InlineRequestsTakeNoDescriptor) {
  aio_context_t ctx = 0;
  ASSERT_EQ(iostack_io_setup(4, &ctx), 0);
  char buf[64];
  struct iocb cb = make_iocb(a_.fd(), IOCB_CMD_PREAD, buf, sizeof(buf), 0);
  const int before = ::dup(0);
  ::close(before);
  ASSERT_EQ(submit1(iostack_aio(), ctx, &cb), 1);
  EXPECT_TRUE(event_in_ring(ctx, &cb));
  const int after = ::dup(0);
  EXPECT_EQ(after, before);
  ::close(after);
  struct io_event ev {};
  ASSERT_EQ(reap1(iostack_aio(), ctx, &ev), 1);
  EXPECT_EQ(ev.res, static_cast<long long>(sizeof(buf)));
  EXPECT_EQ(iostack_io_destroy(ctx), 0);
}

}  // namespace
}  // namespace iostack::aio::testing
