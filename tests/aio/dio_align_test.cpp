// O_DIRECT requests the kernel settles inside io_submit: misaligned
// buffers, lengths or offsets (-EINVAL, per statx STATX_DIOALIGN), empty
// transfers, reads at EOF, and every O_DIRECT request on tmpfs (served from
// the page cache). Their events are in the ring when io_submit returns, on
// iostack as on the kernel, and io_submit counts them as submitted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>

#include <memory>
#include <string>
#include <vector>

#include "aio_backends.hpp"
#include "child_process.hpp"
#include "pool_gate.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::size_t kFileSize = 65536;
constexpr long kTmpfsMagic = 0x01021994;

struct Case {
  const char* name;
  int opcode;
  std::size_t buf_off;  // into a page-aligned buffer
  std::uint64_t nbytes;
  std::int64_t offset;
  bool settled_in_submit;  // the kernel completes it inside io_submit
  // IOCB_CMD_PREADV/PWRITEV: two segments {buf_off, seg0}, {8192 + seg1_off,
  // nbytes - seg0}.
  std::uint64_t seg0 = 0;
  std::size_t seg1_off = 0;
};

struct Observed {
  long submit = 0;
  bool in_ring_at_return = false;
  long long res = 0;
};

constexpr std::size_t kMaxCases = 24;
struct ObservedAll {
  std::size_t n = 0;
  Observed o[kMaxCases];
};

std::string dir_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Runs each case on an O_DIRECT descriptor of `path` (a fresh kFileSize
// file; made by the caller, as a forked child ends without destructors). On
// iostack a gate holds the only worker while io_submit runs, so a request
// sent to a worker cannot have its event in the ring at return.
ObservedAll run(const AioBackend& b, const std::string& path, const std::vector<Case>& cases) {
  ObservedAll out;
  const int fd = ::open(path.c_str(), O_RDWR | O_DIRECT);
  EXPECT_GE(fd, 0) << path;
  void* mem = nullptr;
  EXPECT_EQ(::posix_memalign(&mem, 4096, 65536), 0);
  auto* buf = static_cast<char*>(mem);
  std::memset(buf, 'w', 65536);
  aio_context_t ctx = 0;
  EXPECT_EQ(b.setup(8, &ctx), 0);
  std::uint64_t data = 0;
  for (const Case& c : cases) {
    struct iovec iov[2];
    struct iocb cb;
    if (c.opcode == IOCB_CMD_PREADV || c.opcode == IOCB_CMD_PWRITEV) {
      iov[0] = {buf + c.buf_off, c.seg0};
      iov[1] = {buf + 8192 + c.seg1_off, c.nbytes - c.seg0};
      cb = make_iocb(fd, c.opcode, iov, 2, c.offset, ++data);
    } else {
      cb = make_iocb(fd, c.opcode, buf + c.buf_off, c.nbytes, c.offset, ++data);
    }
    Observed o;
    {
      std::unique_ptr<PoolGate> gate;
      if (&b == &iostack_aio()) gate = std::make_unique<PoolGate>(1);
      o.submit = submit1(b, ctx, &cb);
      o.in_ring_at_return = event_in_ring(ctx, &cb);
    }
    if (o.submit == 1) {
      struct io_event ev {};
      EXPECT_EQ(reap1(b, ctx, &ev), 1) << c.name;
      EXPECT_EQ(ev.obj, reinterpret_cast<std::uintptr_t>(&cb)) << c.name;
      EXPECT_EQ(ev.data, data) << c.name;
      EXPECT_EQ(ev.res2, 0) << c.name;
      o.res = static_cast<long long>(ev.res);
    }
    if (out.n < kMaxCases) out.o[out.n++] = o;
  }
  EXPECT_EQ(b.destroy(ctx), 0);
  ::close(fd);
  ::free(mem);
  return out;
}

void expect_same(const std::string& dir, const std::vector<Case>& cases) {
  ASSERT_LE(cases.size(), kMaxCases);
  TempFile kfile(kFileSize, dir.c_str());
  TempFile sfile(kFileSize, dir.c_str());
  const ObservedAll kall = run(kernel_aio(), kfile.path(), cases);
  // iostack in a fresh child: its pool then has no worker but the gate's.
  const std::string spath = sfile.path();
  const auto child =
      run_in_child<ObservedAll>([&](ObservedAll& out) { out = run(iostack_aio(), spath, cases); });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  const ObservedAll& sall = child.result;
  ASSERT_EQ(kall.n, cases.size());
  ASSERT_EQ(sall.n, cases.size());
  const Observed* k = kall.o;
  const Observed* s = sall.o;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    EXPECT_EQ(s[i].submit, k[i].submit);
    EXPECT_EQ(s[i].res, k[i].res);
    // Only what the kernel settles inside io_submit has a fixed timing: an
    // aligned read may or may not beat io_submit's return on either side.
    if (cases[i].settled_in_submit) {
      EXPECT_TRUE(k[i].in_ring_at_return) << "kernel";
      EXPECT_TRUE(s[i].in_ring_at_return) << "iostack";
    }
  }
}

