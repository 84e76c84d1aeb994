/* Linux AIO on iostack: io_setup(2), io_submit(2), io_getevents(2),
 * io_pgetevents(2), io_cancel(2) and io_destroy(2) with the kernel's ABI
 * (<linux/aio_abi.h>) and semantics (fs/aio.c). The context id is the
 * address of a ring laid out like the kernel's (struct iostack_aio_ring in
 * iostack/aio_abi.h), so programs may reap events from it directly. Results are counts or -errno;
 * errno is never set.
 *
 * IOSTACK_AIO_LOG=1 prints one line per io_setup/io_destroy on stderr;
 * IOSTACK_AIO_MAX_WORKERS bounds the threads that run blocking file I/O. */
#ifndef IOSTACK_AIO_H
#define IOSTACK_AIO_H

#include "iostack/aio_abi.h"
#include "iostack/export.h"

#include <linux/aio_abi.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* *ctxp must be 0 and nr_events non-zero (-EINVAL); -EAGAIN beyond
 * fs.aio-max-nr for this process's contexts together. */
IOSTACK_API int iostack_io_setup(unsigned nr_events, aio_context_t* ctxp);
/* Waits for the context's requests to finish, then unmaps its ring. */
IOSTACK_API int iostack_io_destroy(aio_context_t ctx);
/* How many iocbs were queued, or -errno when the first one failed. */
IOSTACK_API long iostack_io_submit(aio_context_t ctx, long nr, struct iocb** iocbpp);
/* timeout NULL waits, {0,0} polls; the timeout is relative. */
IOSTACK_API long iostack_io_getevents(aio_context_t ctx, long min_nr, long nr,
                                      struct io_event* events, struct timespec* timeout);
IOSTACK_API long iostack_io_pgetevents(aio_context_t ctx, long min_nr, long nr,
                                       struct io_event* events, struct timespec* timeout,
                                       const struct iostack_aio_sigset* usig);
/* -EINPROGRESS when cancellation started (IOCB_CMD_POLL; the event comes
 * through the ring), -EINVAL for requests that cannot be cancelled. */
IOSTACK_API int iostack_io_cancel(aio_context_t ctx, struct iocb* iocb, struct io_event* result);

/* fs.aio-max-nr as iostack applies it (initially the system's value), and
 * fs.aio-nr: the events this process's live contexts asked for. */
IOSTACK_API unsigned long iostack_aio_max_nr(void);
IOSTACK_API void iostack_aio_set_max_nr(unsigned long max_nr);
IOSTACK_API unsigned long iostack_aio_nr(void);

/* This process's own Linux AIO system calls are routed to iostack (an
 * interposer serves them): iostack then stops using the kernel's AIO
 * underneath, which it otherwise does for io_uring reads and writes of
 * O_DIRECT files where the kernel allows it. */
IOSTACK_API void iostack_aio_served_here(void);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_AIO_H */
