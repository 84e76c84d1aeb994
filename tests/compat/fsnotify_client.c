/* `fsnotify_client FILE`: an O_DIRECT write and read of FILE through
 * io_uring with an inotify watch on it, then the events it got: the kernel's
 * io_uring raises IN_MODIFY and IN_ACCESS for them (io_req_io_end), as
 * write(2) and read(2) do. Prints "no O_DIRECT here" where the file system
 * refuses O_DIRECT. Exit status 0, or 1 when a call that must work failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "fsnotify_client: %s\n", what);
  exit(1);
}

static int one(struct io_uring* ring) {
  struct io_uring_cqe* cqe;
  if (io_uring_submit_and_wait(ring, 1) != 1 || io_uring_wait_cqe(ring, &cqe) != 0) die("io_uring");
  const int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

int main(int argc, char** argv) {
  if (argc != 2) die("usage: fsnotify_client FILE");
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  if (fd < 0) {
    printf("no O_DIRECT here\n");
    return 0;
  }
  void* buf;
  if (posix_memalign(&buf, 4096, 4096)) die("posix_memalign");
  memset(buf, 'i', 4096);
  const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0 || inotify_add_watch(in, argv[1], IN_ACCESS | IN_MODIFY) < 0) die("inotify");
  struct io_uring ring;
  if (io_uring_queue_init(4, &ring, 0) < 0) die("io_uring_queue_init");
  io_uring_prep_write(io_uring_get_sqe(&ring), fd, buf, 4096, 0);
  printf("write: %d\n", one(&ring));
  io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, 4096, 0);
  printf("read: %d\n", one(&ring));
  int modify = 0, access = 0;
  char events[4096] __attribute__((aligned(8)));
  ssize_t n;
  while ((n = read(in, events, sizeof(events))) > 0) {
    for (char* p = events; p < events + n;) {
      const struct inotify_event* e = (const struct inotify_event*)p;
      modify += !!(e->mask & IN_MODIFY);
      access += !!(e->mask & IN_ACCESS);
      p += sizeof(*e) + e->len;
    }
  }
  printf("IN_MODIFY: %d\nIN_ACCESS: %d\n", modify, access);
  io_uring_queue_exit(&ring);
  close(in);
  close(fd);
  return 0;
}
