// The loop driver over real files in /var/tmp (not tmpfs, so that O_DIRECT
// and punch hole behave as on a disk): data lands in the file where the
// device says, reads, flushes, discards and errors follow drivers/block/loop.c.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "block/blk_mq.hpp"
#include "core/virtual_clock.hpp"
#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_DISCARD;
using block::REQ_OP_FLUSH;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using block::REQ_OP_WRITE_ZEROES;
using test::io;

// A scratch file in /var/tmp, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(std::uint64_t size = 0, unsigned char fill = 0) {
    char name[] = "/var/tmp/iostack-loop-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    path_ = name;
    if (size && fill) {
      std::vector<unsigned char> buf(size, fill);
      EXPECT_EQ(::pwrite(fd, buf.data(), size, 0), static_cast<ssize_t>(size));
    } else if (size) {
      EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  std::vector<unsigned char> read(std::uint64_t off, std::size_t len) const {
    std::vector<unsigned char> buf(len);
    const int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::pread(fd, buf.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    ::close(fd);
    return buf;
  }
  struct stat stat() const {
    struct stat st {};
    EXPECT_EQ(::stat(path_.c_str(), &st), 0);
    return st;
  }

 private:
  std::string path_;
};

std::unique_ptr<BlockDevice> make(const std::string& spec, core::Clock* clock = nullptr) {
  std::string err;
  auto dev = create_device(spec, clock, &err);
  EXPECT_TRUE(dev) << spec << ": " << err;
  return dev;
}

std::string elevator_name(const BlockDevice& d) {
  const block::Elevator* e = d.queue()->elevator();
  return e ? e->name() : "none";
}

// Memory deliberately misaligned for O_DIRECT: one byte past an aligned block.
struct Misaligned {
  explicit Misaligned(std::size_t n)
      : raw(static_cast<unsigned char*>(std::aligned_alloc(4096, n + 4096))) {}
  ~Misaligned() { std::free(raw); }
  unsigned char* data() const { return raw + 1; }
  unsigned char* raw;
};

// --- specs ---

TEST(LoopSpec, PathAndOptions) {
  DeviceSpec s;
  std::string err;
  ASSERT_TRUE(parse_device_spec(
      "loop:/var/tmp/a:b.img,size=64M,dio=1,bs=4096,offset=1M,read_only=1,workers=3,"
      "queue_depth=32,hw_queues=2,max_sectors=256",
      &s, &err))
      << err;
  EXPECT_EQ(s.kind, DeviceKind::kLoop);
  EXPECT_EQ(s.loop.path, "/var/tmp/a:b.img");
  EXPECT_EQ(s.loop.size_bytes, 64ull << 20);
  EXPECT_TRUE(s.loop.dio);
  EXPECT_EQ(s.loop.block_size, 4096u);
  EXPECT_EQ(s.loop.offset, 1ull << 20);
  EXPECT_TRUE(s.loop.read_only);
  EXPECT_EQ(s.loop.workers, 3u);
  EXPECT_EQ(s.loop.queue_depth, 32u);
  EXPECT_EQ(s.loop.hw_queues, 2u);
  EXPECT_EQ(s.loop.max_sectors, 256u);
  ASSERT_TRUE(parse_device_spec("loop:rel/file", &s, &err)) << err;
  EXPECT_EQ(s.loop.path, "rel/file");
  EXPECT_EQ(s.loop.size_bytes, 0u);
  EXPECT_EQ(s.loop.queue_depth, 128u);  // LOOP_DEFAULT_HW_Q_DEPTH
  EXPECT_FALSE(s.loop.dio);
}

struct Bad {
  const char* text;
  const char* must_mention;
};

class LoopSpecBad : public ::testing::TestWithParam<Bad> {};

TEST_P(LoopSpecBad, OneClearError) {
  DeviceSpec s;
  std::string err;
  EXPECT_FALSE(parse_device_spec(GetParam().text, &s, &err));
  EXPECT_NE(err.find(GetParam().must_mention), std::string::npos) << err;
  EXPECT_NE(err.find(std::string("\"") + GetParam().text + "\""), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    LoopInputs, LoopSpecBad,
    ::testing::Values(Bad{"loop", "expected loop:PATH"}, Bad{"loop,size=1M", "expected loop:PATH"},
                      Bad{"loop:", "nothing after"},
                      Bad{"loop:,size=1M", "missing the backing file"},
                      Bad{"loop:/f,", "trailing comma"}, Bad{"loop:/f,1G", "expected option=value"},
                      Bad{"loop:/f,foo=1", "unknown option \"foo\" for a loop"},
                      Bad{"loop:/f,irqmode=none", "unknown option \"irqmode\""},
                      Bad{"loop:/f,bs=1000", "bs: expected a power of two"},
                      Bad{"loop:/f,bs=131072", "bs: expected a power of two"},
                      Bad{"loop:/f,size=1000", "size: expected a multiple of 512"},
                      Bad{"loop:/f,size=lots", "size: expected a size"},
                      Bad{"loop:/f,offset=-1", "offset: expected a size"},
                      Bad{"loop:/f,offset=8191P", "offset: expected a size"},
                      Bad{"loop:/f,offset=9223372036854775808", "offset: 9223372036854775808"},
                      Bad{"loop:/f,size=8T,offset=9223372036854775000", "size: offset + size"},
                      Bad{"loop:/f,dio=maybe", "dio: expected a boolean"},
                      Bad{"loop:/f,workers=x", "workers: expected an unsigned number"},
                      Bad{"loop:/f,workers=5000", "workers: expected 0"},
                      Bad{"loop:/f,queue_depth=0", "queue_depth: expected 1 to 10240"},
                      Bad{"loop:/f,hw_queues=0", "hw_queues: expected 1 to 1024"}));

// --- set-up errors: one line, nothing changed ---

TEST(LoopDevice, SetupErrorsAreOneLineAndLeaveTheFileAlone) {
  TempFile small(4096, 7);
  TempFile empty;
  struct Case {
    std::string spec;
    const char* must_mention;
  };
  const std::vector<Case> cases = {
      {"loop:/var/tmp/iostack-no-such-file", "No such file or directory"},
      {"loop:/var/tmp", "cannot open /var/tmp"},
      {"loop:" + empty.path(), "less than one 512-byte block (size= grows the file)"},
      {"loop:" + small.path() + ",offset=8192", "0 bytes after offset 8192"},
      {"loop:" + small.path() + ",bs=8192", "less than one 8192-byte block"},
      {"loop:" + small.path() + ",read_only=1,size=1M", "ends beyond its 4096 bytes"},
      {"loop:" + small.path() + ",size=64T", "cannot grow"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_EQ(create_device(c.spec, nullptr, &err), nullptr) << c.spec;
    EXPECT_NE(err.find(c.must_mention), std::string::npos) << c.spec << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  EXPECT_EQ(small.stat().st_size, 4096);
  EXPECT_EQ(small.read(0, 4096), std::vector<unsigned char>(4096, 7));
  EXPECT_EQ(empty.stat().st_size, 0);
}

// --- what loop sets up ---

TEST(LoopDevice, NameNumberLimitsAndElevatorFollowLoop) {
  TempFile f(1 << 20);
  auto dev = make("loop:" + f.path());
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->name().rfind("loop", 0), 0u) << dev->name();
  EXPECT_EQ(dev->name(), "loop" + std::to_string(dev->disk()->minor()));
  EXPECT_EQ(dev->disk()->major(), kLoopMajor);
  EXPECT_EQ(dev->loop(), dev->driver());
  EXPECT_EQ(dev->ram(), nullptr);
  EXPECT_EQ(dev->disk()->capacity(), (1u << 20) / 512);
  EXPECT_FALSE(dev->disk()->read_only());
  EXPECT_EQ(elevator_name(*dev), "none");  // BLK_MQ_F_NO_SCHED_BY_DEFAULT
  EXPECT_EQ(dev->queue()->queue_depth(), 128u);
  EXPECT_EQ(dev->loop()->nr_workers(), 1u);
  const block::QueueLimits& lim = dev->queue()->limits();
  EXPECT_EQ(lim.logical_block_size, 512u);
  EXPECT_EQ(lim.physical_block_size, 512u);
  EXPECT_EQ(lim.max_hw_sectors, 2560u);
  EXPECT_EQ(lim.max_sectors, 2560u);
  EXPECT_TRUE(lim.write_cache);
  EXPECT_FALSE(lim.fua);
  EXPECT_EQ(lim.max_discard_sectors, UINT_MAX >> 9);  // ext4 punches holes
  EXPECT_EQ(lim.max_write_zeroes_sectors, UINT_MAX >> 9);
  EXPECT_EQ(lim.discard_granularity, 4096u);  // the file system block
  // Rotational like the device under /var/tmp.
  const struct stat st = f.stat();
  const std::string sys = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                          std::to_string(minor(st.st_dev)) + "/queue/rotational";
  if (FILE* fp = std::fopen(sys.c_str(), "r")) {
    int rot = 0;
    EXPECT_EQ(std::fscanf(fp, "%d", &rot), 1);
    std::fclose(fp);
    EXPECT_EQ(lim.rotational, rot == 1);
  }
  auto other = make("loop:" + f.path() + ",hw_queues=2,workers=3,bs=4096,read_only=1");
  ASSERT_TRUE(other);
  EXPECT_NE(other->name(), dev->name());
  EXPECT_EQ(other->loop()->nr_workers(), 3u);
  EXPECT_EQ(other->queue()->limits().logical_block_size, 4096u);
  EXPECT_EQ(elevator_name(*other), "none");
}

TEST(LoopDevice, SizeGrowsTheFileSparseAndUnwrittenSpaceReadsZeros) {
  TempFile f;
  auto dev = make("loop:" + f.path() + ",size=64M");
  ASSERT_TRUE(dev);
  EXPECT_EQ(f.stat().st_size, 64 << 20);
  EXPECT_LT(f.stat().st_blocks, 64);  // sparse
  EXPECT_EQ(dev->disk()->capacity(), (64u << 20) / 512);
  std::vector<unsigned char> buf(256 * 1024, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 1000, buf.data(), buf.size()), 0);
  EXPECT_EQ(buf, std::vector<unsigned char>(buf.size(), 0));
}

TEST(LoopDevice, SizeSmallerThanTheFileIsALimitAndRoundsToTheBlock) {
  TempFile f((1 << 20) + 1000, 3);
  auto dev = make("loop:" + f.path() + ",bs=4096");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->disk()->capacity(), (1u << 20) / 512);  // rounded down to 4 KiB
  auto lim = make("loop:" + f.path() + ",size=64K,offset=4096");
  ASSERT_TRUE(lim);
  EXPECT_EQ(lim->disk()->capacity(), 128u);
  EXPECT_EQ(f.stat().st_size, (1 << 20) + 1000);
}

// --- data path ---

TEST(LoopDevice, WritesLandInTheFileAtTheRightOffsetAndReadBack) {
  TempFile f(1 << 20, 0x5A);
  auto dev = make("loop:" + f.path() + ",offset=64K,size=512K");
  ASSERT_TRUE(dev);
  std::mt19937 rng(3);
  auto data = test::random_bytes(rng, 40 * 512);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 10, data.data(), data.size(), nullptr, &rng), 0);
  EXPECT_EQ(f.read(65536 + 10 * 512, data.size()), data);
  // Around it the file is untouched, including before the offset.
  EXPECT_EQ(f.read(65536, 10 * 512), std::vector<unsigned char>(10 * 512, 0x5A));
  EXPECT_EQ(f.read(0, 65536), std::vector<unsigned char>(65536, 0x5A));
  EXPECT_EQ(f.read(65536 + 50 * 512, 4096), std::vector<unsigned char>(4096, 0x5A));
  std::vector<unsigned char> out(data.size() + 1024);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 9, out.data(), out.size(), nullptr, &rng), 0);
  EXPECT_EQ(std::vector<unsigned char>(out.begin(), out.begin() + 512),
            std::vector<unsigned char>(512, 0x5A));
  EXPECT_EQ(std::memcmp(out.data() + 512, data.data(), data.size()), 0);
  // The last sector of the device is usable; one past it is not.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 1023, data.data(), 512), 0);
  EXPECT_EQ(f.read(65536 + 1023 * 512, 512),
            std::vector<unsigned char>(data.begin(), data.begin() + 512));
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 1024, data.data(), 512), -EIO);
}

