/* A system call made with the instruction itself, not libc's wrapper or its
 * syscall(): the wrappers of blocking calls are cancellation points whose
 * bookkeeping costs a measurable share of a per-request path, and under
 * `iostack exec` libc's syscall() may have been rewritten to pass through
 * the interposer's trampoline, which makes its own real calls this way.
 * Returns -errno on failure, as the kernel does. C and C++. */
#ifndef IOSTACK_CORE_RAW_SYSCALL_H
#define IOSTACK_CORE_RAW_SYSCALL_H

#include <errno.h>
#include <unistd.h>

static inline long iostack_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#else
  const long ret = syscall(nr, a, b, c, d, e, f);
  return ret < 0 ? -errno : ret;
#endif
}

#endif
