// The per-process cache of descriptor modes: one byte per descriptor number
// below kCached, learned with fcntl(F_GETFL) and fstat() on first use.
#include "core/fd_mode_cache.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <atomic>
#include <cstdint>

#include "core/process.hpp"

namespace iostack::core {

namespace {

enum : std::uint8_t {
  kUnknown = 0,
  kOther = 1,
  kDirectFile = 2,
  kBlockingWritesFile = 3,
  kMemoryFile = 4,  // buffered, on tmpfs or ramfs
  kNotRegular = 5,  // a pipe, socket, device, eventfd, directory, ...
};

struct FdModeCache {
  static constexpr unsigned kCached = 1u << 16;
  std::atomic<std::uint8_t> mode[kCached] = {};
};

bool wasync_type(long type) { return type == XFS_SUPER_MAGIC || type == BTRFS_SUPER_MAGIC; }

std::uint8_t learn(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return kOther;
  struct stat st;
  if (fstat(fd, &st) != 0) return kOther;
  if (!S_ISREG(st.st_mode)) return kNotRegular;
  if (fl & O_DIRECT) return kDirectFile;
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0) return kOther;
  if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) return kMemoryFile;
  if ((fl & O_ACCMODE) == O_RDONLY) return kOther;  // a write fails before anything else
  return wasync_type(sf.f_type) ? kOther : kBlockingWritesFile;
}

// `fresh`: learn again even if known (the descriptor may have been closed and
// reused behind iostack's back).
std::uint8_t mode_of(int fd, bool fresh = false) {
  if (fd < 0) return kOther;
  if (static_cast<unsigned>(fd) >= FdModeCache::kCached) return learn(fd);
  auto& slot = Process::current().state<FdModeCache>().mode[fd];
  std::uint8_t m = slot.load(std::memory_order_relaxed);
  if (m == kUnknown || fresh) {
    m = learn(fd);
    slot.store(m, std::memory_order_relaxed);
  }
  return m;
}

}  // namespace

bool fd_is_direct_file(int fd) { return mode_of(fd) == kDirectFile; }

bool fd_is_memory_file(int fd) { return mode_of(fd) == kMemoryFile; }

bool fd_is_regular_file(int fd) { return mode_of(fd) != kNotRegular; }

bool fd_is_memory_file_cached(int fd) {
  if (fd < 0 || static_cast<unsigned>(fd) >= FdModeCache::kCached) return false;
  const auto* c = Process::current().find_state<FdModeCache>();
  return c && c->mode[fd].load(std::memory_order_relaxed) == kMemoryFile;
}

bool fd_buffered_writes_block(int fd) {
  // A yes sends the write to a worker, which costs far more than checking.
  return mode_of(fd) == kBlockingWritesFile && mode_of(fd, true) == kBlockingWritesFile;
}

bool fs_buffered_wasync(int fd) {
  struct statfs sf;
  return fstatfs(fd, &sf) == 0 && wasync_type(sf.f_type);
}

void fd_mode_forget(int fd) {
  if (fd < 0 || static_cast<unsigned>(fd) >= FdModeCache::kCached) return;
  if (auto* c = Process::current().find_state<FdModeCache>())
    c->mode[fd].store(kUnknown, std::memory_order_relaxed);
}

void fd_mode_forget_range(unsigned first, unsigned last) {
  auto* c = Process::current().find_state<FdModeCache>();
  if (!c) return;
  for (unsigned fd = first; fd <= last && fd < FdModeCache::kCached; ++fd)
    c->mode[fd].store(kUnknown, std::memory_order_relaxed);
}

}  // namespace iostack::core