// Random writes, reads, discards and write-zeroes of random sizes at random
// offsets, through none and mq-deadline, buffered and direct; checked against
// a shadow copy and, at the end, against the file itself.
class LoopRandom : public ::testing::TestWithParam<std::tuple<const char*, bool>> {};

TEST_P(LoopRandom, ReadsBackWhatWasWrittenAndTheFileAgrees) {
  const auto [sched, dio] = GetParam();
  const std::size_t size = 4 << 20;
  TempFile f(size);
  auto dev = make("loop:" + f.path() + (dio ? ",dio=1" : ""));
  ASSERT_TRUE(dev);
  if (dio && !dev->loop()->use_dio()) {
    GTEST_SKIP() << "no O_DIRECT here: " << dev->loop()->dio_fallback_reason();
  }
  ASSERT_EQ(dev->queue()->set_elevator(sched), 0) << sched;
  std::vector<unsigned char> shadow(size, 0);
  std::mt19937 rng(42);
  for (int iter = 0; iter < 150; ++iter) {
    const std::uint32_t sectors = 1 + rng() % 3000;  // often larger than max_sectors
    const block::sector_t sector = rng() % (size / 512 - sectors);
    const std::size_t off = sector * 512, len = sectors * 512;
    const unsigned what = rng() % 12;
    if (what < 6) {
      auto data = test::random_bytes(rng, len);
      ASSERT_EQ(io(*dev, REQ_OP_WRITE, sector, data.data(), len, nullptr, &rng), 0);
      std::memcpy(&shadow[off], data.data(), len);
    } else if (what < 9) {
      std::vector<unsigned char> out(len, 0xAA);
      ASSERT_EQ(io(*dev, REQ_OP_READ, sector, out.data(), len, nullptr, &rng), 0);
      ASSERT_EQ(std::memcmp(out.data(), &shadow[off], len), 0) << "iter " << iter;
    } else if (what < 10) {
      ASSERT_EQ(io(*dev, REQ_OP_DISCARD, sector, nullptr, len), 0);
      std::memset(&shadow[off], 0, len);
    } else if (what < 11) {
      const std::uint32_t op = REQ_OP_WRITE_ZEROES | (rng() % 2 ? block::REQ_NOUNMAP : 0u);
      ASSERT_EQ(io(*dev, op, sector, nullptr, len), 0);
      std::memset(&shadow[off], 0, len);
    } else {
      ASSERT_EQ(io(*dev, REQ_OP_FLUSH, 0, nullptr, 0), 0);
    }
  }
  EXPECT_EQ(f.read(0, size), shadow);
}

