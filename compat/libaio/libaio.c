/* libaio.so.1 on iostack: the interface of Debian 12's libaio 0.3.113 --
 * same symbols, same symbol versions (LIBAIO_0.1, 0.4, 0.5), same results
 * (-errno, errno untouched) -- with every call served by iostack's AIO
 * engine instead of the kernel's. Built against the system's <libaio.h>. */
#include <libaio.h>
#include <stdint.h>
#include <string.h>

#include "iostack_entry.h"

#define IOSTACK_EXPORT __attribute__((visibility("default")))

static unsigned long ctx_id(io_context_t ctx) { return (unsigned long)(uintptr_t)ctx; }

/* libaio answers a zero-timeout poll of an empty ring without a system
 * call; so does this library, reading the same header. */
static int ring_empty_poll(io_context_t ctx, const struct timespec *timeout) {
  const volatile struct iostack_aio_ring *ring = (const volatile struct iostack_aio_ring *)ctx;
  if (ring == NULL || ring->magic != IOSTACK_AIO_RING_MAGIC) return 0;
  if (timeout == NULL || timeout->tv_sec != 0 || timeout->tv_nsec != 0) return 0;
  return ring->head == ring->tail;
}

/* --- LIBAIO_0.4 / LIBAIO_0.5 (current) --- */

IOSTACK_EXPORT int io_setup(int maxevents, io_context_t *ctxp) {
  return iostack_io_setup((unsigned)maxevents, (unsigned long *)ctxp);
}

IOSTACK_EXPORT int io_destroy(io_context_t ctx) { return iostack_io_destroy(ctx_id(ctx)); }

IOSTACK_EXPORT int io_submit(io_context_t ctx, long nr, struct iocb *ios[]) {
  return (int)iostack_io_submit(ctx_id(ctx), nr, ios);
}

IOSTACK_EXPORT int io_cancel_0_4(io_context_t ctx, struct iocb *iocb, struct io_event *evt) {
  return iostack_io_cancel(ctx_id(ctx), iocb, evt);
}

IOSTACK_EXPORT int io_getevents_0_4(io_context_t ctx, long min_nr, long nr, struct io_event *events,
                                struct timespec *timeout) {
  if (ring_empty_poll(ctx, timeout)) return 0;
  return (int)iostack_io_getevents(ctx_id(ctx), min_nr, nr, events, timeout);
}

IOSTACK_EXPORT int io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
                                 struct timespec *timeout, sigset_t *sigmask) {
  struct iostack_aio_sigset ss;
  if (ring_empty_poll(ctx, timeout)) return 0;
  ss.sigmask = sigmask;
  ss.sigsetsize = 8; /* _NSIG / 8 */
  return (int)iostack_io_pgetevents(ctx_id(ctx), min_nr, nr, events, timeout, &ss);
}

IOSTACK_EXPORT int io_queue_wait_0_4(io_context_t ctx, struct timespec *timeout) {
  return io_getevents_0_4(ctx, 0, 0, NULL, timeout);
}

/* --- LIBAIO_0.1 --- */

IOSTACK_EXPORT int io_queue_init(int maxevents, io_context_t *ctxp) {
  if (maxevents <= 0) return -22; /* -EINVAL */
  *ctxp = NULL;
  return io_setup(maxevents, ctxp);
}

IOSTACK_EXPORT int io_queue_release(io_context_t ctx) { return io_destroy(ctx); }

/* Reaps what is ready, one event at a time, calling each iocb's callback
 * (stored in its data field by io_set_callback). */
IOSTACK_EXPORT int io_queue_run(io_context_t ctx) {
  static struct timespec zero;
  struct io_event ev;
  int ret;
  while ((ret = io_getevents_0_4(ctx, 0, 1, &ev, &zero)) == 1) {
    io_callback_t cb;
    /* io_set_callback() stored a function pointer in the data field. */
    memcpy(&cb, &ev.data, sizeof(cb));
    cb(ctx, ev.obj, (long)ev.res, (long)ev.res2);
  }
  return ret;
}

/* Old entry points kept for binaries linked against libaio 0.1-0.3. */
IOSTACK_EXPORT int compat01_io_cancel(io_context_t ctx, struct iocb *iocb) {
  struct io_event ev;
  return io_cancel_0_4(ctx, iocb, &ev);
}

IOSTACK_EXPORT int compat01_io_getevents(io_context_t ctx, long nr, struct io_event *events,
                          const struct timespec *timeout) {
  struct timespec t;
  if (timeout != NULL) t = *timeout;
  return io_getevents_0_4(ctx, 1, nr, events, timeout != NULL ? &t : NULL);
}

IOSTACK_EXPORT int compat01_io_queue_wait(io_context_t ctx, struct timespec *timeout) {
  struct timespec t;
  if (timeout != NULL) t = *timeout;
  return io_getevents_0_4(ctx, 0, 0, NULL, timeout != NULL ? &t : NULL);
}

/* Two versions of three names, as libaio 0.3.113 exports them. */
__asm__(".symver io_cancel_0_4, io_cancel@@LIBAIO_0.4");
__asm__(".symver io_getevents_0_4, io_getevents@@LIBAIO_0.4");
__asm__(".symver io_queue_wait_0_4, io_queue_wait@@LIBAIO_0.4");
__asm__(".symver compat01_io_cancel, io_cancel@LIBAIO_0.1");
__asm__(".symver compat01_io_getevents, io_getevents@LIBAIO_0.1");
__asm__(".symver compat01_io_queue_wait, io_queue_wait@LIBAIO_0.1");
