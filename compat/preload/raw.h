/* Raw x86-64 system calls that the shim's own seccomp filter lets through.
 *
 * The filter traps ring-like mmap(2) only when the upper 32 bits of the fd
 * argument are zero. The kernel (and gVisor) reads that
 * argument as a 32-bit int, so setting the upper half to PRELOAD_FD_MARKER
 * leaves the call's meaning unchanged while the filter allows it. Unlike an
 * instruction-pointer rule, the marker stays right in an exec'd child whose
 * code sits at other addresses. */
#ifndef IOSTACK_COMPAT_PRELOAD_RAW_H
#define IOSTACK_COMPAT_PRELOAD_RAW_H

#include <sys/syscall.h>

#include "core/raw_syscall.h"

#define PRELOAD_FD_MARKER 0x10057ac0UL
#define PRELOAD_MARK_FD(fd) (((unsigned long)(fd)&0xffffffffUL) | (PRELOAD_FD_MARKER << 32))

static inline long preload_raw6(long nr, long a, long b, long c, long d, long e, long f) {
  return iostack_raw_syscall6(nr, a, b, c, d, e, f);
}

/* Performs system call `nr` for real: -errno on failure, as the kernel
 * returns it. mmap carries the marker so that it is not trapped again (any
 * fd, -1 included: the kernel sees the same 32-bit value). */
static inline long preload_real_syscall(long nr, const long a[6]) {
  const long fd = nr == __NR_mmap ? (long)PRELOAD_MARK_FD(a[4]) : a[4];
  return preload_raw6(nr, a[0], a[1], a[2], a[3], fd, a[5]);
}

#endif
