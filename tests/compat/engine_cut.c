/* `engine_cut FILE [direct]`: 8 writes of 4096 bytes ('a', 'b', ...) to the
 * pages of FILE, in turn io_uring WRITE and AIO PWRITE, each with RWF_DSYNC,
 * on a descriptor without or with O_DIRECT; the file is 32 KiB and durable
 * before them. Prints a line after each write. Under `iostack exec --map
 * FILE=... --powercut=calls=N` the power goes after the Nth of them, as
 * after the Nth write(2) (tests/compat/map_exec_test.cpp). Exit status 0,
 * or 1 when a call failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "engine_cut: %s\n", what);
  exit(1);
}

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "direct") == 0)) {
    fprintf(stderr, "usage: engine_cut FILE [direct]\n");
    return 2;
  }
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | (argc == 3 ? O_DIRECT : 0), 0644);
  if (fd < 0) die("open");
  if (ftruncate(fd, 8 * 4096) != 0 || fsync(fd) != 0) die("ftruncate");
  char* buf;
  if (posix_memalign((void**)&buf, 4096, 4096)) die("memory");
  struct io_uring ring;
  aio_context_t ctx = 0;
  if (io_uring_queue_init(4, &ring, 0) != 0) die("io_uring_queue_init");
  if (syscall(SYS_io_setup, 4, &ctx) != 0) die("io_setup");
  for (int i = 0; i < 8; ++i) {
    memset(buf, 'a' + i, 4096);
    long res;
    if (i % 2 == 0) {
      struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_write(sqe, fd, buf, 4096, (unsigned long long)i * 4096);
      sqe->rw_flags = RWF_DSYNC;
      struct io_uring_cqe* cqe;
      if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_wait_cqe(&ring, &cqe) != 0)
        die("io_uring");
      res = cqe->res;
      io_uring_cqe_seen(&ring, cqe);
    } else {
      struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PWRITE,
                        .aio_fildes = (unsigned)fd,
                        .aio_buf = (unsigned long)buf,
                        .aio_nbytes = 4096,
                        .aio_offset = (long long)i * 4096,
                        .aio_rw_flags = RWF_DSYNC};
      struct iocb* cbs[1] = {&cb};
      struct io_event ev;
      if (syscall(SYS_io_submit, ctx, 1, cbs) != 1 ||
          syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1)
        die("aio");
      res = (long)ev.res;
    }
    printf("%s write %d: %ld\n", i % 2 ? "aio" : "io_uring", i, res);
    fflush(stdout);
    if (res != 4096) return 1;
  }
  return 0;
}