class AioDirectAlignment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here: nothing to compare with";
  }
};

TEST_F(AioDirectAlignment, MisalignedFailsInsideSubmitOnDiskFileSystem) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  const char* env = std::getenv("IOSTACK_TEST_DIR");
  const std::string dir = env != nullptr ? env : "/var/tmp";
  TempFile probe;
  const int fd = probe.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << dir << " takes no O_DIRECT";
  struct statx sx {};
  const int r = ::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx);
  ::close(fd);
  if (r != 0 || !(sx.stx_mask & STATX_DIOALIGN) || sx.stx_dio_mem_align < 2 ||
      sx.stx_dio_offset_align < 2) {
    GTEST_SKIP() << dir << " reports no direct I/O alignment (not a disk file system?)";
  }
  const std::uint64_t a = sx.stx_dio_offset_align;
  std::vector<Case> cases = {
      {"aligned read", IOCB_CMD_PREAD, 0, 4096, 0, false},
      {"read, address misaligned", IOCB_CMD_PREAD, 1, 4096, 0, true},
      {"read, length misaligned", IOCB_CMD_PREAD, 0, 4097, 0, true},
      {"read, offset misaligned", IOCB_CMD_PREAD, 0, 4096, 1, true},
      {"read, all three misaligned", IOCB_CMD_PREAD, 3, 4095, 7, true},
      {"write, address misaligned", IOCB_CMD_PWRITE, 1, 4096, 0, true},
      {"write, length misaligned", IOCB_CMD_PWRITE, 0, 4097, 0, true},
      {"write, offset misaligned", IOCB_CMD_PWRITE, 0, 4096, 1, true},
      {"readv, second segment's address misaligned", IOCB_CMD_PREADV, 0, 8192, 0, true, 4096, 1},
      {"readv, segment lengths misaligned, total aligned", IOCB_CMD_PREADV, 0, 4 * a, 0, true,
       a / 2, 0},
      {"writev, second segment's address misaligned", IOCB_CMD_PWRITEV, 0, 8192, 0, true, 4096, 1},
      {"empty read at a misaligned offset", IOCB_CMD_PREAD, 0, 0, 1, true},
      {"empty write from a misaligned address", IOCB_CMD_PWRITE, 1, 0, 0, true},
      {"misaligned read at EOF", IOCB_CMD_PREAD, 0, 4096, kFileSize + 1, true},
      {"aligned write", IOCB_CMD_PWRITE, 0, 4096, 4096, false},
  };
  // The memory alignment alone, when it is finer than the offset's.
  if (sx.stx_dio_mem_align < sx.stx_dio_offset_align) {
    cases.push_back({"read, address at the memory alignment", IOCB_CMD_PREAD, sx.stx_dio_mem_align,
                     4096, 0, false});
  }
  expect_same(dir, cases);
}

