/* `direct_size FILE`: io_uring and AIO direct reads and writes on FILE
 * against its size, one line per step with the result and the size fstat
 * shows after it: writes past the end extend the file, reads past it are
 * short (0 at or after it), buffered writes are seen by direct reads and
 * direct writes by buffered reads, and an io_uring fsync makes the size
 * durable. Run on a real file it prints what the kernel does; under
 * `iostack exec --map FILE=...` the output must be the same
 * (tests/compat/map_exec_test.cpp). Last, it writes "volatile" with
 * write(2) and fsyncs (a power cut there leaves what the io_uring fsync made
 * durable). Exit status 0, or 1 when a call that must work failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aio_call.h"
#include "uring_call.h"

static int fd;
static struct io_uring ring;
static char* buf; /* 64 KiB, 4096-aligned */

static void die(const char* what) {
  fprintf(stderr, "direct_size: %s\n", what);
  exit(1);
}

static long size(void) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  return (long)st.st_size;
}

static void show(const char* what, long res) { printf("%s: %ld, size %ld\n", what, res, size()); }

static long uring_rw(int write, long off, unsigned len) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (write)
    io_uring_prep_write(sqe, fd, buf, len, off);
  else
    io_uring_prep_read(sqe, fd, buf, len, off);
  const long long res = uring_call(&ring);
  if (res == 1LL << 62) die("io_uring");
  return (long)res;
}

static long uring_fsync(void) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_fsync(sqe, fd, 0);
  const long long res = uring_call(&ring);
  if (res == 1LL << 62) die("io_uring fsync");
  return (long)res;
}

static long aio_rw(int write, long off, unsigned len) {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) != 0) die("io_setup");
  const long long res = aio_call(ctx, write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD, fd, buf, len, off);
  if (res == 1LL << 62) die("io_submit");
  syscall(SYS_io_destroy, ctx);
  return (long)res;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: direct_size FILE\n");
    return 2;
  }
  fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) die("open");
  const int plain = open(argv[1], O_RDWR);
  if (plain < 0) die("open without O_DIRECT");
  if (posix_memalign((void**)&buf, 4096, 65536)) die("memory");
  if (io_uring_queue_init(4, &ring, 0) != 0) die("io_uring_queue_init");

  show("start", 0);
  memset(buf, 'a', 4096);
  show("io_uring write 4096 at 8192", uring_rw(1, 8192, 4096));
  show("io_uring read 4096 at 12288", uring_rw(0, 12288, 4096));
  show("io_uring read 8192 at 8192", uring_rw(0, 8192, 8192));
  show("io_uring read 4096 at 0 (a hole)", uring_rw(0, 0, 4096));
  printf("  first byte %d\n", buf[0]);
  if (ftruncate(fd, 10000) != 0) die("ftruncate");
  show("io_uring read 4096 at 8192 after truncate to 10000", uring_rw(0, 8192, 4096));
  show("io_uring read 512 at 9728", uring_rw(0, 9728, 512));
  show("io_uring read 512 at 10240", uring_rw(0, 10240, 512));
  memset(buf, 'b', 4096);
  show("aio write 4096 at 16384", aio_rw(1, 16384, 4096));
  show("aio read 8192 at 16384", aio_rw(0, 16384, 8192));
  show("aio read 4096 at 20480", aio_rw(0, 20480, 4096));
  show("io_uring write 512 at 20480", uring_rw(1, 20480, 512));
  show("io_uring write 1000 at 0 (unaligned)", uring_rw(1, 0, 1000));

  /* Buffered and direct views of the same bytes. */
  show("buffered pwrite 6 at 0", pwrite(plain, "hello!", 6, 0));
  show("io_uring read 512 at 0", uring_rw(0, 0, 512));
  printf("  read back %.6s\n", buf);
  char small[8] = {0};
  show("buffered pread 6 at 0", pread(plain, small, 6, 0));
  memset(buf, 'c', 512);
  show("io_uring write 512 at 0", uring_rw(1, 0, 512));
  show("buffered pread 6 at 0", pread(plain, small, 6, 0));
  printf("  read back %.6s\n", small);

  show("io_uring fsync", uring_fsync());
  fflush(stdout);
  /* Past the durable size: a cut at this fsync leaves 20992 bytes. */
  if (pwrite(plain, "volatile", 8, 20992) != 8) die("write");
  if (fsync(plain) != 0) die("fsync");
  show("fsync after a buffered write at 20992", 0);
  io_uring_queue_exit(&ring);
  close(plain);
  close(fd);
  return 0;
}
