/* One Linux AIO request through the raw system calls, for the compat tests'
 * C programs: submitted on `ctx` and waited for. */
#ifndef IOSTACK_TESTS_COMPAT_AIO_CALL_H
#define IOSTACK_TESTS_COMPAT_AIO_CALL_H

#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

/* IOCB_CMD_* `cmd` of `len` bytes (or iovecs) at `addr`, at `off` of `fd`:
 * the event's result, or 1 << 62 when io_submit or io_getevents failed. */
static long long aio_call(aio_context_t ctx, int cmd, int fd, const void* addr, unsigned len,
                          long off) {
  struct iocb cb = {.aio_lio_opcode = (unsigned short)cmd,
                    .aio_fildes = (unsigned)fd,
                    .aio_buf = (unsigned long)addr,
                    .aio_nbytes = len,
                    .aio_offset = off};
  struct iocb* cbs[1] = {&cb};
  struct io_event ev;
  if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) return 1LL << 62;
  if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) return 1LL << 62;
  return (long long)ev.res;
}

#endif
