/* liburing 2.3's setup, submission and completion calls: libiostack.so.0's
 * ring client (iostack/ring.h) under liburing's names and symbol versions. */
#include "internal.h"

URING_EXPORT int io_uring_queue_init_params(unsigned entries, struct io_uring* ring,
                                            struct io_uring_params* p) {
  return iostack_ring_queue_init_params(entries, ring, p);
}

URING_EXPORT int io_uring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags) {
  return iostack_ring_queue_init(entries, ring, flags);
}

URING_EXPORT int io_uring_queue_mmap(int fd, struct io_uring_params* p, struct io_uring* ring) {
  return iostack_ring_queue_mmap(fd, p, ring);
}

URING_EXPORT void io_uring_queue_exit(struct io_uring* ring) { iostack_ring_queue_exit(ring); }

URING_EXPORT int io_uring_ring_dontfork(struct io_uring* ring) {
  return iostack_ring_dontfork(ring);
}

URING_EXPORT int io_uring_submit(struct io_uring* ring) { return iostack_ring_submit(ring); }

URING_EXPORT int io_uring_submit_and_wait(struct io_uring* ring, unsigned wait_nr) {
  return iostack_ring_submit_and_wait(ring, wait_nr);
}

URING_EXPORT int io_uring_submit_and_get_events(struct io_uring* ring) {
  return iostack_ring_submit_and_get_events(ring);
}

URING_EXPORT struct io_uring_sqe* io_uring_get_sqe(struct io_uring* ring) {
  return iostack_ring_get_sqe(ring);
}

URING_EXPORT int __io_uring_get_cqe(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                    unsigned submit, unsigned wait_nr, sigset_t* sigmask) {
  return iostack_ring_get_cqe(ring, cqe_ptr, submit, wait_nr, sigmask);
}

URING_EXPORT int io_uring_get_events(struct io_uring* ring) {
  return iostack_ring_get_events(ring);
}

URING_EXPORT unsigned io_uring_peek_batch_cqe(struct io_uring* ring, struct io_uring_cqe** cqes,
                                              unsigned count) {
  return iostack_ring_peek_batch_cqe(ring, cqes, count);
}

URING_EXPORT int io_uring_wait_cqes(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                    unsigned wait_nr, struct __kernel_timespec* ts,
                                    sigset_t* sigmask) {
  return iostack_ring_wait_cqes(ring, cqe_ptr, wait_nr, ts, sigmask);
}

URING_EXPORT int io_uring_submit_and_wait_timeout(struct io_uring* ring,
                                                  struct io_uring_cqe** cqe_ptr, unsigned wait_nr,
                                                  struct __kernel_timespec* ts, sigset_t* sigmask) {
  return iostack_ring_submit_and_wait_timeout(ring, cqe_ptr, wait_nr, ts, sigmask);
}

URING_EXPORT int io_uring_wait_cqe_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                           struct __kernel_timespec* ts) {
  return iostack_ring_wait_cqe_timeout(ring, cqe_ptr, ts);
}

URING_EXPORT int __io_uring_sqring_wait(struct io_uring* ring) {
  return iostack_ring_sqring_wait(ring);
}
