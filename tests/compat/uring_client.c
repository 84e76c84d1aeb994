/* A liburing program built against the system's <liburing.h> and linked
 * with the system's liburing.so.2. The compat tests run it on the kernel
 * and, via LD_LIBRARY_PATH, on the drop-in library under a seccomp filter
 * that blocks the kernel's io_uring; both runs must print the same lines.
 * Usage: uring_client SCRATCH_FILE. Exit status 0 when every check holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"

struct result {
  uint64_t user_data;
  int res;
};

static int by_user_data(const void* a, const void* b) {
  const struct result *x = a, *y = b;
  return x->user_data < y->user_data ? -1 : x->user_data > y->user_data;
}

/* Submits what is queued, reaps `n` CQEs and prints them in user_data
 * order, so the output does not depend on completion order. */
static void run(struct io_uring* ring, const char* what, unsigned n, struct result* out) {
  struct result r[16];
  int ret = io_uring_submit_and_wait(ring, n);
  CHECK(ret >= 0, "%s: submit_and_wait %d", what, ret);
  for (unsigned i = 0; i < n; ++i) {
    struct io_uring_cqe* cqe;
    ret = io_uring_wait_cqe(ring, &cqe);
    CHECK(ret == 0, "%s: wait_cqe %d", what, ret);
    if (ret) return;
    r[i].user_data = cqe->user_data;
    r[i].res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
  }
  qsort(r, n, sizeof(r[0]), by_user_data);
  for (unsigned i = 0; i < n; ++i) {
    printf("%s ud=%llu res=%d\n", what, (unsigned long long)r[i].user_data, r[i].res);
    if (out) out[i] = r[i];
  }
}

static struct io_uring_sqe* sqe_for(struct io_uring* ring, uint64_t user_data) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {
    printf("FAIL: get_sqe returned NULL\n");
    exit(1);
  }
  io_uring_sqe_set_data64(sqe, user_data);
  return sqe;
}

static void nops(struct io_uring* ring) {
  for (uint64_t i = 1; i <= 4; ++i) io_uring_prep_nop(sqe_for(ring, i));
  run(ring, "nop", 4, NULL);
  struct io_uring_cqe* cqe;
  printf("peek_empty %d\n", io_uring_peek_cqe(ring, &cqe));
}

static void read_write(struct io_uring* ring, int fd) {
  static char out[8192], in[8192];
  memset(out, 0x5a, sizeof(out));
  io_uring_prep_write(sqe_for(ring, 1), fd, out, 4096, 0);
  run(ring, "write", 1, NULL);
  io_uring_prep_read(sqe_for(ring, 1), fd, in, 4096, 0);
  run(ring, "read", 1, NULL);
  printf("read_matches %d\n", memcmp(in, out, 4096) == 0);
  /* Reading past the end: a short read. */
  io_uring_prep_read(sqe_for(ring, 1), fd, in, 8192, 2048);
  run(ring, "short_read", 1, NULL);
  io_uring_prep_read(sqe_for(ring, 1), -1, in, 16, 0);
  run(ring, "bad_fd", 1, NULL);
}

static void links(struct io_uring* ring, int fd) {
  static char buf[4096], back[4096];
  memset(buf, 0xa5, sizeof(buf));
  struct io_uring_sqe* sqe = sqe_for(ring, 1);
  io_uring_prep_write(sqe, fd, buf, sizeof(buf), 4096);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_prep_read(sqe_for(ring, 2), fd, back, sizeof(back), 4096);
  run(ring, "link_ok", 2, NULL);
  printf("link_read_matches %d\n", memcmp(buf, back, sizeof(buf)) == 0);
  /* A failing head cancels the rest of the chain. */
  sqe = sqe_for(ring, 1);
  io_uring_prep_read(sqe, -1, back, 16, 0);
  sqe->flags |= IOSQE_IO_LINK;
  sqe = sqe_for(ring, 2);
  io_uring_prep_nop(sqe);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_prep_nop(sqe_for(ring, 3));
  run(ring, "link_fail", 3, NULL);
  /* A hard link carries on past the failure. */
  sqe = sqe_for(ring, 1);
  io_uring_prep_read(sqe, -1, back, 16, 0);
  sqe->flags |= IOSQE_IO_HARDLINK;
  io_uring_prep_nop(sqe_for(ring, 2));
  run(ring, "hardlink", 2, NULL);
}

static void timeouts(struct io_uring* ring) {
  struct __kernel_timespec ms10 = {0, 10 * 1000 * 1000}, s5 = {5, 0};
  io_uring_prep_timeout(sqe_for(ring, 1), &ms10, 0, 0);
  run(ring, "timeout_expires", 1, NULL);
  /* Completes when one other request has completed. */
  io_uring_prep_timeout(sqe_for(ring, 1), &s5, 1, 0);
  io_uring_prep_nop(sqe_for(ring, 2));
  run(ring, "timeout_count", 2, NULL);
  io_uring_prep_timeout_remove(sqe_for(ring, 1), 12345, 0);
  run(ring, "timeout_remove_unknown", 1, NULL);
  /* A linked timeout cancels a request that would wait 5 s. */
  struct io_uring_sqe* sqe = sqe_for(ring, 1);
  io_uring_prep_timeout(sqe, &s5, 0, 0);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_prep_link_timeout(sqe_for(ring, 2), &ms10, 0);
  run(ring, "link_timeout", 2, NULL);
  struct io_uring_cqe* cqe;
  printf("wait_cqe_timeout_empty %d\n", io_uring_wait_cqe_timeout(ring, &cqe, &ms10));
}