INSTANTIATE_TEST_SUITE_P(LoopModes, LoopRandom,
                         ::testing::Combine(::testing::Values("none", "mq-deadline"),
                                            ::testing::Bool()));

TEST(LoopDevice, DirectIoWithUnalignedMemoryGoesThroughTheBounceBuffer) {
  TempFile f(8 << 20);
  auto dev = make("loop:" + f.path() + ",dio=1");
  ASSERT_TRUE(dev);
  LoopDriver* lo = dev->loop();
  if (!lo->use_dio()) GTEST_SKIP() << "no O_DIRECT here: " << lo->dio_fallback_reason();
  EXPECT_EQ(lo->block_size(), std::max<std::uint32_t>(512, lo->dio_offset_align()));
  ASSERT_GT(lo->dio_mem_align(), 1u);
  std::mt19937 rng(9);
  // Larger than max_sectors: several requests, each bounced.
  const std::size_t len = 3 << 20;
  auto data = test::random_bytes(rng, len);
  Misaligned in(len), out(len);
  std::memcpy(in.data(), data.data(), len);
  const std::uint64_t before = lo->bounced();
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 2048, in.data(), len, nullptr, &rng), 0);
  EXPECT_GT(lo->bounced(), before);
  EXPECT_EQ(f.read(2048 * 512, len), data);
  std::memset(out.data(), 0xAA, len);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 2048, out.data(), len, nullptr, &rng), 0);
  EXPECT_EQ(std::memcmp(out.data(), data.data(), len), 0);
  // Aligned memory in whole blocks goes straight to the file.
  const std::uint64_t mid = lo->bounced();
  auto* aligned = static_cast<unsigned char*>(std::aligned_alloc(4096, 64 * 1024));
  std::memcpy(aligned, data.data(), 64 * 1024);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, aligned, 64 * 1024), 0);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, aligned, 64 * 1024), 0);
  EXPECT_EQ(lo->bounced(), mid);
  EXPECT_EQ(std::memcmp(aligned, data.data(), 64 * 1024), 0);
  std::free(aligned);
}

