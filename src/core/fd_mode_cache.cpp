// The per-process cache of descriptor modes: one byte per descriptor number
// below kCached, learned with fcntl(F_GETFL) and fstat() on first use.
#include "core/fd_mode_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>

#include "core/process.hpp"

namespace iostack::core {

namespace {

enum : std::uint8_t { kUnknown = 0, kOther = 1, kDirectFile = 2 };

struct FdModeCache {
  static constexpr unsigned kCached = 1u << 16;
  std::atomic<std::uint8_t> mode[kCached] = {};
};

std::uint8_t learn(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_DIRECT)) return kOther;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return kOther;
  return kDirectFile;
}

}  // namespace

bool fd_is_direct_file(int fd) {
  if (fd < 0) return false;
  if (static_cast<unsigned>(fd) >= FdModeCache::kCached) return learn(fd) == kDirectFile;
  auto& slot = Process::current().state<FdModeCache>().mode[fd];
  std::uint8_t m = slot.load(std::memory_order_relaxed);
  if (m == kUnknown) {
    m = learn(fd);
    slot.store(m, std::memory_order_relaxed);
  }
  return m == kDirectFile;
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
