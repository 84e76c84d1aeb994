/* `held_locks FILE`: a POSIX (fcntl) lock on FILE must outlive requests
 * that hold the file while they run: an AIO O_DIRECT read (a worker's),
 * io_uring writes sent to io-wq, a registered file unregistered, each
 * through descriptors of the file other than the one the lock was taken
 * with. Closing a descriptor of the file drops the lock (the program's own
 * close, on the kernel too). After each step a forked child, with FILE
 * opened anew, prints whether it sees the lock. Run on the kernel it prints
 * what the kernel does; under iostack (the kernel's io_uring and AIO
 * refused) the output must be the same. Exit status 0, or 1 when a call
 * that must work failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aio_call.h"
#include "uring_call.h"

static const char* path;

static void die(const char* what) {
  fprintf(stderr, "held_locks: %s\n", what);
  exit(1);
}

/* What a child that opens FILE anew sees of [0, 100). */
static void show(const char* step) {
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    const int fd = open(path, O_RDWR);
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    if (fd < 0 || fcntl(fd, F_GETLK, &l) != 0) _exit(1);
    printf("%s: %s\n", step, l.l_type == F_UNLCK ? "unlocked" : "locked by the parent");
    fflush(stdout);
    _exit(0);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("child");
}

static void lock(int fd) {
  struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
  if (fcntl(fd, F_SETLK, &l) != 0) die("F_SETLK");
}

int main(int argc, char** argv) {
  if (argc != 2) die("usage: held_locks FILE");
  path = argv[1];
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 1 << 16) != 0) die("open");
  void* buf;
  if (posix_memalign(&buf, 4096, 4096) != 0) die("memalign");
  memset(buf, 'x', 4096);

  lock(fd);
  show("locked");

  const int dfd = open(path, O_RDWR | O_DIRECT);
  if (dfd < 0) {
    printf("no O_DIRECT here\n");
    return 0;
  }
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 8, &ctx) != 0) die("io_setup");
  printf("aio O_DIRECT read: %lld\n", aio_call(ctx, IOCB_CMD_PREAD, dfd, buf, 4096, 0));
  printf("aio fsync: %lld\n", aio_call(ctx, IOCB_CMD_FSYNC, dfd, NULL, 0, 0));
  show("after AIO");

  struct io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) die("io_uring_queue_init");
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_write(sqe, dfd, buf, 4096, 4096);
  sqe->flags |= IOSQE_ASYNC;
  printf("io_uring async write: %lld\n", uring_call(&ring));
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_fsync(sqe, dfd, 0);
  sqe->flags |= IOSQE_ASYNC;
  printf("io_uring async fsync: %lld\n", uring_call(&ring));
  show("after io-wq");

  if (io_uring_register_files(&ring, &dfd, 1) != 0) die("register_files");
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read(sqe, 0, buf, 4096, 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  printf("io_uring fixed read: %lld\n", uring_call(&ring));
  if (io_uring_unregister_files(&ring) != 0) die("unregister_files");
  show("after a registered file");

  io_uring_queue_exit(&ring);
  syscall(SYS_io_destroy, ctx);
  show("after the ring and the AIO context went");

  close(dfd);
  show("after closing another descriptor of the file");
  lock(fd);
  if (io_uring_queue_init(8, &ring, 0) != 0) die("io_uring_queue_init");
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_write(sqe, fd, buf, 4096, 0);
  sqe->flags |= IOSQE_ASYNC;
  printf("io_uring async write through the locking descriptor: %lld\n", uring_call(&ring));
  io_uring_queue_exit(&ring);
  show("locked again");
  close(fd);
  show("after closing the locking descriptor");
  return 0;
}
