/* One engine behind every io_uring door: a program built against the
 * SYSTEM liburing makes a ring with io_uring_queue_init(), queues a NOP
 * through liburing and waits for it with a raw
 * syscall(__NR_io_uring_enter, ..., IORING_ENTER_GETEVENTS) on the same
 * ring fd; then the other way round (ring fd from the raw io_uring_setup
 * system call, mapped and driven by liburing). Run with the drop-in
 * liburing.so.2 and the preload shim, both doors must reach the same ring.
 * Exit status 0 when every check holds; one line per step on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
  printf("%s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

/* The raw system calls, through libc's syscall(): -errno on failure. */
static long raw(long ret) { return ret < 0 ? -errno : ret; }

/* Queues a NOP tagged `tag` through liburing; what io_uring_submit says. */
static int queue_nop(struct io_uring* ring, __u64 tag) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) return -EBUSY;
  io_uring_prep_nop(sqe);
  sqe->user_data = tag;
  return io_uring_submit(ring);
}

/* The CQ ring holds exactly one CQE: the NOP tagged `tag`, succeeded. */
static int reap_nop(struct io_uring* ring, __u64 tag) {
  struct io_uring_cqe* cqe = NULL;
  if (io_uring_peek_cqe(ring, &cqe) != 0 || !cqe) return 0;
  const int ok = cqe->user_data == tag && cqe->res == 0;
  io_uring_cqe_seen(ring, cqe);
  return ok && io_uring_cq_ready(ring) == 0;
}

int main(void) {
  /* liburing's ring, raw io_uring_enter. */
  struct io_uring ring;
  int ret = io_uring_queue_init(8, &ring, 0);
  printf("liburing queue_init %d\n", ret);
  if (ret == 0) {
    check(queue_nop(&ring, 0x1234) == 1, "liburing submit");
    const long n = raw(syscall(__NR_io_uring_enter, ring.ring_fd, 0U, 1U, IORING_ENTER_GETEVENTS,
                               NULL, (size_t)(_NSIG / 8)));
    printf("raw io_uring_enter %ld\n", n);
    check(n == 0 && reap_nop(&ring, 0x1234), "cqe");
    io_uring_queue_exit(&ring);
  } else {
    ++failures;
  }

  /* Raw io_uring_setup, liburing's mapping, submission and wait. */
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  const long fd = raw(syscall(__NR_io_uring_setup, 8U, &p));
  printf("raw io_uring_setup %s\n", fd >= 0 ? "fd" : strerror((int)-fd));
  if (fd >= 0) {
    memset(&ring, 0, sizeof(ring));
    ret = io_uring_queue_mmap((int)fd, &p, &ring);
    printf("liburing queue_mmap %d\n", ret);
    if (ret == 0) {
      check(queue_nop(&ring, 0x5678) == 1, "liburing submit");
      struct io_uring_cqe* cqe = NULL;
      check(io_uring_wait_cqe(&ring, &cqe) == 0 && reap_nop(&ring, 0x5678), "cqe");
      io_uring_queue_exit(&ring);
    } else {
      ++failures;
      close((int)fd);
    }
  } else {
    ++failures;
  }

  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
