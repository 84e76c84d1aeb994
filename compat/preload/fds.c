/* The descriptor calls that must keep iostack's descriptor table right:
 * close() of a ring or device descriptor releases the object behind it
 * once nothing else names it; dup(), dup2(), dup3() and fcntl(F_DUPFD*) of
 * a ring make the copy name the same ring (on the kernel both are one
 * file); close_range() and closefrom() drop what they close. Everything
 * else goes on to libc untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#include "iostack/fd.h"
#include "iostack/map.h"
#include "iostack/uring.h"
#include "shim.h"

typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*close_range_fn)(unsigned, unsigned, int);
typedef void (*closefrom_fn)(int);

static close_fn real_close;
static dup_fn real_dup;
static dup2_fn real_dup2;
static dup3_fn real_dup3;
static fcntl_fn real_fcntl;
static fcntl_fn real_fcntl64;
static close_range_fn real_close_range;
static closefrom_fn real_closefrom;

SHIM_EXPORT int close(int fd) {
  iostack_epoll_forget_fd(fd);
  iostack_map_close(fd);
  if (iostack_fd_is_iostack(fd)) return (int)shim_result(iostack_fd_close(fd));
  iostack_fd_changed(fd);
  SHIM_RESOLVE(real_close, "close");
  const int ret = real_close(fd);
  const int saved = errno;
  iostack_fd_closed(fd);
  errno = saved;
  return ret;
}

SHIM_EXPORT int dup(int fd) {
  SHIM_RESOLVE(real_dup, "dup");
  const int copy = real_dup(fd);
  if (copy >= 0) {
    iostack_fd_dup(fd, copy);
    iostack_map_dup(fd, copy);
  }
  return copy;
}

SHIM_EXPORT int dup2(int fd, int target) {
  SHIM_RESOLVE(real_dup2, "dup2");
  const int ret = real_dup2(fd, target);
  if (ret >= 0) {
    iostack_fd_dup(fd, target);
    iostack_map_dup(fd, target);
  }
  return ret;
}

SHIM_EXPORT int dup3(int fd, int target, int flags) {
  SHIM_RESOLVE(real_dup3, "dup3");
  const int ret = real_dup3(fd, target, flags);
  if (ret >= 0) {
    iostack_fd_dup(fd, target);
    iostack_map_dup(fd, target);
  }
  return ret;
}

/* Every fcntl argument is an int or a pointer, both passed in one register. */
static int fcntl_common(fcntl_fn fn, int fd, int cmd, void* arg) {
  const int ret = fn(fd, cmd, arg);
  if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
    iostack_fd_dup(fd, ret);
    iostack_map_dup(fd, ret);
  }
  if (ret >= 0 && cmd == F_SETFL) iostack_fd_changed(fd);
  return ret;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  SHIM_RESOLVE(real_fcntl, "fcntl");
  return fcntl_common(real_fcntl, fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  SHIM_RESOLVE(real_fcntl64, "fcntl64");
  if (!real_fcntl64) SHIM_RESOLVE(real_fcntl64, "fcntl");
  return fcntl_common(real_fcntl64, fd, cmd, arg);
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  SHIM_RESOLVE(real_close_range, "close_range");
  if (!real_close_range) {
    errno = ENOSYS;
    return -1;
  }
  const int ret = real_close_range(first, last, flags);
  if (ret == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) iostack_fd_close_range(first, last);
  return ret;
}

SHIM_EXPORT void closefrom(int lowfd) {
  SHIM_RESOLVE(real_closefrom, "closefrom");
  if (lowfd < 0) lowfd = 0;
  if (real_closefrom) real_closefrom(lowfd);
  iostack_fd_close_range((unsigned)lowfd, UINT_MAX);
}
