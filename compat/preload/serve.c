/* Dispatch of io_uring and AIO system calls onto the iostack engine, shared
 * by the syscall() interposer, the SIGSYS trap and rewritten call sites. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "iostack/aio.h"
#include "iostack/fd.h"
#include "iostack/uring.h"
#include "raw.h"
#include "serve.h"

int preload_serve(long nr, const long a[6], long* ret) {
  if (mapped_serve(nr, a, ret)) return 1;
  if (!preload_serves(nr)) return 0;
  switch (nr) {
    case __NR_io_uring_setup:
      *ret = iostack_io_uring_setup((unsigned)a[0], (struct io_uring_params*)a[1]);
      return 1;
    case __NR_io_uring_enter:
      *ret = iostack_io_uring_enter((int)a[0], (unsigned)a[1], (unsigned)a[2], (unsigned)a[3],
                                    (const void*)a[4], (size_t)a[5]);
      return 1;
    case __NR_io_uring_register:
      *ret = iostack_io_uring_register((int)a[0], (unsigned)a[1], (void*)a[2], (unsigned)a[3]);
      return 1;
    case __NR_io_setup:
      *ret = iostack_io_setup((unsigned)a[0], (aio_context_t*)a[1]);
      return 1;
    case __NR_io_destroy:
      *ret = iostack_io_destroy((aio_context_t)a[0]);
      return 1;
    case __NR_io_submit:
      *ret = iostack_io_submit((aio_context_t)a[0], a[1], (struct iocb**)a[2]);
      return 1;
    case __NR_io_getevents:
      *ret = iostack_io_getevents((aio_context_t)a[0], a[1], a[2], (struct io_event*)a[3],
                                  (struct timespec*)a[4]);
      return 1;
    case __NR_io_pgetevents:
      *ret = iostack_io_pgetevents((aio_context_t)a[0], a[1], a[2], (struct io_event*)a[3],
                                   (struct timespec*)a[4], (const struct iostack_aio_sigset*)a[5]);
      return 1;
    case __NR_io_cancel:
      *ret = iostack_io_cancel((aio_context_t)a[0], (struct iocb*)a[1], (struct io_event*)a[2]);
      return 1;
    case __NR_mmap:
      /* The rings, mapped at the kernel's offsets on the ring fd. */
      if ((a[3] & MAP_ANONYMOUS) || (int)a[4] < 0 || !iostack_io_uring_is_ring((int)a[4])) return 0;
      *ret = (long)iostack_io_uring_mmap2((void*)a[0], (size_t)a[1], (int)a[2], (int)a[3],
                                          (int)a[4], (off_t)a[5]);
      return 1;
    case __NR_munmap:
      *ret = preload_munmap((void*)a[0], (size_t)a[1]);
      return 1;
    case __NR_close:
      if (!iostack_fd_is_iostack((int)a[0])) {
        *ret = preload_raw6(__NR_close, a[0], 0, 0, 0, 0, 0);
        iostack_fd_closed((int)a[0]);
        return 1;
      }
      *ret = iostack_fd_close((int)a[0]);
      return 1;
    default:
      return 0;
  }
}

long preload_dispatch(long nr, const long a[6]) {
  const int saved = errno;
  long ret;
  if (!preload_serve(nr, a, &ret)) ret = preload_real_syscall(nr, a);
  errno = saved;
  return ret;
}