static void fixed_buffers(struct io_uring* ring, int fd) {
  static char buf[8192] __attribute__((aligned(4096)));
  struct iovec iov = {buf, sizeof(buf)};
  printf("register_buffers %d\n", io_uring_register_buffers(ring, &iov, 1));
  memset(buf, 0x3c, 4096);
  io_uring_prep_write_fixed(sqe_for(ring, 1), fd, buf, 4096, 8192, 0);
  run(ring, "write_fixed", 1, NULL);
  memset(buf + 4096, 0, 4096);
  io_uring_prep_read_fixed(sqe_for(ring, 1), fd, buf + 4096, 4096, 8192, 0);
  run(ring, "read_fixed", 1, NULL);
  printf("read_fixed_matches %d\n", memcmp(buf, buf + 4096, 4096) == 0);
  /* Outside the registered buffer. */
  io_uring_prep_read_fixed(sqe_for(ring, 1), fd, buf + 4096, 8192, 0, 0);
  run(ring, "read_fixed_out_of_range", 1, NULL);
  printf("unregister_buffers %d\n", io_uring_unregister_buffers(ring));
}

static void registered_files_and_eventfd(struct io_uring* ring, int fd) {
  static char buf[4096];
  printf("register_files %d\n", io_uring_register_files(ring, &fd, 1));
  struct io_uring_sqe* sqe = sqe_for(ring, 1);
  io_uring_prep_read(sqe, 0, buf, sizeof(buf), 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  run(ring, "read_fixed_file", 1, NULL);
  printf("unregister_files %d\n", io_uring_unregister_files(ring));

  const int efd = eventfd(0, EFD_CLOEXEC);
  printf("register_eventfd %d\n", io_uring_register_eventfd(ring, efd));
  io_uring_prep_nop(sqe_for(ring, 1));
  run(ring, "nop_eventfd", 1, NULL);
  uint64_t count = 0;
  const ssize_t got = read(efd, &count, sizeof(count));
  printf("eventfd_read %zd count %llu\n", got, (unsigned long long)count);
  printf("unregister_eventfd %d\n", io_uring_unregister_eventfd(ring));
  close(efd);
}

/* Event loops (qemu's) poll the ring fd: readable while CQEs wait, not
 * once the application has drained the CQ ring. */
static void readiness(struct io_uring* ring) {
  struct pollfd p = {ring->ring_fd, POLLIN, 0};
  io_uring_prep_nop(sqe_for(ring, 1));
  io_uring_submit(ring);
  const int ready = poll(&p, 1, 5000);
  printf("poll_pending %d revents %d\n", ready, p.revents);
  struct io_uring_cqe* cqe;
  if (io_uring_wait_cqe(ring, &cqe) == 0) io_uring_cqe_seen(ring, cqe);
  printf("peek_drained %d\n", io_uring_peek_cqe(ring, &cqe));
  p.revents = 0;
  printf("poll_drained %d revents %d\n", poll(&p, 1, 0), p.revents);
}

static void ring_fd_and_probe(struct io_uring* ring) {
  printf("register_ring_fd %d\n", io_uring_register_ring_fd(ring));
  io_uring_prep_nop(sqe_for(ring, 7));
  run(ring, "nop_registered_ring", 1, NULL);
  printf("unregister_ring_fd %d\n", io_uring_unregister_ring_fd(ring));
  struct io_uring_probe* probe = io_uring_get_probe_ring(ring);
  printf("probe %d\n", probe != NULL);
  if (probe) {
    const int ops[] = {IORING_OP_NOP,     IORING_OP_READ,       IORING_OP_WRITE,
                       IORING_OP_TIMEOUT, IORING_OP_READ_FIXED, IORING_OP_LINK_TIMEOUT};
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i)
      printf("probe op %d supported %d\n", ops[i], io_uring_opcode_supported(probe, ops[i]));
    io_uring_free_probe(probe);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SCRATCH_FILE\n", argv[0]);
    return 2;
  }
  struct io_uring ring;
  const int ret = io_uring_queue_init(8, &ring, 0);
  printf("queue_init %d\n", ret);
  if (ret) return 1;
  printf("sq_entries %u cq_entries %u\n", ring.sq.ring_entries, ring.cq.ring_entries);
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0, "open %s: %s", argv[1], strerror(errno));
  if (fd < 0) return 1;

  nops(&ring);
  read_write(&ring, fd);
  links(&ring, fd);
  timeouts(&ring);
  fixed_buffers(&ring, fd);
  registered_files_and_eventfd(&ring, fd);
  readiness(&ring);
  ring_fd_and_probe(&ring);

  io_uring_queue_exit(&ring);
  close(fd);
  unlink(argv[1]);
  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