TEST(LoopDevice, DirectIoFallsBackToBufferedWhenNotAlignedAndSaysWhy) {
  TempFile f(1 << 20);
  auto dev = make("loop:" + f.path() + ",dio=1,offset=512");
  ASSERT_TRUE(dev);
  LoopDriver* lo = dev->loop();
  if (lo->dio_offset_align() <= 512) {
    // Offset 512 is aligned here; a bs below the alignment cannot be made.
    EXPECT_TRUE(lo->use_dio() || !lo->dio_fallback_reason().empty());
  } else {
    EXPECT_FALSE(lo->use_dio());
    EXPECT_NE(lo->dio_fallback_reason().find("offset 512"), std::string::npos)
        << lo->dio_fallback_reason();
  }
  auto odd = make("loop:" + f.path() + ",dio=1,offset=100");
  ASSERT_TRUE(odd);
  EXPECT_FALSE(odd->loop()->use_dio());
  EXPECT_FALSE(odd->loop()->dio_fallback_reason().empty());
  // Buffered I/O at an odd offset still works.
  std::vector<unsigned char> data(4096, 0x11), out(4096);
  ASSERT_EQ(io(*odd, REQ_OP_WRITE, 1, data.data(), data.size()), 0);
  EXPECT_EQ(f.read(100 + 512, 4096), data);
  ASSERT_EQ(io(*odd, REQ_OP_READ, 1, out.data(), out.size()), 0);
  EXPECT_EQ(out, data);
  auto plain = make("loop:" + f.path());
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->loop()->use_dio());
  EXPECT_TRUE(plain->loop()->dio_fallback_reason().empty());
}

