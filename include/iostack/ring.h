/* liburing's library half on iostack's io_uring: struct io_uring of the
 * system's <liburing.h> (liburing 2.3's layout) set up, submitted and reaped
 * over iostack_io_uring_* exactly as liburing does it over the system calls.
 * The drop-in liburing.so.2 is these functions under liburing's names; code
 * inside the project (the job engine, benchmarks) calls them directly and
 * keeps <liburing.h>'s inline helpers (io_uring_get_sqe, io_uring_prep_*,
 * io_uring_cqe_seen, io_uring_cq_advance, ...). Avoid the inline helpers
 * that call out of line (io_uring_wait_cqe, io_uring_peek_cqe on an empty
 * ring): they name liburing's own symbols. Not part of iostack.h, so that
 * users of the rest of the C API need no <liburing.h>. */
#ifndef IOSTACK_RING_H
#define IOSTACK_RING_H

#include <liburing.h>
/* After <liburing.h>: both headers guard the uapi with LINUX_IO_URING_H. */
#include "iostack/export.h"
#include "iostack/uring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ring->int_flags bit liburing 2.3 sets once the ring fd is registered
 * (io_uring_register_ring_fd): enters then use the registered index. */
#define IOSTACK_RING_INT_FLAG_REG_RING 1
/* And liburing 2.4's, set beside it where the engine takes io_uring_register
 * by the registered index too (IORING_FEAT_REG_REG_RING): the ring fd may
 * then be closed (io_uring_close_ring_fd). */
#define IOSTACK_RING_INT_FLAG_REG_REG_RING 2
/* The rings of an IORING_SETUP_NO_MMAP ring are in the program's memory
 * (io_uring_queue_init_mem): teardown leaves it alone. */
#define IOSTACK_RING_INT_FLAG_APP_MEM 4

/* io_uring_queue_init_params / io_uring_queue_init / io_uring_queue_mmap /
 * io_uring_queue_exit / io_uring_ring_dontfork. */
IOSTACK_API int iostack_ring_queue_init_params(unsigned entries, struct io_uring* ring,
                                               struct io_uring_params* p);
IOSTACK_API int iostack_ring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags);
/* io_uring_queue_init_mem: an IORING_SETUP_NO_MMAP ring whose SQEs and rings
 * are laid out in `buf` (`buf_size` bytes, page aligned) as liburing lays
 * them out; the bytes used, or -errno (-ENOMEM when they do not fit). */
IOSTACK_API int iostack_ring_queue_init_mem(unsigned entries, struct io_uring* ring,
                                            struct io_uring_params* p, void* buf, size_t buf_size);
IOSTACK_API int iostack_ring_queue_mmap(int fd, struct io_uring_params* p, struct io_uring* ring);
IOSTACK_API void iostack_ring_queue_exit(struct io_uring* ring);
IOSTACK_API int iostack_ring_dontfork(struct io_uring* ring);
/* io_uring_resize_rings (liburing 2.9): IORING_REGISTER_RESIZE_RINGS, then
 * the new rings mapped in `ring` (not for NO_MMAP rings: -EINVAL). */
IOSTACK_API int iostack_ring_resize_rings(struct io_uring* ring, struct io_uring_params* p);
/* io_uring_register_ring_fd / io_uring_unregister_ring_fd. */
IOSTACK_API int iostack_ring_register_ring_fd(struct io_uring* ring);
IOSTACK_API int iostack_ring_unregister_ring_fd(struct io_uring* ring);
/* io_uring_close_ring_fd (liburing 2.4): 1 once the ring is reached only
 * through its registered index. */
IOSTACK_API int iostack_ring_close_ring_fd(struct io_uring* ring);
/* io_uring_register(2) on `ring` as liburing's do_register makes it: by the
 * registered index where the ring has one that register accepts. */
IOSTACK_API int iostack_ring_register(struct io_uring* ring, unsigned opcode, const void* arg,
                                      unsigned nr);

/* io_uring_submit / io_uring_submit_and_wait / io_uring_submit_and_get_events. */
IOSTACK_API int iostack_ring_submit(struct io_uring* ring);
IOSTACK_API int iostack_ring_submit_and_wait(struct io_uring* ring, unsigned wait_nr);
IOSTACK_API int iostack_ring_submit_and_get_events(struct io_uring* ring);
/* io_uring_get_sqe (out of line, as liburing 2.3 also exports it). */
IOSTACK_API struct io_uring_sqe* iostack_ring_get_sqe(struct io_uring* ring);

/* __io_uring_get_cqe, io_uring_get_events, io_uring_peek_batch_cqe,
 * io_uring_wait_cqes, io_uring_submit_and_wait_timeout,
 * io_uring_wait_cqe_timeout and __io_uring_sqring_wait. */
IOSTACK_API int iostack_ring_get_cqe(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                     unsigned submit, unsigned wait_nr, sigset_t* sigmask);
IOSTACK_API int iostack_ring_get_events(struct io_uring* ring);
IOSTACK_API unsigned iostack_ring_peek_batch_cqe(struct io_uring* ring, struct io_uring_cqe** cqes,
                                                 unsigned count);
IOSTACK_API int iostack_ring_wait_cqes(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                       unsigned wait_nr, struct __kernel_timespec* ts,
                                       sigset_t* sigmask);
IOSTACK_API int iostack_ring_submit_and_wait_timeout(struct io_uring* ring,
                                                     struct io_uring_cqe** cqe_ptr,
                                                     unsigned wait_nr, struct __kernel_timespec* ts,
                                                     sigset_t* sigmask);
/* io_uring_wait_cqes_min_timeout (submit 0) and
 * io_uring_submit_and_wait_min_timeout (submit 1): the wait argument carries
 * min_wait_usec when the ring has IORING_FEAT_MIN_TIMEOUT. */
IOSTACK_API int iostack_ring_wait_min_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                              int submit, unsigned wait_nr,
                                              struct __kernel_timespec* ts, unsigned min_wait_usec,
                                              sigset_t* sigmask);
IOSTACK_API int iostack_ring_wait_cqe_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                              struct __kernel_timespec* ts);
IOSTACK_API int iostack_ring_sqring_wait(struct io_uring* ring);

/* The io_uring_enter calls this thread's ring client made since it started,
 * and how many of them woke an SQPOLL thread (for a caller counting its own
 * system calls as fio's engines do). */
struct iostack_ring_counters {
  unsigned long long enters;
  unsigned long long sq_wakeups;
};
IOSTACK_API void iostack_ring_thread_counters(struct iostack_ring_counters* out);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_RING_H */
