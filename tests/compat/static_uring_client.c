/* A liburing program linked with the system's liburing.a: every io_uring
 * system call, the mmap of the rings and their munmap/close are inline
 * `syscall` instructions, so only the preload shim's seccomp trap (and the
 * call-site rewriting behind it) can take them to iostack. The compat tests
 * run it on the kernel and under a filter refusing the kernel's io_uring
 * with the shim preloaded; both runs must print the same lines.
 * Usage: static_uring_client SCRATCH_FILE [NOPS]. Exit 0 when all holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* Submits what is queued and reaps one CQE; returns its res. */
static int one(struct io_uring* ring, unsigned long long expect_ud) {
  int ret = io_uring_submit_and_wait(ring, 1);
  CHECK(ret == 1, "submit_and_wait %d", ret);
  struct io_uring_cqe* cqe;
  ret = io_uring_wait_cqe(ring, &cqe);
  CHECK(ret == 0, "wait_cqe %d", ret);
  if (ret) return ret;
  CHECK(cqe->user_data == expect_ud, "user_data %llu, expected %llu",
        (unsigned long long)cqe->user_data, expect_ud);
  const int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRATCH_FILE [NOPS]\n", argv[0]);
    return 2;
  }
  const int nops = argc > 2 ? atoi(argv[2]) : 100;
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct io_uring ring;
  int ret = io_uring_queue_init(8, &ring, 0);
  printf("queue_init %d\n", ret < 0 ? -1 : ret);
  if (ret < 0) return 1;
  /* The rings are mapped and live: the kernel's (or iostack's) sizes. */
  printf("sq entries %u cq entries %u\n", *ring.sq.kring_entries, *ring.cq.kring_entries);

  /* Many NOPs from the same call sites: after the first traps, rewritten
   * sites reach iostack without a signal (the test counts the traps). */
  int nop_bad = 0;
  for (int i = 0; i < nops; ++i) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    sqe->user_data = 1000 + (unsigned)i;
    if (one(&ring, 1000 + (unsigned long long)i) != 0) ++nop_bad;
  }
  printf("nops %d bad %d\n", nops, nop_bad);

  /* A write and a read back through the ring. */
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0, "open %s: %s", argv[1], strerror(errno));
  static char out[8192], in[8192];
  for (size_t i = 0; i < sizeof(out); ++i) out[i] = (char)(i * 7 + 3);
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_write(sqe, fd, out, sizeof(out), 4096);
  sqe->user_data = 1;
  printf("write res %d\n", one(&ring, 1));
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read(sqe, fd, in, sizeof(in), 4096);
  sqe->user_data = 2;
  const int read_res = one(&ring, 2);
  printf("read res %d same %d\n", read_res, memcmp(in, out, sizeof(in)) == 0);
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read(sqe, fd, in, sizeof(in), 8192);
  sqe->user_data = 3;
  printf("short read res %d\n", one(&ring, 3));
  close(fd);
  unlink(argv[1]);

  /* io_uring_register (probe) through the inline system call. */
  struct io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  CHECK(probe != NULL, "get_probe_ring");
  if (probe) {
    printf("probe nop %d read %d write %d\n", io_uring_opcode_supported(probe, IORING_OP_NOP),
           io_uring_opcode_supported(probe, IORING_OP_READ),
           io_uring_opcode_supported(probe, IORING_OP_WRITE));
    io_uring_free_probe(probe);
  }

  const int ring_fd = ring.ring_fd;
  io_uring_queue_exit(&ring);
  printf("ring fd closed %d\n", fcntl(ring_fd, F_GETFD) < 0 && errno == EBADF);

  /* A second ring after the first is gone (it may get the same fd). */
  ret = io_uring_queue_init(4, &ring, 0);
  printf("queue_init again %d\n", ret < 0 ? -1 : ret);
  if (ret == 0) {
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    sqe->user_data = 7;
    printf("nop res %d\n", one(&ring, 7));
    /* The kernel refuses to pass a ring in SCM_RIGHTS. */
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0, "socketpair");
    char byte = 'r';
    struct iovec iov = {&byte, 1};
    union {
      struct cmsghdr h;
      char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = &control,
                         .msg_controllen = sizeof(control)};
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &ring.ring_fd, sizeof(int));
    const ssize_t sent = sendmsg(sp[0], &msg, 0);
    printf("send ring fd %zd %s\n", sent, sent < 0 ? strerror(errno) : "");
    close(sp[0]);
    close(sp[1]);
    /* Closing the ring (an inline close here) lets go of its registered
     * files at once: a pipe's reader sees end of file. */
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    CHECK(io_uring_register_files(&ring, fds, 2) == 0, "register_files");
    close(fds[1]);
    io_uring_queue_exit(&ring);
    struct pollfd p = {fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, 10000);
    printf("registered pipe eof %d\n", ready == 1 && read(fds[0], &byte, 1) == 0);
    close(fds[0]);
  }
  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
