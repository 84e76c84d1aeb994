// Wild data buffers for block devices: direct I/O pins the user pages at
// submission (bio_iov_iter_get_pages), so a buffer that is unmapped, or
// read-only for a read, fails with -EFAULT or is cut short at the first bad
// page, and an I/O of more than 256 pages fails with -EIO. The same reads
// and writes go through AIO and io_uring to a kernel loop device and to an
// iostack ram device of the same size; the results must match.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../common/wild_memory.hpp"
#include "../uring/ring_harness.hpp"
#include "aio_backends.hpp"
#include "block/bdev_file.hpp"
#include "dev/device.hpp"

namespace iostack::aio::testing {
namespace {

using iostack::test::WildMemory;
using Outcome = std::vector<long>;

constexpr std::size_t kDevSize = 64u << 20;
constexpr std::size_t kBig = (2u << 20) + 4096;  // 513 pages: more than one bio

std::string sh(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof(buf), p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A kernel loop device over a sparse file, opened O_DIRECT.
class KernelLoop {
 public:
  bool attach(std::string* why) {
    if (geteuid() != 0) return *why = "loop devices need root", false;
    file_ = "/var/tmp/iostack-uaccess-loop-" + std::to_string(getpid());
    const int f = ::open(file_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (f < 0 || ftruncate(f, kDevSize) != 0) return *why = "no backing file", false;
    ::close(f);
    dev_ = sh("losetup --find --show " + file_ + " 2>/dev/null");
    if (dev_.rfind("/dev/loop", 0) != 0) return *why = "losetup could not attach a device", false;
    fd_ = ::open(dev_.c_str(), O_RDWR | O_DIRECT);
    if (fd_ < 0) return *why = "cannot open " + dev_, false;
    return true;
  }
  ~KernelLoop() {
    if (fd_ >= 0) ::close(fd_);
    if (!dev_.empty()) sh("losetup -d " + dev_);
    if (!file_.empty()) unlink(file_.c_str());
  }
  int fd() const { return fd_; }

 private:
  std::string file_;
  std::string dev_;
  int fd_ = -1;
};

// The cases: (write?, buffer, length, offset) through one I/O function.
using Io = std::function<long(bool write, void* buf, std::size_t len, std::uint64_t off)>;
using VecIo = std::function<long(const struct iovec* iov, int nr)>;

Outcome run_cases(const WildMemory& m, char* big, const Io& io, const VecIo& readv) {
  Outcome o;
  char* good = m.good();
  o.push_back(io(false, good, 4096, 0));                 // fine
  o.push_back(io(false, m.before_gone(4096), 8192, 0));  // good page, then unmapped: short
  o.push_back(io(false, m.before_none(512), 1024, 0));   // one block before PROT_NONE
  o.push_back(io(false, m.gone(), 4096, 0));
  o.push_back(io(false, m.none(), 4096, 0));
  o.push_back(io(false, m.ro(), 4096, 0));            // the device would write it
  o.push_back(io(false, m.ro() - 4096, 8192, 4096));  // writable page, then read-only
  o.push_back(io(true, m.ro(), 4096, 8192));          // the device only reads it
  o.push_back(io(true, m.gone(), 4096, 8192));
  o.push_back(io(true, m.before_none(1024), 2048, 8192));
  // Lengths and the position are checked first, memory alignment only for
  // pages that could be pinned.
  o.push_back(io(false, m.gone(), 100, 0));
  o.push_back(io(false, m.gone(), 4096, 100));
  o.push_back(io(false, m.gone() + 100, 4096, 0));
  o.push_back(io(true, m.page(2) + 100, 4096, 8192));  // pages 2 and 3 both readable
  o.push_back(io(false, m.gone(), 4096, kDevSize));    // at the end: nothing read
  o.push_back(io(true, m.gone(), 4096, kDevSize));     // -ENOSPC first
  // More than 256 pages: one bad page anywhere is -EIO.
  o.push_back(io(false, big, kBig, 0));
  o.push_back(io(false, big, kBig - 4096, 0));  // all good
  const struct iovec two[2] = {{good, 4096}, {m.gone(), 4096}};
  o.push_back(readv(two, 2));
  const struct iovec bad_first[2] = {{m.gone(), 4096}, {good, 4096}};
  o.push_back(readv(bad_first, 2));
  return o;
}

class BdevUaccessDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mem_.ok()) GTEST_SKIP() << "the fixed test address is in use";
    std::string why;
    if (!loop_.attach(&why)) GTEST_SKIP() << why;
    std::string err;
    dev_ = dev::create_device("ram:64M", nullptr, &err);
    ASSERT_NE(dev_, nullptr) << err;
    bdev_fd_ = block::bdev_file_open(dev_->disk(), O_RDWR | O_DIRECT);
    ASSERT_GE(bdev_fd_, 0);
    big_ = static_cast<char*>(
        mmap(nullptr, kBig, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(big_, MAP_FAILED);
    mprotect(big_ + kBig - 4096, 4096, PROT_NONE);
  }
  void TearDown() override {
    if (bdev_fd_ >= 0) block::bdev_file_close(bdev_fd_);
    if (big_ && big_ != MAP_FAILED) munmap(big_, kBig);
  }

  Outcome with_aio(const AioBackend& b, int fd) {
    aio_context_t ctx = 0;
    EXPECT_EQ(b.setup(8, &ctx), 0);
    auto one = [&](struct iocb cb) -> long {
      const long s = submit1(b, ctx, &cb);
      if (s != 1) return 1000 + s;
      struct io_event ev {};
      EXPECT_EQ(reap1(b, ctx, &ev), 1);
      return static_cast<long>(ev.res);
    };
    Outcome o = run_cases(
        mem_, big_,
        [&](bool w, void* buf, std::size_t len, std::uint64_t off) {
          return one(make_iocb(fd, w ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD, buf, len,
                               static_cast<std::int64_t>(off)));
        },
        [&](const struct iovec* iov, int nr) {
          return one(make_iocb(fd, IOCB_CMD_PREADV, const_cast<struct iovec*>(iov),
                               static_cast<std::uint64_t>(nr)));
        });
    b.destroy(ctx);
    return o;
  }

  Outcome with_uring(uring_test::Backend* b, int fd) {
    uring_test::Ring r(b);
    EXPECT_GE(r.init(8), 0);
    auto one = [&](std::uint8_t op, const void* addr, unsigned len, std::uint64_t off) -> long {
      uring_test::prep(r.sqe(), op, fd, addr, len, off, 1);
      if (r.submit(0) != 1) return 1000;
      auto c = r.wait(1);
      return c.size() == 1 ? c[0].res : 2000;
    };
    return run_cases(
        mem_, big_,
        [&](bool w, void* buf, std::size_t len, std::uint64_t off) {
          return one(w ? IORING_OP_WRITE : IORING_OP_READ, buf, static_cast<unsigned>(len), off);
        },
        [&](const struct iovec* iov, int nr) {
          return one(IORING_OP_READV, iov, static_cast<unsigned>(nr), 0);
        });
  }

  WildMemory mem_;
  KernelLoop loop_;
  std::unique_ptr<dev::BlockDevice> dev_;
  int bdev_fd_ = -1;
  char* big_ = nullptr;
};

TEST_F(BdevUaccessDiff, Aio) {
  const Outcome k = with_aio(kernel_aio(), loop_.fd());
  const Outcome s = with_aio(iostack_aio(), bdev_fd_);
  EXPECT_EQ(k, s) << "kernel loop device vs iostack ram device";
}

TEST_F(BdevUaccessDiff, Uring) {
  SKIP_WITHOUT_KERNEL_URING();
  uring_test::KernelBackend kb;
  uring_test::IostackBackend ib;
  const Outcome k = with_uring(&kb, loop_.fd());
  const Outcome s = with_uring(&ib, bdev_fd_);
  EXPECT_EQ(k, s) << "kernel loop device vs iostack ram device";
}

}  // namespace
}  // namespace iostack::aio::testing