TEST_F(AioDirectAlignment, TmpfsServesDirectIoInsideSubmit) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  const std::string dir = "/dev/shm";
  struct statfs sf {};
  if (::statfs(dir.c_str(), &sf) != 0 || sf.f_type != kTmpfsMagic) {
    GTEST_SKIP() << dir << " is not a tmpfs here";
  }
  const std::string probe = dir + "/iostack-dio-probe-" + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0600);
  const int err = errno;
  ::unlink(probe.c_str());
  // Before Linux 6.6 tmpfs refuses O_DIRECT at open(): no request reaches
  // AIO at all, on either side.
  if (fd < 0) GTEST_SKIP() << "tmpfs refuses O_DIRECT here: " << std::strerror(err);
  ::close(fd);
  // tmpfs reports no STATX_DIOALIGN and copies through the page cache:
  // nothing is misaligned and everything completes inside io_submit.
  expect_same(dir, {
                       {"aligned read", IOCB_CMD_PREAD, 0, 4096, 0, true},
                       {"read, address misaligned", IOCB_CMD_PREAD, 1, 4096, 0, true},
                       {"read, length misaligned", IOCB_CMD_PREAD, 0, 100, 0, true},
                       {"read, offset misaligned", IOCB_CMD_PREAD, 0, 4096, 1, true},
                       {"write, offset misaligned", IOCB_CMD_PWRITE, 3, 1000, 17, true},
                       {"aligned write", IOCB_CMD_PWRITE, 0, 8192, 8192, true},
                   });
}

// One io_submit with a misaligned request between two aligned ones: all
// three count as submitted, and the misaligned one's event is already there.
struct BatchResult {
  long submit = 0;
  bool misaligned_in_ring = false;
  long long res[3] = {};
};

BatchResult run_batch(const AioBackend& b, const std::string& path) {
  BatchResult r;
  const int fd = ::open(path.c_str(), O_RDWR | O_DIRECT);
  void* mem = nullptr;
  if (fd < 0 || ::posix_memalign(&mem, 4096, 3 * 8192) != 0) return r;
  auto* buf = static_cast<char*>(mem);
  aio_context_t ctx = 0;
  if (b.setup(8, &ctx) != 0) return r;
  struct iocb cbs[3] = {make_iocb(fd, IOCB_CMD_PREAD, buf, 4096, 0, 0),
                        make_iocb(fd, IOCB_CMD_PREAD, buf + 8192 + 1, 4096, 0, 1),
                        make_iocb(fd, IOCB_CMD_PREAD, buf + 16384, 4096, 8192, 2)};
  struct iocb* ptrs[3] = {&cbs[0], &cbs[1], &cbs[2]};
  {
    std::unique_ptr<PoolGate> gate;
    if (&b == &iostack_aio()) gate = std::make_unique<PoolGate>(1);
    r.submit = b.submit(ctx, 3, ptrs);
    r.misaligned_in_ring = event_in_ring(ctx, &cbs[1]);
  }
  struct io_event ev[3];
  long got = 0;
  while (got < r.submit) {
    struct timespec ts = {5, 0};
    const long n = b.getevents(ctx, 1, r.submit - got, ev + got, &ts);
    if (n <= 0) break;
    got += n;
  }
  for (long i = 0; i < got; ++i) r.res[ev[i].data % 3] = static_cast<long long>(ev[i].res);
  b.destroy(ctx);
  ::close(fd);
  ::free(mem);
  return r;
}

TEST_F(AioDirectAlignment, MisalignedInsideABatch) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  TempFile probe;
  const int probe_fd = probe.reopen(O_RDWR | O_DIRECT);
  if (probe_fd < 0) GTEST_SKIP() << "no O_DIRECT on " << dir_of(probe.path());
  ::close(probe_fd);
  TempFile kfile(kFileSize);
  TempFile sfile(kFileSize);
  const BatchResult k = run_batch(kernel_aio(), kfile.path());
  const std::string spath = sfile.path();
  const auto s =
      run_in_child<BatchResult>([&](BatchResult& r) { r = run_batch(iostack_aio(), spath); });
  ASSERT_TRUE(s.got_result) << "signal " << s.signal;
  EXPECT_EQ(k.submit, 3);
  EXPECT_TRUE(k.misaligned_in_ring);
  EXPECT_EQ(s.result.submit, k.submit);
  EXPECT_EQ(s.result.misaligned_in_ring, k.misaligned_in_ring);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.result.res[i], k.res[i]) << i;
  EXPECT_EQ(k.res[1], -EINVAL);
}

}  // namespace
}  // namespace iostack::aio::testing
