/* The system calls the shim hands to iostack, by number, with the raw
 * arguments of the x86-64 system call ABI. */
#ifndef IOSTACK_COMPAT_PRELOAD_SERVE_H
#define IOSTACK_COMPAT_PRELOAD_SERVE_H

#include <stddef.h>

/* Returns 1 and stores the result (value or -errno) in *ret when the call
 * is iostack's: an io_uring or AIO system call, mmap/close of a ring fd,
 * or munmap while iostack serves io_uring; 0 otherwise. */
int preload_serve(long nr, const long args[6], long* ret);

/* exec_env.c: whether this process serves system call `nr` with iostack
 * (IOSTACK_EXEC_SERVE for the io_uring and AIO families; close and ring
 * mmaps too), 0 for any other call. */
int preload_serves(long nr);

/* mapped_serve.c: the plain file calls (read, write, open, close, fsync...)
 * on files of `iostack exec --map`, as preload_serve. */
int mapped_serve(long nr, const long args[6], long* ret);
/* Their numbers, which trap.c traps when they come from libc's or the
 * program's code. Returns how many. */
int mapped_plain_nrs(const int** nrs);
/* mapped.c: whether this process has mapped files (after its constructor). */
int mapped_on(void);

/* preload.c: munmap(2), through iostack (a ring's mapping holds the ring,
 * as on the kernel); 0 or -errno. */
long preload_munmap(void* addr, size_t len);

/* preload_serve, else the real system call (made so that the shim's
 * filter does not trap it again); errno untouched, as by a `syscall`
 * instruction. For the SIGSYS trap and rewritten call sites. */
long preload_dispatch(long nr, const long args[6]);

#endif
