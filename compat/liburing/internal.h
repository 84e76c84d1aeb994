/* Shared by the drop-in liburing's sources: the system's <liburing.h> (so
 * struct io_uring is exactly the one programs were compiled with) and the
 * iostack engine that replaces the kernel's io_uring. */
#ifndef IOSTACK_COMPAT_LIBURING_INTERNAL_H
#define IOSTACK_COMPAT_LIBURING_INTERNAL_H

/* Makes <liburing.h> declare io_uring_get_sqe instead of inlining it: 2.3
 * exports it. */
#define LIBURING_INTERNAL 1

/* <liburing.h>, then the engine's C API with liburing's library half
 * (iostack_ring_*), which the drop-in exports under liburing's names. */
#include "iostack/ring.h"

#define URING_EXPORT __attribute__((visibility("default")))

#endif
