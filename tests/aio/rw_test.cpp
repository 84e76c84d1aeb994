// Reads and writes give the same io_event (res, res2, data, obj) and the
// same file contents on iostack as on the kernel: buffered, vectored,
// O_DIRECT (aligned and not), past EOF, appends, fsync.
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <string>
#include <vector>

#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

struct Op {
  int opcode;
  std::size_t buf_off;  // into the 64 KiB aligned buffer
  std::uint64_t nbytes;
  std::int64_t offset;
  std::uint32_t rw_flags = 0;
};

struct Result {
  std::vector<long long> res;
  std::vector<std::string> read_data;
  std::string file_after;
};

std::string slurp(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY);
  char b[4096];
  ssize_t n;
  while ((n = ::read(fd, b, sizeof(b))) > 0) out.append(b, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// Runs `ops` one at a time on a fresh copy of a 20000-byte file.
Result run(const AioBackend& b, const std::vector<Op>& ops, int open_flags) {
  Result r;
  TempFile file(20000);
  const int fd = file.reopen(open_flags);
  EXPECT_GE(fd, 0);
  void* mem = nullptr;
  EXPECT_EQ(::posix_memalign(&mem, 4096, 65536), 0);
  auto* buf = static_cast<char*>(mem);
  aio_context_t ctx = 0;
  EXPECT_EQ(b.setup(32, &ctx), 0);
  std::uint64_t data = 100;
  for (const Op& op : ops) {
    for (int i = 0; i < 65536; ++i) buf[i] = static_cast<char>('A' + i % 23);
    struct iovec iov[3];
    struct iocb cb;
    if (op.opcode == IOCB_CMD_PREADV || op.opcode == IOCB_CMD_PWRITEV) {
      // Three segments splitting nbytes unevenly.
      const std::size_t a = op.nbytes / 4, c = op.nbytes / 2;
      iov[0] = {buf + op.buf_off, a};
      iov[1] = {buf + op.buf_off + 8192, c};
      iov[2] = {buf + op.buf_off + 20480, op.nbytes - a - c};
      cb = make_iocb(fd, op.opcode, iov, 3, op.offset, ++data);
    } else {
      cb = make_iocb(fd, op.opcode, buf + op.buf_off, op.nbytes, op.offset, ++data);
    }
    cb.aio_rw_flags = op.rw_flags;
    const long s = submit1(b, ctx, &cb);
    if (s != 1) {
      r.res.push_back(1000000 + s);
      continue;
    }
    struct io_event ev {};
    EXPECT_EQ(reap1(b, ctx, &ev), 1);
    EXPECT_EQ(ev.data, data);
    EXPECT_EQ(ev.obj, reinterpret_cast<std::uintptr_t>(&cb));
    EXPECT_EQ(ev.res2, 0);
    r.res.push_back(static_cast<long long>(ev.res));
    if ((op.opcode == IOCB_CMD_PREAD || op.opcode == IOCB_CMD_PREADV) &&
        static_cast<long long>(ev.res) > 0) {
      r.read_data.emplace_back(buf, 65536);
    }
  }
  EXPECT_EQ(b.destroy(ctx), 0);
  ::close(fd);
  r.file_after = slurp(file.path());
  ::free(mem);
  return r;
}

void expect_same(const std::vector<Op>& ops, int open_flags) {
  const Result k = run(kernel_aio(), ops, open_flags);
  const Result s = run(iostack_aio(), ops, open_flags);
  EXPECT_EQ(s.res, k.res);
  EXPECT_TRUE(s.read_data == k.read_data) << "data read differs";
  EXPECT_TRUE(s.file_after == k.file_after) << "file contents differ";
}

TEST(AioReadWrite, BufferedMatchesKernel) {
  expect_same(
      {
          {IOCB_CMD_PREAD, 0, 4096, 0},
          {IOCB_CMD_PREAD, 3, 1000, 17},
          {IOCB_CMD_PREAD, 0, 8192, 16000},  // short: crosses EOF
          {IOCB_CMD_PREAD, 0, 100, 20000},   // at EOF
          {IOCB_CMD_PREAD, 0, 100, 90000},   // past EOF
          {IOCB_CMD_PREAD, 0, 0, 0},         // empty
          {IOCB_CMD_PWRITE, 5, 3000, 100},
          {IOCB_CMD_PWRITE, 0, 4096, 30000},  // extends, leaves a hole
          {IOCB_CMD_PREADV, 1, 9000, 50},
          {IOCB_CMD_PWRITEV, 7, 7000, 12345},
          {IOCB_CMD_PWRITE, 0, 10, 0, 0x10},  // RWF_APPEND
          {IOCB_CMD_PWRITE, 0, 10, 0, 0x02},  // RWF_DSYNC
          {IOCB_CMD_PREAD, 0, 100, 5, 0x08},  // RWF_NOWAIT, cached
          {IOCB_CMD_FSYNC, 0, 0, 0},
          {IOCB_CMD_FDSYNC, 0, 0, 0},
      },
      O_RDWR);
}

TEST(AioReadWrite, AppendModeFile) {
  expect_same({{IOCB_CMD_PWRITE, 0, 100, 0}, {IOCB_CMD_PWRITE, 0, 50, 7}}, O_RDWR | O_APPEND);
}

TEST(AioReadWrite, DirectIoMatchesKernel) {
  TempFile probe;
  const int fd = probe.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << probe.path() << " (tmpfs?)";
  ::close(fd);
  expect_same(
      {
          {IOCB_CMD_PREAD, 0, 4096, 0},
          {IOCB_CMD_PREAD, 0, 8192, 4096},
          {IOCB_CMD_PREAD, 0, 8192, 16384},  // short at EOF
          {IOCB_CMD_PREAD, 1, 512, 0},       // misaligned buffer
          {IOCB_CMD_PREAD, 0, 512, 1},       // misaligned offset
          {IOCB_CMD_PREAD, 0, 100, 0},       // misaligned length
          {IOCB_CMD_PWRITE, 0, 4096, 8192},
          {IOCB_CMD_PWRITE, 0, 4096, 1},      // misaligned offset
          {IOCB_CMD_PWRITE, 0, 8192, 40960},  // extends the file
          {IOCB_CMD_PREADV, 0, 4096 * 3, 0},
          {IOCB_CMD_PWRITEV, 0, 4096 * 4, 4096},
          {IOCB_CMD_PREAD, 0, 4096, 0, 0x08},  // RWF_NOWAIT
          {IOCB_CMD_FSYNC, 0, 0, 0},
      },
      O_RDWR | O_DIRECT);
}

TEST(AioReadWrite, ManyInFlightComplete) {
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    TempFile file(1 << 20);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(128, &ctx), 0);
    std::vector<char> mem(128 * 4096);
    std::vector<struct iocb> cbs;
    for (int i = 0; i < 128; ++i) {
      cbs.push_back(make_iocb(file.fd(), IOCB_CMD_PREAD, &mem[static_cast<std::size_t>(i) * 4096],
                              4096, i * 8192, static_cast<std::uint64_t>(i)));
    }
    std::vector<struct iocb*> ptrs;
    for (auto& c : cbs) ptrs.push_back(&c);
    ASSERT_EQ(b->submit(ctx, 128, ptrs.data()), 128);
    std::vector<struct io_event> ev(128);
    long got = 0;
    while (got < 128) {
      const long n = b->getevents(ctx, 1, 128, ev.data() + got, nullptr);
      ASSERT_GT(n, 0);
      got += n;
    }
    for (const auto& e : ev) EXPECT_EQ(e.res, 4096);
    EXPECT_EQ(b->destroy(ctx), 0);
  }
}

}  // namespace
}  // namespace iostack::aio::testing
