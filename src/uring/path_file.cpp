// A read-only descriptor for an O_PATH fixed file's ops (path_file.hpp).
#include "uring/path_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

namespace iostack::uring {

bool is_path_file(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_PATH);
}

int reopen_path_file(int fd) {
  struct stat st;
  if (!is_path_file(fd) || fstat(fd, &st) != 0) return -1;
  // Only where opening has no side effect (a device's open may have one).
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return -1;
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

}  // namespace iostack::uring
