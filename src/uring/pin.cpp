// Whether memory may be pinned for the long term, as registering a fixed
// buffer does (pin_user_pages with FOLL_LONGTERM | FOLL_WRITE, mm/gup.c
// writable_file_mapping_allowed): a shared mapping of a file whose
// filesystem tracks dirty pages (ext4, xfs, ...) is refused; anonymous,
// private and shmem-like mappings (tmpfs, memfd, hugetlbfs) are not.
#include <linux/magic.h>
#include <sys/statfs.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "uring/rsrc.hpp"

namespace iostack::uring {

namespace {

// A shared mapping of `path` (as /proc/self/maps prints it, on device
// `major`): does its filesystem need dirty tracking?
bool needs_dirty_tracking(char* path, unsigned major) {
  if (char* d = std::strstr(path, " (deleted)")) *d = '\0';
  struct statfs fs;
  // Gone or unreachable: shmem and the like sit on an anonymous device.
  if (path[0] != '/' || statfs(path, &fs) != 0) return major != 0;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case HUGETLBFS_MAGIC:
      return false;
    default:
      return true;
  }
}

}  // namespace

bool longterm_pin_allowed(const void* base, std::size_t len) {
  const auto lo = reinterpret_cast<std::uintptr_t>(base);
  const std::uintptr_t hi = lo + len;
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return true;
  bool ok = true;
  char line[4352];
  while (ok && std::fgets(line, sizeof(line), f)) {
    unsigned long start, end, inode;
    unsigned major, minor;
    char perms[8];
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %*x %x:%x %lu %n", &start, &end, perms, &major, &minor,
                    &inode, &path_at) < 6)
      continue;
    if (end <= lo || start >= hi) continue;
    if (perms[3] != 's' || inode == 0 || !path_at) continue;
    char* path = line + path_at;
    path[std::strcspn(path, "\n")] = '\0';
    if (needs_dirty_tracking(path, major)) ok = false;
  }
  std::fclose(f);
  return ok;
}

}  // namespace iostack::uring
