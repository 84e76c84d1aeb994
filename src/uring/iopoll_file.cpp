// What an IOPOLL (or HYBRID_IOPOLL) ring finds in a host file: whether its
// file operations poll (f_op->iopoll, checked by io_rw_init_file), and
// whether the device under it can complete a polled bio (a queue without
// poll queues refuses one: BLK_STS_NOTSUPP, -EOPNOTSUPP).
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cstdio>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// A few devices remembered: the answer of sysfs does not change while the
// device is there. Entries: dev + 1 in the high bits, the answer in bit 0.
constexpr unsigned kCacheSlots = 8;
std::atomic<std::uint64_t> g_queue_polls[kCacheSlots];

bool read_io_poll(dev_t dev) {
  const unsigned maj = major(dev), min = minor(dev);
  // A partition's queue is its disk's.
  for (const char* fmt :
       {"/sys/dev/block/%u:%u/queue/io_poll", "/sys/dev/block/%u:%u/../queue/io_poll"}) {
    char path[96];
    std::snprintf(path, sizeof(path), fmt, maj, min);
    if (FILE* f = std::fopen(path, "re")) {
      int v = 0;
      const bool ok = std::fscanf(f, "%d", &v) == 1;
      std::fclose(f);
      if (ok) return v != 0;
    }
  }
  return false;  // no block device (a network or virtual file system)
}

}  // namespace

bool file_has_iopoll(int fd, const struct stat& st) {
  if (S_ISBLK(st.st_mode)) return true;  // blkdev_iopoll
  struct statfs sf;
  if (!S_ISREG(st.st_mode) || fstatfs(fd, &sf) != 0) return false;
  // iocb_bio_iopoll in their file operations.
  return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
         sf.f_type == BTRFS_SUPER_MAGIC;
}

bool host_queue_polls(dev_t dev) {
  const std::uint64_t key = (static_cast<std::uint64_t>(dev) + 1) << 1;
  for (auto& slot : g_queue_polls) {
    const std::uint64_t v = slot.load(std::memory_order_relaxed);
    if ((v & ~std::uint64_t{1}) == key) return v & 1;
  }
  const bool polls = read_io_poll(dev);
  for (auto& slot : g_queue_polls) {
    std::uint64_t expected = 0;
    if (slot.compare_exchange_strong(expected, key | polls, std::memory_order_relaxed)) break;
  }
  return polls;
}

}  // namespace iostack::uring
