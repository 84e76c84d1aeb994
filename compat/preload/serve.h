/* The system calls the shim hands to iostack, by number, with the raw
 * arguments of the x86-64 system call ABI. */
#ifndef IOSTACK_COMPAT_PRELOAD_SERVE_H
#define IOSTACK_COMPAT_PRELOAD_SERVE_H

/* Returns 1 and stores the result (value or -errno) in *ret when `nr` is an
 * io_uring or AIO system call; 0 when the call is not iostack's. */
int preload_serve(long nr, const long args[6], long* ret);

/* exec_env.c: whether this process serves system call `nr` with iostack
 * (IOSTACK_EXEC_SERVE), 0 for calls that are not io_uring or AIO ones. */
int preload_serves(long nr);

#endif
