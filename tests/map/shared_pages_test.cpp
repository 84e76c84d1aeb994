// MAP_SHARED mappings of a mapped file (MappedFile::share): the mapping is
// the page cache, stores through it become dirty pages found by write-back,
// msync's range write-back leaves the rest only in memory, and a power cut
// loses what nothing wrote back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "map/page_cache.hpp"

namespace iostack::map {
namespace {

struct Fixture {
  IoCounts counts;
  std::unique_ptr<MappedFile> file;
  dev::BlockDevice* dev = nullptr;

  explicit Fixture(const std::string& spec = "wcache:ram:1M") {
    std::string err;
    auto d = dev::create_device(spec, nullptr, &err);
    EXPECT_TRUE(d) << err;
    dev = d.get();
    file = std::make_unique<MappedFile>("/nowhere", std::move(d), "", 1 << 20, &counts);
    EXPECT_EQ(file->init(), 0);
  }

  long put(std::uint64_t at, const std::string& s) {
    struct iovec v {
      const_cast<char*>(s.data()), s.size()
    };
    return file->rw(true, false, &v, 1, at);
  }
  char get(std::uint64_t at) {
    char c = 0;
    struct iovec v {
      &c, 1
    };
    return file->rw(false, false, &v, 1, at) == 1 ? c : '-';
  }

  // share() of [0, len), mapped here read-write: the mapping, or null; the
  // memory file's descriptor in `mem`.
  char* map(std::size_t len, int* mem) {
    *mem = file->share(0, len);
    if (*mem < 0) return nullptr;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, *mem, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }

  // The power goes: the byte at `at` of what the device made durable.
  char durable_at_cut(std::uint64_t at) {
    std::string res;
    EXPECT_EQ(dev->message({"powercut"}, &res), 0);
    MappedFile below("/below", dev->lower(), 0, 1 << 20, 1 << 20, &counts);
    EXPECT_EQ(below.init(), 0);
    below.mount(1 << 20);
    char c = 0;
    struct iovec v {
      &c, 1
    };
    return below.rw(false, false, &v, 1, at) == 1 ? c : '-';
  }
};

TEST(SharedPages, MappingIsThePageCache) {
  Fixture t;
  ASSERT_EQ(t.put(0, std::string(10000, 'a')), 10000);
  int mem;
  char* p = t.map(12288, &mem);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p[0], 'a');
  EXPECT_EQ(p[9999], 'a');
  EXPECT_EQ(p[10000], 0);  // past the end: zeros
  p[5000] = 'X';
  EXPECT_EQ(t.get(5000), 'X');
  ASSERT_EQ(t.put(100, "Y"), 1);
  EXPECT_EQ(p[100], 'Y');
  // A second mapping of the same range shares the pages.
  EXPECT_EQ(t.file->share(4096, 4096), mem);
  auto* q = static_cast<char*>(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, mem, 4096));
  ASSERT_NE(q, MAP_FAILED);
  EXPECT_EQ(q[5000 - 4096], 'X');
  munmap(q, 4096);
  munmap(p, 12288);
}

TEST(SharedPages, StoresAreWrittenBackByFsyncAndLostWithoutIt) {
  Fixture t;
  ASSERT_EQ(t.put(0, std::string(8192, 'a')), 8192);
  ASSERT_EQ(t.file->fsync(), 0);
  int mem;
  char* p = t.map(8192, &mem);
  ASSERT_NE(p, nullptr);
  // A clean page goes nowhere; a stored-to one is written back.
  const std::uint64_t before = t.counts.writes;
  ASSERT_EQ(t.file->fsync(), 0);
  EXPECT_EQ(t.counts.writes, before);
  p[0] = 'M';
  p[4096] = 'N';
  // msync of the first page: only it goes down.
  ASSERT_EQ(t.file->fsync(0, 4096), 0);
  EXPECT_EQ(t.counts.writes, before + 1);
  munmap(p, 8192);  // writes nothing
  EXPECT_EQ(t.counts.writes, before + 1);
  EXPECT_EQ(t.durable_at_cut(0), 'M');
  EXPECT_EQ(t.durable_at_cut(4096), 'a');
}

