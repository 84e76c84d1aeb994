/* libiostack_preload.so: an LD_PRELOAD shim for programs that make the
 * io_uring and AIO system calls themselves, through libc's syscall() (fio's
 * io_uring engine does for setup and register), and map the rings with
 * mmap(). Those calls go to the iostack engine; everything else goes on to
 * libc untouched.
 *
 * Here: syscall() for io_uring_setup/enter/register and
 * io_setup/io_submit/io_getevents/io_pgetevents/io_cancel/io_destroy, and
 * mmap()/mmap64() of a ring fd, and munmap(), since a ring's mappings hold
 * the ring as on the kernel. fds.c keeps iostack's descriptor
 * table right across close/dup, readiness.c makes poll/select/epoll see
 * ring descriptors as the kernel's, and system calls made without libc
 * (fio's io_uring_enter on x86-64) are caught by trap.c. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iostack/fd.h"
#include "iostack/uring.h"
#include "serve.h"
#include "shim.h"

typedef long (*syscall_fn)(long, ...);
typedef void* (*mmap_fn)(void*, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void*, size_t);

static syscall_fn real_syscall;
static mmap_fn real_mmap;
static munmap_fn real_munmap;

/* Resolved before main; lazily as well in case another library's
 * constructor calls in first. */
__attribute__((constructor)) static void preload_init(void) {
  iostack_fd_track_closes(); /* fds.c and serve.c report every close */
  SHIM_RESOLVE(real_syscall, "syscall");
  SHIM_RESOLVE(real_mmap, "mmap");
  SHIM_RESOLVE(real_munmap, "munmap");
}

SHIM_EXPORT long syscall(long nr, ...) {
  long a[6], ret;
  va_list ap;
  va_start(ap, nr);
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (preload_serve(nr, a, &ret)) return shim_result(ret);
  SHIM_RESOLVE(real_syscall, "syscall");
  return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

SHIM_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (fd >= 0 && !(flags & MAP_ANONYMOUS) && mapped_mine(fd)) {
    SHIM_RESOLVE(real_mmap, "mmap");
    const long r = mapped_mmap(real_mmap, addr, len, prot, flags, fd, offset);
    if (r < 0 && r >= -4095) {
      errno = (int)-r;
      return MAP_FAILED;
    }
    return (void*)r;
  }
  if (fd >= 0 && iostack_io_uring_is_ring(fd)) {
    void* p = iostack_io_uring_mmap2(addr, len, prot, flags, fd, offset);
    if (IOSTACK_URING_IS_ERR(p)) {
      errno = (int)-(long)p;
      return MAP_FAILED;
    }
    return p;
  }
  SHIM_RESOLVE(real_mmap, "mmap");
  return real_mmap(addr, len, prot, flags, fd, offset);
}

/* On LP64, mmap64 is mmap; programs built with _FILE_OFFSET_BITS=64 call it. */
SHIM_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return mmap(addr, len, prot, flags, fd, offset);
}

/* A mapping of a ring holds the ring (a vma holds its file): when a ring
 * whose descriptor was closed loses its last mapping here, it is released,
 * as io_uring_release runs on the kernel. The munmap that
 * iostack_io_uring_munmap makes comes back here, and the engine then makes
 * that one as a plain system call. */
long preload_munmap(void* addr, size_t len) {
  if (!preload_serves(__NR_munmap)) {
    SHIM_RESOLVE(real_munmap, "munmap");
    return real_munmap(addr, len) == 0 ? 0 : -errno;
  }
  return iostack_io_uring_munmap(addr, len);
}

SHIM_EXPORT int munmap(void* addr, size_t len) {
  const int saved = errno;
  const long ret = preload_munmap(addr, len);
  if (ret == 0) errno = saved;
  return (int)shim_result(ret);
}
