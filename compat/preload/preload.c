/* libiostack_preload.so: an LD_PRELOAD shim for programs that make the
 * io_uring and AIO system calls themselves, through libc's syscall() (fio's
 * io_uring engine does for setup and register), and map the rings with
 * mmap(). Those calls go to the iostack engine; everything else goes on to
 * libc untouched.
 *
 * Intercepted: syscall() for io_uring_setup/enter/register and
 * io_setup/io_submit/io_getevents/io_pgetevents/io_cancel/io_destroy;
 * mmap()/mmap64() of a ring fd; close() of a ring fd. munmap() needs no
 * interception: ring regions are ordinary shared mappings. System calls
 * made without libc (fio's io_uring_enter on x86-64) are caught by trap.c. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iostack/uring.h"
#include "serve.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef long (*syscall_fn)(long, ...);
typedef void* (*mmap_fn)(void*, size_t, int, int, int, off_t);
typedef int (*close_fn)(int);

static syscall_fn real_syscall;
static mmap_fn real_mmap;
static close_fn real_close;

/* Stores dlsym's answer through an object pointer, the POSIX-sanctioned
 * way to get a function pointer out of it in ISO C. */
static void lookup(void* fn_ptr, const char* name) {
  if (!*(void**)fn_ptr) *(void**)fn_ptr = dlsym(RTLD_NEXT, name);
}

/* Resolved before main; lazily as well in case another library's
 * constructor calls in first. */
static void resolve(void) {
  lookup(&real_syscall, "syscall");
  lookup(&real_mmap, "mmap");
  lookup(&real_close, "close");
}

__attribute__((constructor)) static void preload_init(void) { resolve(); }

/* The libc convention: -1 with errno for the engine's -errno. */
static long sys_result(long ret) {
  if (ret < 0 && ret >= -4095) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

SHIM_EXPORT long syscall(long nr, ...) {
  long a[6], ret;
  va_list ap;
  va_start(ap, nr);
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (preload_serve(nr, a, &ret)) return sys_result(ret);
  resolve();
  return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

SHIM_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (fd >= 0 && iostack_io_uring_is_ring(fd)) {
    void* p = iostack_io_uring_mmap2(addr, len, prot, flags, fd, offset);
    if (IOSTACK_URING_IS_ERR(p)) {
      errno = (int)-(long)p;
      return MAP_FAILED;
    }
    return p;
  }
  resolve();
  return real_mmap(addr, len, prot, flags, fd, offset);
}

/* On LP64, mmap64 is mmap; programs built with _FILE_OFFSET_BITS=64 call it. */
SHIM_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return mmap(addr, len, prot, flags, fd, offset);
}

SHIM_EXPORT int close(int fd) {
  if (iostack_io_uring_is_ring(fd)) return (int)sys_result(iostack_io_uring_close(fd));
  resolve();
  return real_close(fd);
}