TEST(LoopDevice, FlushAndFuaReachTheFileAsFsync) {
  TempFile f(1 << 20);
  auto dev = make("loop:" + f.path());
  ASSERT_TRUE(dev);
  LoopDriver* lo = dev->loop();
  EXPECT_EQ(lo->flushes(), 0u);
  ASSERT_EQ(io(*dev, REQ_OP_FLUSH, 0, nullptr, 0), 0);
  EXPECT_EQ(lo->flushes(), 1u);
  // No FUA support: a FUA write is the write then a post-flush.
  std::vector<unsigned char> data(4096, 0x22);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE | block::REQ_FUA, 8, data.data(), data.size()), 0);
  EXPECT_EQ(lo->flushes(), 2u);
  EXPECT_EQ(f.read(8 * 512, 4096), data);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE | block::REQ_PREFLUSH, 16, data.data(), data.size()), 0);
  EXPECT_EQ(lo->flushes(), 3u);
}

TEST(LoopDevice, DiscardPunchesHolesAndWriteZeroesFollowsNounmap) {
  TempFile f(4 << 20);
  auto dev = make("loop:" + f.path());
  ASSERT_TRUE(dev);
  ASSERT_TRUE(dev->loop()->discard_supported());
  std::vector<unsigned char> ones(2 << 20, 1);
  ASSERT_EQ(io(*dev, REQ_OP_WRITE, 0, ones.data(), ones.size()), 0);
  ASSERT_EQ(io(*dev, REQ_OP_FLUSH, 0, nullptr, 0), 0);
  const auto full = f.stat().st_blocks;
  ASSERT_GE(full, (2 << 20) / 512);
  // Discard the first MiB: its blocks go away and it reads back as zeros.
  ASSERT_EQ(io(*dev, REQ_OP_DISCARD, 0, nullptr, 1 << 20), 0);
  const auto punched = f.stat().st_blocks;
  EXPECT_LE(punched, full - (1 << 20) / 512);
  EXPECT_EQ(f.read(0, 1 << 20), std::vector<unsigned char>(1 << 20, 0));
  EXPECT_EQ(f.stat().st_size, 4 << 20);  // KEEP_SIZE
  // Write zeroes with NOUNMAP keeps the space allocated; without, punches.
  ASSERT_EQ(io(*dev, REQ_OP_WRITE_ZEROES | block::REQ_NOUNMAP, 2048, nullptr, 512 * 1024), 0);
  EXPECT_GE(f.stat().st_blocks, punched - 8);
  EXPECT_EQ(f.read(1 << 20, 512 * 1024), std::vector<unsigned char>(512 * 1024, 0));
  ASSERT_EQ(io(*dev, REQ_OP_WRITE_ZEROES, 3072, nullptr, 512 * 1024), 0);
  EXPECT_LE(f.stat().st_blocks, punched - (512 * 1024) / 512);
  EXPECT_EQ(f.read((1 << 20) + 512 * 1024, 512 * 1024), std::vector<unsigned char>(512 * 1024, 0));
  std::vector<unsigned char> out(2 << 20, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, out.data(), out.size()), 0);
  EXPECT_EQ(out, std::vector<unsigned char>(2 << 20, 0));
}

