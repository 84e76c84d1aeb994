// io_uring reads and writes of O_DIRECT files, which iostack hands to the
// kernel's AIO where it may: the same CQEs as the kernel's io_uring, many
// requests in flight without a worker thread each, and the usual path where
// the kernel's AIO is not iostack's to use.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/exec_stats.hpp"
#include "core/host_aio.hpp"
#include "iostack/fd.h"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

using iostack::core::ThreadKind;

constexpr std::size_t kFileSize = 64 * 1024 + 1000;  // ends inside a block

std::uint32_t threads_started(ThreadKind k) {
  return iostack::core::exec_stats().threads_started[static_cast<int>(k)].load();
}

bool kernel_aio_available(std::string* why) {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) != 0) {
    *why = std::string("kernel io_setup refused: ") + strerror(errno);
    return false;
  }
  syscall(SYS_io_destroy, ctx);
  return true;
}

// A file of known bytes opened with O_DIRECT, or an empty path when the
// file system refuses O_DIRECT.
struct DirectFile {
  std::string path;
  int fd = -1;
  DirectFile() {
    char tmpl[] = "/tmp/iostack-dio-XXXXXX";
    const int t = mkstemp(tmpl);
    path = tmpl;
    std::string data(kFileSize, '\0');
    for (std::size_t i = 0; i < kFileSize; ++i) data[i] = static_cast<char>('a' + i % 23);
    EXPECT_EQ(static_cast<ssize_t>(kFileSize), write(t, data.data(), kFileSize));
    fsync(t);
    ::close(t);
    fd = open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  }
  ~DirectFile() {
    if (fd >= 0) ::close(fd);
    unlink(path.c_str());
  }
};

struct AlignedBuf {
  char* p = nullptr;
  explicit AlignedBuf(std::size_t n) {
    void* m = nullptr;
    if (posix_memalign(&m, 4096, n) == 0) p = static_cast<char*>(m);
    std::memset(p, 0, n);
  }
  ~AlignedBuf() { std::free(p); }
};

