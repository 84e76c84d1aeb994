/* The iostack AIO entry points as libaio.c sees them. include/iostack/aio.h
 * cannot be included next to <libaio.h>: both define struct iocb and struct
 * io_event (with the same layout), so the calls are declared here with
 * libaio's spelling of the types; the rest comes from iostack/aio_abi.h. */
#ifndef IOSTACK_COMPAT_LIBAIO_ENTRY_H
#define IOSTACK_COMPAT_LIBAIO_ENTRY_H

#include <libaio.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "iostack/aio_abi.h"

int iostack_io_setup(unsigned nr_events, unsigned long* ctxp);
int iostack_io_destroy(unsigned long ctx);
long iostack_io_submit(unsigned long ctx, long nr, struct iocb** iocbpp);
long iostack_io_getevents(unsigned long ctx, long min_nr, long nr, struct io_event* events,
                          struct timespec* timeout);
long iostack_io_pgetevents(unsigned long ctx, long min_nr, long nr, struct io_event* events,
                           struct timespec* timeout, const struct iostack_aio_sigset* usig);
int iostack_io_cancel(unsigned long ctx, struct iocb* iocb, struct io_event* result);

#endif
