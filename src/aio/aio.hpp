// The AIO system calls on iostack (fs/aio.c), shaped like the kernel's:
// results are counts or -errno; the context id is the ring's address.
#pragma once

#include <linux/aio_abi.h>
#include <signal.h>
#include <time.h>

namespace iostack::aio {

long sys_io_setup(unsigned nr_events, aio_context_t* ctxp);
long sys_io_destroy(aio_context_t ctx);
long sys_io_submit(aio_context_t ctx, long nr, struct iocb** iocbpp);
long sys_io_cancel(aio_context_t ctx, struct iocb* iocb, struct io_event* result);
long sys_io_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                      const struct timespec* timeout);
// `usig` points at {const sigset_t* sigmask; size_t sigsetsize} (struct
// __aio_sigset); sigsetsize must be the kernel's 8 bytes.
long sys_io_pgetevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                       const struct timespec* timeout, const void* usig);

// The fs.aio-max-nr limit iostack enforces (read from /proc/sys/fs/aio-max-nr
// at first use), and the events all live contexts asked for (fs.aio-nr).
unsigned long aio_max_nr();
void set_aio_max_nr(unsigned long v);
unsigned long aio_nr();

}  // namespace iostack::aio
