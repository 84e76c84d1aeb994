/* What the shim's interposers share: the export marker, lazy lookup of
 * libc's own function, and libc's error convention. */
#ifndef IOSTACK_COMPAT_PRELOAD_SHIM_H
#define IOSTACK_COMPAT_PRELOAD_SHIM_H

#include <dlfcn.h>
#include <errno.h>
#include <sys/types.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Stores dlsym's answer through an object pointer, the POSIX-sanctioned
 * way to get a function pointer out of it in ISO C. */
#define SHIM_RESOLVE(var, name)                           \
  do {                                                    \
    if (!(var)) *(void**)&(var) = dlsym(RTLD_NEXT, name); \
  } while (0)

/* The libc convention: -1 with errno for the engine's -errno. */
static inline long shim_result(long ret) {
  if (ret < 0 && ret >= -4095) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

/* After a write-like call that succeeded: the poll wakeups it caused are
 * handled now (errno kept). */
void shim_run_wakeups(void);

/* mapped.c: sets up the files of `iostack exec --map` (exits on bad input). */
void mapped_init(void);
/* mapped.c: whether `fd` is a mapped file's, and mmap of one. */
int mapped_mine(int fd);
long mapped_mmap(void* (*real)(void*, size_t, int, int, int, off_t), void* addr, size_t len,
                 int prot, int flags, int fd, off_t off);

#endif
