// AIO on iostack block devices: iocbs go through the block layer (plugged
// per io_submit batch) to a ram device, with blkdev_direct_IO's rules.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "aio_backends.hpp"
#include "block/bdev_file.hpp"
#include "dev/device.hpp"

namespace iostack::aio::testing {
namespace {

class AioBdev : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    dev_ = dev::create_device("ram:4M", nullptr, &err);
    ASSERT_NE(dev_, nullptr) << err;
    fd_ = block::bdev_file_open(dev_->disk(), O_RDWR | O_DIRECT);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(iostack_io_setup(64, &ctx_), 0);
    ASSERT_EQ(::posix_memalign(&mem_, 4096, kBuf), 0);
  }
  void TearDown() override {
    if (ctx_ != 0) {
      EXPECT_EQ(iostack_io_destroy(ctx_), 0);
    }
    block::bdev_file_close(fd_);
    ::free(mem_);
  }
  long one(struct iocb cb, struct io_event* ev) {
    const long s = submit1(iostack_aio(), ctx_, &cb);
    if (s != 1) return 1000000 + s;
    EXPECT_EQ(reap1(iostack_aio(), ctx_, ev), 1);
    return static_cast<long>(ev->res);
  }
  char* buf() { return static_cast<char*>(mem_); }

  static constexpr std::size_t kBuf = 1 << 20;
  std::unique_ptr<dev::BlockDevice> dev_;
  int fd_ = -1;
  aio_context_t ctx_ = 0;
  void* mem_ = nullptr;
};

TEST_F(AioBdev, WriteBatchThenReadBack) {
  for (std::size_t i = 0; i < 64 * 1024; ++i) buf()[i] = static_cast<char>(i * 31 + 7);
  std::vector<struct iocb> cbs;
  for (int i = 0; i < 16; ++i) {
    cbs.push_back(make_iocb(fd_, IOCB_CMD_PWRITE, buf() + i * 4096, 4096, 8192 + i * 4096,
                            static_cast<std::uint64_t>(i)));
  }
  std::vector<struct iocb*> ptrs;
  for (auto& c : cbs) ptrs.push_back(&c);
  ASSERT_EQ(iostack_io_submit(ctx_, 16, ptrs.data()), 16);
  struct io_event ev[16];
  struct timespec ts = {2, 0};
  ASSERT_EQ(iostack_io_getevents(ctx_, 16, 16, ev, &ts), 16);
  for (const auto& e : ev) EXPECT_EQ(e.res, 4096);
  // One plug around the batch: contiguous writes merged on the way down.
  const auto st = dev_->disk()->stats();
  EXPECT_EQ(st.write.sectors, 16u * 8);
  EXPECT_GT(st.write.merges, 0u);

  char* in = buf() + 512 * 1024;
  std::memset(in, 0, 65536);
  struct iovec iov[2] = {{in, 16384}, {in + 16384, 49152}};
  struct io_event e;
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREADV, iov, 2, 8192), &e), 65536);
  EXPECT_EQ(std::memcmp(in, buf(), 65536), 0);
}

TEST_F(AioBdev, DirectIoRulesAndLimits) {
  struct io_event e;
  const std::int64_t size = 4 << 20;
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf() + 1, 4096, 0), &e), -EINVAL);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 100, 0), &e), -EINVAL);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 4096, 100), &e), -EINVAL);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 4096, size), &e), 0);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 8192, size - 4096), &e), 4096);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PWRITE, buf(), 4096, size), &e), -ENOSPC);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_FSYNC), &e), 0);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_FDSYNC), &e), 0);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 4096, 0, 0), &e), 4096);
  auto cb = make_iocb(fd_, IOCB_CMD_PWRITE, buf(), 4096, 0);
  cb.aio_rw_flags = 0x40;  // RWF_ATOMIC: not offered by iostack devices
  EXPECT_EQ(one(cb, &e), 1000000 - EOPNOTSUPP);
  cb.aio_rw_flags = 0x02;  // RWF_DSYNC -> FUA
  EXPECT_EQ(one(cb, &e), 4096);
  // Block devices have no ->poll: the default mask, at once.
  auto pl = make_iocb(fd_, IOCB_CMD_POLL);
  pl.aio_buf = POLLIN | POLLOUT;
  EXPECT_EQ(one(pl, &e), POLLIN | POLLOUT);
  pl.aio_buf = POLLPRI;
  EXPECT_EQ(one(pl, &e), 1000000 - EINVAL);
}