std::vector<Cqe> by_user_data(std::vector<Cqe> c) {
  std::sort(c.begin(), c.end(),
            [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
  return c;
}

// Reads, vectored reads, a write read back through a link, misaligned
// buffer and offset, the end of the file, and a write that extends it.
std::vector<Cqe> direct_sequence(Ring& r, int fd, std::string* data) {
  AlignedBuf buf(64 * 1024);
  std::vector<Cqe> out;
  prep(r.sqe(), IORING_OP_READ, fd, buf.p, 4096, 0, 1);
  struct iovec iov[2] = {{buf.p + 4096, 4096}, {buf.p + 8192, 8192}};
  prep(r.sqe(), IORING_OP_READV, fd, iov, 2, 8192, 2);
  prep(r.sqe(), IORING_OP_READ, fd, buf.p + 1, 4096, 0, 3);            // misaligned memory
  prep(r.sqe(), IORING_OP_READ, fd, buf.p + 16384, 4096, 100, 4);      // misaligned offset
  prep(r.sqe(), IORING_OP_READ, fd, buf.p + 20480, 8192, 61440, 5);    // across the end
  prep(r.sqe(), IORING_OP_READ, fd, buf.p + 28672, 4096, 1 << 20, 6);  // past it
  EXPECT_EQ(6, r.submit(6));
  auto c = by_user_data(r.wait(6));
  out.insert(out.end(), c.begin(), c.end());
  data->assign(buf.p, 20480 + 8192);

  AlignedBuf w(8192);
  std::memset(w.p, 'W', 8192);
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_WRITE, fd, w.p, 4096, 12288, 7);
  s->flags = IOSQE_IO_LINK;
  prep(r.sqe(), IORING_OP_READ, fd, buf.p + 32768, 4096, 12288, 8);
  prep(r.sqe(), IORING_OP_WRITE, fd, w.p, 8192, 69632, 9);  // extends the file
  EXPECT_EQ(3, r.submit(3));
  c = by_user_data(r.wait(3));
  out.insert(out.end(), c.begin(), c.end());
  data->append(buf.p + 32768, 4096);
  struct stat st;
  fstat(fd, &st);
  out.push_back(Cqe{10, static_cast<int>(st.st_size), 0});
  return out;
}

TEST(UringDirectIoDiff, SameCqesAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  std::vector<Cqe> k, o;
  std::string kd, od;
  {
    DirectFile f;
    if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
    Ring r(&kb);
    ASSERT_GE(r.init(16), 0);
    k = direct_sequence(r, f.fd, &kd);
  }
  {
    DirectFile f;
    Ring r(&ib);
    ASSERT_GE(r.init(16), 0);
    o = direct_sequence(r, f.fd, &od);
  }
  EXPECT_EQ(k, o) << "kernel CQEs vs iostack CQEs";
  EXPECT_EQ(kd, od) << "bytes read";
  EXPECT_EQ(-EINVAL, o.at(2).res);
  EXPECT_EQ(static_cast<int>(kFileSize - 61440), o.at(4).res);
}

// O_DIRECT reads that pick provided buffers from a ring: each takes its own
// buffer at issue (a regular file commits the ring head at selection), so
// the buffer a CQE names holds that read's bytes, though all are in flight
// together.
std::vector<Cqe> buffer_ring_reads(Ring& r, int fd, std::string* data) {
  constexpr unsigned kBufs = 8, kLen = 4096;
  AlignedBuf bufs(kBufs * kLen);
  AlignedBuf ring_mem(4096);
  // The entries from the ring's start, the tail in the first one's resv
  // (C++ places the header's flexible array elsewhere, so no br->bufs).
  auto* ents = reinterpret_cast<io_uring_buf*>(ring_mem.p);
  for (unsigned i = 0; i < kBufs; ++i) {
    ents[i].addr = reinterpret_cast<std::uintptr_t>(bufs.p + i * kLen);
    ents[i].len = kLen;
    ents[i].bid = static_cast<std::uint16_t>(i + 1);
  }
  __atomic_store_n(&ents[0].resv, static_cast<std::uint16_t>(kBufs), __ATOMIC_RELEASE);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem.p);
  reg.ring_entries = kBufs;
  reg.bgid = 1;
  EXPECT_EQ(0, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1));
  for (unsigned i = 0; i < kBufs; ++i) {
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_READ, fd, nullptr, kLen, std::uint64_t{i} * kLen, i + 1);
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 1;
  }
  EXPECT_EQ(static_cast<int>(kBufs), r.submit(kBufs));
  auto c = by_user_data(r.wait(kBufs));
  for (const Cqe& e : c) {
    const unsigned bid = e.flags >> IORING_CQE_BUFFER_SHIFT;
    if (bid >= 1 && bid <= kBufs) data->append(bufs.p + (bid - 1) * kLen, kLen);
  }
  return c;
}

TEST(UringDirectIoDiff, ReadsIntoARingOfProvidedBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  std::vector<Cqe> k, o;
  std::string kd, od;
  {
    DirectFile f;
    if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
    Ring r(&kb);
    ASSERT_GE(r.init(16), 0);
    k = buffer_ring_reads(r, f.fd, &kd);
  }
  {
    DirectFile f;
    Ring r(&ib);
    ASSERT_GE(r.init(16), 0);
    o = buffer_ring_reads(r, f.fd, &od);
  }
  EXPECT_EQ(k, o) << "kernel CQEs vs iostack CQEs";
  EXPECT_EQ(kd, od) << "bytes in the buffers the CQEs name";
}

// One submission of more reads than one io_submit carries, then a CLOSE of
// their descriptor in the same batch: each read has its file before the
// close runs, as the kernel's io_uring takes a reference at issue.
std::vector<Cqe> batch_then_close(Ring& r, int fd, std::string* data) {
  constexpr unsigned kReads = 40;
  AlignedBuf buf(kReads * 4096);
  for (unsigned i = 0; i < kReads; ++i)
    prep(r.sqe(), IORING_OP_READ, fd, buf.p + i * 4096, 4096, (i % 16) * 4096, i);
  prep(r.sqe(), IORING_OP_CLOSE, fd, nullptr, 0, 0, 100);
  EXPECT_EQ(static_cast<int>(kReads + 1), r.submit(kReads + 1));
  std::vector<Cqe> out = by_user_data(r.wait(kReads + 1));
  data->assign(buf.p, kReads * 4096);
  return out;
}