// The memory file ends a page past the file's last byte, as a mapping of
// a file does (past it a load or store is SIGBUS), and follows truncate.
off_t mem_size(int mem) {
  struct stat st {};
  return fstat(mem, &st) == 0 ? st.st_size : -1;
}

TEST(SharedPages, TruncateMovesTheMappingsEnd) {
  Fixture t;
  ASSERT_EQ(t.put(0, std::string(5000, 'a')), 5000);
  int mem;
  char* p = t.map(16384, &mem);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mem_size(mem), 8192);
  EXPECT_EQ(p[5000], 0);  // the partial page: zeros past the end
  ASSERT_EQ(t.file->truncate(4096), 0);
  EXPECT_EQ(mem_size(mem), 4096);
  EXPECT_EQ(t.get(4096), '-');  // past the end
  // Grown over by ftruncate while mapped: zeros, and a store there is the file's.
  ASSERT_EQ(t.file->truncate(16384), 0);
  EXPECT_EQ(mem_size(mem), 16384);
  EXPECT_EQ(p[4999], 0);
  p[12288] = 'G';
  EXPECT_EQ(t.get(12288), 'G');
  ASSERT_EQ(t.file->fsync(), 0);
  EXPECT_EQ(t.durable_at_cut(12288), 'G');
  // A write past the end moves it too.
  EXPECT_EQ(t.put(20000, "w"), 1);
  EXPECT_EQ(mem_size(mem), 20480);
  munmap(p, 16384);
}

TEST(SharedPages, DirectWritesUpdateMappedPages) {
  Fixture t;
  ASSERT_EQ(t.put(0, std::string(4096, 'a')), 4096);
  const int mem = t.file->share(0, 4096);
  ASSERT_GE(mem, 0);
  auto* p = static_cast<char*>(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, mem, 0));
  ASSERT_NE(p, MAP_FAILED);
  void* buf = nullptr;
  ASSERT_EQ(posix_memalign(&buf, 4096, 4096), 0);
  std::memset(buf, 'd', 4096);
  struct iovec v {
    buf, 4096
  };
  EXPECT_EQ(t.file->rw(true, true, &v, 1, 0), 4096);
  EXPECT_EQ(p[0], 'd');
  EXPECT_EQ(t.get(4095), 'd');
  free(buf);
  munmap(p, 4096);
}

std::mutex files_mu;
void lock_files() { files_mu.lock(); }
void unlock_files() { files_mu.unlock(); }

// One request of the engines on `fd` (block::bdev_rw), waited for.
long engine_rw(int fd, bool write, void* buf, std::size_t len, std::uint64_t at,
               std::uint32_t rw_flags = 0) {
  struct Done {
    std::atomic<int> flag{0};
    long res = 0;
  } done;
  block::BdevIo io;
  io.reset(
      [](void* p, long res) {
        auto* d = static_cast<Done*>(p);
        d->res = res;
        d->flag.store(1, std::memory_order_release);
        d->flag.notify_one();
      },
      &done);
  const core::FileRef ref = block::bdev_file_get(fd);
  struct iovec v {
    buf, len
  };
  const int r = block::bdev_rw(block::bdev_of(ref), &io, write, &v, 1,
                               static_cast<std::int64_t>(at), rw_flags, 0);
  if (r < 0) return r;
  while (done.flag.load(std::memory_order_acquire) == 0) done.flag.wait(0);
  return done.res;
}