// The file shrinks under the device: what lies past its end reads as zeros.
TEST(LoopDevice, ReadsPastTheEndOfTheFileAreZeroFilled) {
  TempFile f(64 * 1024, 0x33);
  auto dev = make("loop:" + f.path());
  auto dio = make("loop:" + f.path() + ",dio=1");
  ASSERT_TRUE(dev && dio);
  ASSERT_EQ(::truncate(f.path().c_str(), 32 * 1024), 0);
  std::vector<unsigned char> out(16 * 1024, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 64, out.data(), out.size()), 0);
  EXPECT_EQ(out, std::vector<unsigned char>(out.size(), 0));
  // lo_read_simple zero-fills the whole request when any of it is short.
  std::vector<unsigned char> across(16 * 1024, 0xAA);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 48, across.data(), across.size()), 0);
  EXPECT_EQ(across, std::vector<unsigned char>(across.size(), 0));
  // Direct I/O (lo_rw_aio): what was read stays, the rest is zeroed and fails.
  if (!dio->loop()->use_dio()) GTEST_SKIP() << dio->loop()->dio_fallback_reason();
  auto* buf = static_cast<unsigned char*>(std::aligned_alloc(4096, 16 * 1024));
  std::memset(buf, 0xAA, 16 * 1024);
  EXPECT_EQ(io(*dio, REQ_OP_READ, 48, buf, 16 * 1024), -EIO);
  EXPECT_EQ(std::vector<unsigned char>(buf, buf + 8192), std::vector<unsigned char>(8192, 0x33));
  EXPECT_EQ(std::vector<unsigned char>(buf + 8192, buf + 16384),
            std::vector<unsigned char>(8192, 0));
  std::free(buf);
}

