// Internal descriptors placed high in the table (see fd_high.hpp).
#include "core/fd_high.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "core/raw_syscall.h"

namespace iostack::core {

namespace {
int high_base() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  const rlim_t half = rl.rlim_cur / 2;
  return half < 4096 ? static_cast<int>(half) : 4096;
}
}  // namespace

int dup_high(int fd) {
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, high_base());
  if (nfd < 0 && errno != EBADF) nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return nfd < 0 ? -errno : nfd;
}

int dup_high_raw(int fd) {
  long nfd = iostack_raw_syscall6(SYS_fcntl, fd, F_DUPFD_CLOEXEC, high_base(), 0, 0, 0);
  if (nfd < 0 && nfd != -EBADF)
    nfd = iostack_raw_syscall6(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0, 0, 0, 0);
  return static_cast<int>(nfd);
}

int move_high(int fd) {
  if (fd < 0) return fd;
  const int nfd = dup_high(fd);
  if (nfd < 0) return fd;
  close(fd);
  return nfd;
}

int move_high_raw(int fd) {
  if (fd < 0) return fd;
  const int nfd = dup_high_raw(fd);
  if (nfd < 0) return fd;
  iostack_raw_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
  return nfd;
}

}  // namespace iostack::core