// The engines' requests on descriptors of the file: a direct write past the
// end lands in the mapping and moves its end where it completes (the
// device's thread), a buffered one goes through the page cache (no
// alignment; RWF_NOWAIT served in memory), and both show in read(2).
TEST(SharedPages, EngineWritesReachTheMapping) {
  Fixture t;
  ASSERT_EQ(t.put(0, std::string(4096, 'a')), 4096);
  int mem;
  char* p = t.map(16384, &mem);
  ASSERT_NE(p, nullptr);
  const block::BdevInode* inode = t.file->bdev_inode(lock_files, unlock_files);
  const int direct = ::memfd_create("direct", MFD_CLOEXEC);
  const int plain = ::memfd_create("plain", MFD_CLOEXEC);
  ASSERT_EQ(block::bdev_file_attach(direct, t.file->disk(), O_RDWR | O_DIRECT, 0, 0, inode), 0);
  ASSERT_EQ(block::bdev_file_attach(plain, t.file->disk(), O_RDWR, 0, 0, inode), 0);
  void* buf = nullptr;
  ASSERT_EQ(posix_memalign(&buf, 4096, 8192), 0);
  std::memset(buf, 'd', 8192);
  p[100] = 'M';  // a store the direct write's write-back takes first
  EXPECT_EQ(engine_rw(direct, true, buf, 8192, 4096), 8192);
  EXPECT_EQ(mem_size(mem), 12288);
  {
    void* b2 = nullptr;
    ASSERT_EQ(posix_memalign(&b2, 4096, 4096), 0);
    EXPECT_EQ(engine_rw(direct, false, b2, 4096, 8192), 4096);
    EXPECT_EQ(static_cast<char*>(b2)[4095], 'd');
    free(b2);
  }
  EXPECT_EQ(p[100], 'M');
  EXPECT_EQ(p[4096], 'd');
  EXPECT_EQ(p[12287], 'd');
  EXPECT_EQ(t.get(12287), 'd');
  char word[] = "buffered";
  EXPECT_EQ(engine_rw(plain, true, word, 8, 12290, RWF_NOWAIT), 8);
  EXPECT_EQ(mem_size(mem), 16384);
  EXPECT_EQ(std::string(p + 12290, 8), "buffered");
  char back[9] = {};
  EXPECT_EQ(engine_rw(plain, false, back, 8, 12290), 8);
  EXPECT_EQ(std::string(back), "buffered");
  EXPECT_EQ(engine_rw(plain, false, back, 8, 1u << 30), 0);  // past the end
  block::bdev_file_close(direct);
  block::bdev_file_close(plain);
  free(buf);
  munmap(p, 16384);
}

// A direct write of the engines that the device fails leaves the old bytes
// where the file's pages show them, as the kernel's invalidation does: a
// buffered read (the page was cached) and a shared mapping read zeros, not
// what the write carried; one that succeeds shows everywhere.
TEST(SharedPages, AFailedEngineDirectWriteLeavesTheOldBytes) {
  for (const bool shared : {false, true}) {
    Fixture t("error,ops=w,sectors=8-15:ram:1M");  // the second page cannot be written
    ASSERT_EQ(t.file->truncate(12288), 0);
    EXPECT_EQ(t.get(4096), 0);  // cached
    int mem = -1;
    char* p = shared ? t.map(12288, &mem) : nullptr;
    if (shared) {
      ASSERT_NE(p, nullptr);
    }
    const block::BdevInode* inode = t.file->bdev_inode(lock_files, unlock_files);
    const int direct = ::memfd_create("direct", MFD_CLOEXEC);
    ASSERT_EQ(block::bdev_file_attach(direct, t.file->disk(), O_RDWR | O_DIRECT, 0, 0, inode), 0);
    void* buf = nullptr;
    ASSERT_EQ(posix_memalign(&buf, 4096, 4096), 0);
    std::memset(buf, 'd', 4096);
    EXPECT_EQ(engine_rw(direct, true, buf, 4096, 4096), -EIO) << shared;
    EXPECT_EQ(t.get(4096), 0) << shared;
    EXPECT_EQ(t.get(8191), 0) << shared;
    if (shared) {
      EXPECT_EQ(p[5000], 0);
    }
    EXPECT_EQ(engine_rw(direct, true, buf, 4096, 8192), 4096) << shared;
    EXPECT_EQ(t.get(8192), 'd') << shared;
    if (shared) {
      EXPECT_EQ(p[12287], 'd');
    }
    block::bdev_file_close(direct);
    free(buf);
    if (shared) munmap(p, 12288);
  }
}

}  // namespace
}  // namespace iostack::map
