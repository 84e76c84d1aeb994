/* The raw system call wrappers liburing 2.3 exports (LIBURING_2.3). Like
 * liburing's own, they return -errno and leave errno alone. */
#include <signal.h>

#include "internal.h"

URING_EXPORT int io_uring_setup(unsigned int entries, struct io_uring_params* p) {
  return iostack_io_uring_setup(entries, p);
}

URING_EXPORT int io_uring_enter2(unsigned int fd, unsigned int to_submit, unsigned int min_complete,
                                 unsigned int flags, sigset_t* sig, size_t sz) {
  return iostack_io_uring_enter((int)fd, to_submit, min_complete, flags, sig, sz);
}

URING_EXPORT int io_uring_enter(unsigned int fd, unsigned int to_submit, unsigned int min_complete,
                                unsigned int flags, sigset_t* sig) {
  return io_uring_enter2(fd, to_submit, min_complete, flags, sig, _NSIG / 8);
}

URING_EXPORT int io_uring_register(unsigned int fd, unsigned int opcode, const void* arg,
                                   unsigned int nr_args) {
  return iostack_io_uring_register((int)fd, opcode, (void*)arg, nr_args);
}