TEST(LoopDevice, ReadOnlyDiskReadsAndRefusesWrites) {
  TempFile f(1 << 20, 0x44);
  auto dev = make("loop:" + f.path() + ",read_only=1");
  ASSERT_TRUE(dev);
  EXPECT_TRUE(dev->disk()->read_only());
  EXPECT_TRUE(dev->loop()->read_only());
  EXPECT_FALSE(dev->queue()->limits().write_cache);
  std::vector<unsigned char> out(8192);
  ASSERT_EQ(io(*dev, REQ_OP_READ, 0, out.data(), out.size()), 0);
  EXPECT_EQ(out, std::vector<unsigned char>(8192, 0x44));
  // The block layer passes the write on (and counts it); loop fails it.
  std::vector<unsigned char> data(4096, 0x99);
  EXPECT_EQ(io(*dev, REQ_OP_WRITE, 0, data.data(), data.size()), -EIO);
  EXPECT_GE(dev->disk()->ro_write_warnings.load(), 1u);
  EXPECT_EQ(io(*dev, REQ_OP_DISCARD, 0, nullptr, 4096), -EIO);
  EXPECT_EQ(io(*dev, REQ_OP_FLUSH, 0, nullptr, 0), 0);
  EXPECT_EQ(f.read(0, 8192), std::vector<unsigned char>(8192, 0x44));
}

TEST(LoopDevice, WorkersEndRequestsOffTheSubmittingThread) {
  TempFile f(1 << 20);
  auto dev = make("loop:" + f.path());
  ASSERT_TRUE(dev);
  std::vector<unsigned char> buf(4096);
  test::IoResult r;
  test::submit(*dev, REQ_OP_READ, 0, buf.data(), buf.size(), &r);
  ASSERT_TRUE(test::wait(r));
  EXPECT_EQ(r.err.load(), 0);
  EXPECT_NE(r.thread, std::this_thread::get_id());
}

TEST(LoopDevice, VirtualClockDoesTheIoInline) {
  TempFile f(1 << 20);
  core::VirtualClock clock(0);
  auto dev = make("loop:" + f.path(), &clock);
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->loop()->nr_workers(), 0u);
  std::vector<unsigned char> data(8192, 0x77), out(8192);
  test::IoResult r;
  test::submit(*dev, REQ_OP_WRITE, 4, data.data(), data.size(), &r);
  EXPECT_TRUE(r.done.load());
  EXPECT_EQ(r.thread, std::this_thread::get_id());
  ASSERT_EQ(io(*dev, REQ_OP_READ, 4, out.data(), out.size(), &clock), 0);
  EXPECT_EQ(out, data);
  EXPECT_EQ(f.read(4 * 512, 8192), data);
}

// Two threads submit at once to their own halves; in flight together on two
// hardware queues and three workers. Meant to run under TSan too.
TEST(LoopDevice, ConcurrentSubmittersLandInTheirRegions) {
  constexpr std::size_t kHalf = 4 << 20;
  TempFile f(2 * kHalf);
  auto dev = make("loop:" + f.path() + ",hw_queues=2,workers=3");
  ASSERT_TRUE(dev);
  std::vector<std::vector<unsigned char>> written(2);
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(200 + t);
      const block::sector_t base = t * kHalf / 512;
      auto data = test::random_bytes(rng, kHalf);
      constexpr std::uint32_t kLen = 64 * 1024;
      std::vector<test::IoResult> res(kHalf / kLen);
      for (std::size_t i = 0; i < res.size(); ++i) {
        test::submit(*dev, REQ_OP_WRITE, base + i * kLen / 512, &data[i * kLen], kLen, &res[i],
                     &rng);
      }
      for (auto& r : res) {
        ASSERT_TRUE(test::wait(r));
        ASSERT_EQ(r.err.load(), 0);
      }
      std::vector<unsigned char> out(kHalf);
      for (std::size_t off = 0; off < kHalf; off += 256 * 1024) {
        ASSERT_EQ(io(*dev, REQ_OP_READ, base + off / 512, &out[off], 256 * 1024, nullptr, &rng), 0);
      }
      ASSERT_EQ(out, data);
      written[t] = std::move(data);
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(written[0].size(), kHalf);
  ASSERT_EQ(written[1].size(), kHalf);
  EXPECT_EQ(f.read(0, kHalf), written[0]);
  EXPECT_EQ(f.read(kHalf, kHalf), written[1]);
}

}  // namespace
}  // namespace iostack::dev
