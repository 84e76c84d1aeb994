// The C API of include/iostack/aio.h.
#include "iostack/aio.h"

#include "aio/aio.hpp"
#include "aio/ioctx_table.hpp"
#include "core/host_aio.hpp"

namespace aio = iostack::aio;

extern "C" {

int iostack_io_setup(unsigned nr_events, aio_context_t* ctxp) {
  return static_cast<int>(aio::sys_io_setup(nr_events, ctxp));
}

int iostack_io_destroy(aio_context_t ctx) { return static_cast<int>(aio::sys_io_destroy(ctx)); }

long iostack_io_submit(aio_context_t ctx, long nr, struct iocb** iocbpp) {
  return aio::sys_io_submit(ctx, nr, iocbpp);
}

long iostack_io_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                          struct timespec* timeout) {
  return aio::sys_io_getevents(ctx, min_nr, nr, events, timeout);
}

long iostack_io_pgetevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                           struct timespec* timeout, const struct iostack_aio_sigset* usig) {
  return aio::sys_io_pgetevents(ctx, min_nr, nr, events, timeout, usig);
}

int iostack_io_cancel(aio_context_t ctx, struct iocb* iocb, struct io_event* result) {
  return static_cast<int>(aio::sys_io_cancel(ctx, iocb, result));
}

unsigned long iostack_aio_max_nr(void) { return aio::aio_max_nr(); }
void iostack_aio_set_max_nr(unsigned long v) { aio::set_aio_max_nr(v); }
unsigned long iostack_aio_nr(void) { return aio::aio_nr(); }

void iostack_aio_served_here(void) { iostack::core::host_aio_allow(false); }
}
