/* One io_uring request through liburing, for the compat tests' C programs:
 * the SQE the caller prepared is submitted and its CQE waited for. */
#ifndef IOSTACK_TESTS_COMPAT_URING_CALL_H
#define IOSTACK_TESTS_COMPAT_URING_CALL_H

#include <liburing.h>

/* The CQE's result, or 1 << 62 when submitting or waiting failed. */
static long long uring_call(struct io_uring* ring) {
  struct io_uring_cqe* cqe;
  if (io_uring_submit_and_wait(ring, 1) != 1 || io_uring_wait_cqe(ring, &cqe) != 0)
    return 1LL << 62;
  const long long res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

#endif
