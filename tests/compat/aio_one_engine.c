/* One engine behind every AIO door: a program built against the SYSTEM
 * libaio makes a context with libaio's io_setup(), queues a read with
 * io_submit() and reaps it with a raw syscall(__NR_io_getevents), the way
 * databases mix the two; then the other way round (context from the raw
 * io_setup system call, read queued and reaped through libaio). Run with
 * the drop-in libaio.so.1 and the preload shim, both doors must reach the
 * same context. Usage: aio_one_engine SCRATCH_FILE. Exit status 0 when
 * every check holds; one line per step on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kLen = 4096 };

static int failures;

static void check(int ok, const char* what) {
  printf("%s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

/* The raw system calls, through libc's syscall(): -errno on failure. */
static long raw(long ret) { return ret < 0 ? -errno : ret; }

/* Queues a read of the file's first block into `buf`; 1 or -errno. */
static long submit_read(io_context_t ctx, struct iocb* cb, int fd, char* buf) {
  struct iocb* list[1] = {cb};
  memset(buf, 0, kLen);
  io_prep_pread(cb, fd, buf, kLen, 0);
  cb->data = cb;
  return io_submit(ctx, 1, list);
}

/* The event read back the file's pattern for this iocb. */
static int event_ok(const struct io_event* ev, const struct iocb* cb, const char* buf) {
  char want[kLen];
  memset(want, 'q', sizeof(want));
  return ev->obj == cb && ev->res == kLen && ev->data == cb && memcmp(buf, want, kLen) == 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SCRATCH_FILE\n", argv[0]);
    return 2;
  }
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror("open");
    return 2;
  }
  char pattern[kLen];
  memset(pattern, 'q', sizeof(pattern));
  if (pwrite(fd, pattern, kLen, 0) != kLen) {
    perror("pwrite");
    return 2;
  }
  static char buf[kLen] __attribute__((aligned(4096)));
  struct timespec five = {5, 0};
  struct io_event ev;
  struct iocb cb;

  /* libaio's io_setup, raw io_getevents. */
  io_context_t ctx = 0;
  int ret = io_setup(8, &ctx);
  printf("libaio io_setup %d\n", ret);
  if (ret == 0) {
    check(submit_read(ctx, &cb, fd, buf) == 1, "libaio io_submit");
    memset(&ev, 0, sizeof(ev));
    const long n = raw(syscall(__NR_io_getevents, ctx, 1L, 1L, &ev, &five));
    printf("raw io_getevents %ld\n", n);
    check(n == 1 && event_ok(&ev, &cb, buf), "event");
    check(raw(syscall(__NR_io_destroy, ctx)) == 0, "raw io_destroy");
  } else {
    ++failures;
  }

  /* Raw io_setup, libaio's io_submit and io_getevents. */
  /* io_context_t is libaio's name for the kernel's aio_context_t. */
  ctx = 0;
  const long r = raw(syscall(__NR_io_setup, 8U, &ctx));
  printf("raw io_setup %ld\n", r);
  if (r == 0) {
    check(submit_read(ctx, &cb, fd, buf) == 1, "libaio io_submit");
    memset(&ev, 0, sizeof(ev));
    const int n = io_getevents(ctx, 1, 1, &ev, &five);
    printf("libaio io_getevents %d\n", n);
    check(n == 1 && event_ok(&ev, &cb, buf), "event");
    check(io_destroy(ctx) == 0, "libaio io_destroy");
  } else {
    ++failures;
  }

  close(fd);
  unlink(argv[1]);
  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
