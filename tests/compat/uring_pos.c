/* io_uring reads and writes at offset -1 (the file position), printed step
 * by step with the position lseek(2) then reports: they start where read(2)
 * and lseek(2) left it and move it on, as f_pos (compared between a real
 * file and a mapped one). Block-sized, aligned steps, which direct I/O
 * takes too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static struct io_uring ring;
static char* buf;

static int run(int fd, int write, int fixed) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (write)
    io_uring_prep_write(sqe, fd, buf, 4096, -1);
  else
    io_uring_prep_read(sqe, fd, buf, 4096, -1);
  if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_submit(&ring);
  struct io_uring_cqe* cqe;
  if (io_uring_wait_cqe(&ring, &cqe) != 0) return -1;
  const int res = cqe->res;
  io_uring_cqe_seen(&ring, cqe);
  return res;
}

static long pos(int fd) { return (long)lseek(fd, 0, SEEK_CUR); }

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || posix_memalign((void**)&buf, 4096, 4096) != 0) return 1;
  if (io_uring_queue_init(4, &ring, 0) != 0) return 1;
  memset(buf, 'a', 4096);
  for (int i = 0; i < 4; ++i)
    if (write(fd, buf, 4096) != 4096) return 1;
  memset(buf, 'b', 4096);
  pwrite(fd, buf, 4096, 8192);
  printf("after 4 writes: pos %ld\n", pos(fd));
  lseek(fd, 4096, SEEK_SET);
  int r = run(fd, 0, 0);
  printf("io_uring read at -1 from 4096: %d '%c', pos %ld\n", r, buf[0], pos(fd));
  r = (int)read(fd, buf, 4096);
  printf("read(): %d '%c', pos %ld\n", r, buf[0], pos(fd));
  memset(buf, 'c', 4096);
  r = run(fd, 1, 0);
  printf("io_uring write at -1: %d, pos %ld\n", r, pos(fd));
  r = run(fd, 0, 0);
  printf("io_uring read at -1 at the end: %d, pos %ld\n", r, pos(fd));
  memset(buf, 'd', 4096);
  r = run(fd, 1, 0);
  struct stat st;
  fstat(fd, &st);
  printf("io_uring write at -1 past the end: %d, pos %ld, size %ld\n", r, pos(fd),
         (long)st.st_size);
  if (io_uring_register_files(&ring, &fd, 1) != 0) return 1;
  lseek(fd, 8192, SEEK_SET);
  r = run(0, 0, 1);
  printf("fixed file read at -1 from 8192: %d '%c', pos %ld\n", r, buf[0], pos(fd));
  char c = 0;
  pread(fd, &c, 1, 12288);
  printf("pread 12288: '%c'\n", c);
  return 0;
}
