/* Shared by the drop-in liburing's sources: the system's <liburing.h> (so
 * struct io_uring is exactly the one programs were compiled with) and the
 * iostack engine that replaces the kernel's io_uring. */
#ifndef IOSTACK_COMPAT_LIBURING_INTERNAL_H
#define IOSTACK_COMPAT_LIBURING_INTERNAL_H

/* Makes <liburing.h> declare io_uring_get_sqe instead of inlining it: 2.3
 * exports it. */
#define LIBURING_INTERNAL 1

#include <liburing.h>

/* After <liburing.h>: both headers guard the uapi with LINUX_IO_URING_H. */
#include "iostack/uring.h"

#define URING_EXPORT __attribute__((visibility("default")))

/* ring->int_flags bit liburing 2.3 sets after io_uring_register_ring_fd. */
#define DROPIN_INT_FLAG_REG_RING 1

/* Enter flags for a ring, adding REGISTERED_RING when its fd is registered. */
static inline unsigned dropin_enter_flags(const struct io_uring* ring, unsigned flags) {
  if (ring->int_flags & DROPIN_INT_FLAG_REG_RING) flags |= IORING_ENTER_REGISTERED_RING;
  return flags;
}

#endif