TEST(UringDirectIoDiff, BatchLargerThanOneSubmitThenClose) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  std::vector<Cqe> k, o;
  std::string kd, od;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    DirectFile f;
    if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
    Ring r(b);
    ASSERT_GE(r.init(64), 0);
    (b == &kb ? k : o) = batch_then_close(r, f.fd, b == &kb ? &kd : &od);
    f.fd = -1;  // the ring closed it
  }
  EXPECT_EQ(k, o) << "kernel CQEs vs iostack CQEs";
  EXPECT_EQ(kd, od) << "bytes read";
  ASSERT_EQ(41u, o.size());
  EXPECT_EQ(4096, o[0].res);
  EXPECT_EQ(0, o[40].res);
}

// 32 reads in flight at once go to the kernel's AIO: one reaper thread,
// no io-wq worker blocked on each.
TEST(UringDirectIo, ManyInFlightWithoutWorkers) {
  std::string why;
  if (!kernel_aio_available(&why)) GTEST_SKIP() << why;
  DirectFile f;
  if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
  const std::uint32_t workers = threads_started(ThreadKind::kIoWq);
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(32), 0);
  AlignedBuf buf(32 * 4096);
  for (int round = 0; round < 4; ++round) {
    for (unsigned i = 0; i < 32; ++i)
      prep(r.sqe(), IORING_OP_READ, f.fd, buf.p + i * 4096, 4096, (i % 16) * 4096, i);
    ASSERT_EQ(32, r.submit(32));
    auto c = r.wait(32);
    ASSERT_EQ(32u, c.size());
    for (const Cqe& e : c) EXPECT_EQ(4096, e.res) << e;
  }
  for (unsigned i = 0; i < 32; ++i)
    EXPECT_EQ(static_cast<char>('a' + ((i % 16) * 4096) % 23), buf.p[i * 4096]) << i;
  EXPECT_EQ(workers, threads_started(ThreadKind::kIoWq));
  EXPECT_EQ(1u, threads_started(ThreadKind::kHostAio));
}

// A descriptor number that named an O_DIRECT file and now names a pipe,
// replaced behind iostack's back (no close or dup2 it saw): the request
// still gets the pipe's answer, data once it is written.
TEST(UringDirectIo, DescriptorReusedForAPipe) {
  DirectFile f;
  if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(8), 0);
  AlignedBuf buf(4096);
  prep(r.sqe(), IORING_OP_READ, f.fd, buf.p, 4096, 0, 1);
  ASSERT_EQ(1, r.submit(1));
  ASSERT_EQ(4096, r.wait(1).at(0).res);
  int p[2];
  ASSERT_EQ(0, pipe(p));
  ASSERT_EQ(f.fd, static_cast<int>(syscall(SYS_dup2, p[0], f.fd)));  // raw: iostack does not see it
  prep(r.sqe(), IORING_OP_READ, f.fd, buf.p, 4096, 0, 2);
  ASSERT_EQ(1, r.submit());
  EXPECT_EQ(0u, r.cq_ready());
  ASSERT_EQ(5, write(p[1], "hello", 5));
  auto c = r.wait(1);
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(5, c[0].res);
  EXPECT_EQ(0, std::memcmp(buf.p, "hello", 5));
  ::close(p[0]);
  ::close(p[1]);
}

// Where the program's own AIO calls are iostack's (iostack exec serves
// them), the kernel's AIO is left alone: io-wq workers wait for the device,
// never the submitting thread.
TEST(UringDirectIo, NotUsedWhereIostackServesAio) {
  DirectFile f;
  if (f.fd < 0) GTEST_SKIP() << "O_DIRECT refused by the file system of /tmp";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    iostack::core::host_aio_allow(false);  // what iostack_aio_served_here() does
    const std::uint32_t before = threads_started(ThreadKind::kHostAio);
    const std::uint32_t workers = threads_started(ThreadKind::kIoWq);
    IostackBackend ib;
    Ring r(&ib);
    if (r.init(8) < 0) _exit(2);
    AlignedBuf buf(4096);
    prep(r.sqe(), IORING_OP_READ, f.fd, buf.p, 4096, 4096, 1);
    if (r.submit(1) != 1) _exit(3);
    auto c = r.wait(1);
    if (c.size() != 1 || c[0].res != 4096 || buf.p[0] != static_cast<char>('a' + 4096 % 23))
      _exit(4);
    if (threads_started(ThreadKind::kIoWq) == workers) _exit(5);
    _exit(threads_started(ThreadKind::kHostAio) == before ? 0 : 6);
  }
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
}

}  // namespace
}  // namespace uring_test