TEST_F(AioBdev, AccessModeOfTheDeviceFile) {
  const int ro = block::bdev_file_open(dev_->disk(), O_RDONLY | O_DIRECT);
  ASSERT_GE(ro, 0);
  struct io_event e;
  EXPECT_EQ(one(make_iocb(ro, IOCB_CMD_PWRITE, buf(), 4096, 0), &e), 1000000 - EBADF);
  EXPECT_EQ(one(make_iocb(ro, IOCB_CMD_PREAD, buf(), 4096, 0), &e), 4096);
  block::bdev_file_close(ro);
}

// A descriptor attached to a window of the disk (as a partition, or a file
// of a mapped directory): offset 0 is the window's start, and its end is
// the end of the device for reads and writes.
TEST_F(AioBdev, AttachedWindowIsAPartition) {
  const int w = ::memfd_create("window", MFD_CLOEXEC);
  ASSERT_GE(w, 0);
  ASSERT_EQ(block::bdev_file_attach(w, dev_->disk(), O_RDWR | O_DIRECT, 65536, 16384), 0);
  EXPECT_EQ(block::bdev_file_attach(w, dev_->disk(), O_RDWR, 100, 16384), -EINVAL);
  struct io_event e;
  std::memset(buf(), 'w', 4096);
  EXPECT_EQ(one(make_iocb(w, IOCB_CMD_PWRITE, buf(), 4096, 0), &e), 4096);
  std::memset(buf(), 0, 4096);
  EXPECT_EQ(one(make_iocb(fd_, IOCB_CMD_PREAD, buf(), 4096, 65536), &e), 4096);
  EXPECT_EQ(buf()[0], 'w');
  EXPECT_EQ(buf()[4095], 'w');
  EXPECT_EQ(one(make_iocb(w, IOCB_CMD_PWRITE, buf(), 4096, 16384), &e), -ENOSPC);
  EXPECT_EQ(one(make_iocb(w, IOCB_CMD_PREAD, buf(), 8192, 12288), &e), 4096);
  EXPECT_EQ(one(make_iocb(w, IOCB_CMD_PREAD, buf(), 4096, 16384), &e), 0);
  block::bdev_file_close(w);
}

// A device file that holds a regular file's data (block::BdevInode, as
// `iostack exec --map` attaches them): reads stop at the file's size, a
// write past it extends it where it completes, and fsync is the file's.
struct FakeInode {
  std::atomic<std::uint64_t> size{6000};
  std::atomic<int> begins{0}, fsyncs{0};
  block::BdevInode ops{};
  FakeInode() {
    ops.priv = this;
    ops.begin_direct = [](void* p, bool, std::uint64_t, std::uint64_t) {
      auto* f = static_cast<FakeInode*>(p);
      f->begins.fetch_add(1);
      return static_cast<std::int64_t>(f->size.load());
    };
    ops.extend = [](void* p, std::uint64_t end) {
      auto* f = static_cast<FakeInode*>(p);
      std::uint64_t cur = f->size.load();
      while (cur < end && !f->size.compare_exchange_weak(cur, end)) {
      }
    };
    ops.fsync = [](void* p) {
      static_cast<FakeInode*>(p)->fsyncs.fetch_add(1);
      return 0;
    };
  }
};

TEST_F(AioBdev, AFilesDataFollowsItsSize) {
  FakeInode ino;
  const int fd = ::memfd_create("file", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(block::bdev_file_attach(fd, dev_->disk(), O_RDWR | O_DIRECT, 0, 0, &ino.ops), 0);
  struct io_event ev;
  // 6000 bytes: a read of 8192 at 0 gets them, at 4096 the last 1904.
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PREAD, buf(), 8192, 0), &ev), 6000);
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PREAD, buf(), 4096, 4096), &ev), 1904);
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PREAD, buf(), 4096, 8192), &ev), 0);
  // A write past the end extends the file to where it ends.
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PWRITE, buf(), 4096, 16384), &ev), 4096);
  EXPECT_EQ(ino.size.load(), 20480u);
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PWRITE, buf(), 512, 0), &ev), 512);
  EXPECT_EQ(ino.size.load(), 20480u);
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_PREAD, buf(), 8192, 16384), &ev), 4096);
  EXPECT_EQ(one(make_iocb(fd, IOCB_CMD_FSYNC), &ev), 0);
  EXPECT_EQ(ino.fsyncs.load(), 1);
  EXPECT_GE(ino.begins.load(), 5);
  block::bdev_file_close(fd);
}

}  // namespace
}  // namespace iostack::aio::testing
