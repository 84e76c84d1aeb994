/* `engine_append FILE [fork]`: io_uring WRITE, WRITEV and WRITE_FIXED and AIO
 * PWRITE and PWRITEV on an O_APPEND descriptor of FILE (buffered and
 * O_DIRECT), and with RWF_APPEND and RWF_NOAPPEND per request, one line per
 * step with the result, the file's size, the descriptor's position and the
 * file's head. The kernel writes at the end of the file whatever the offset
 * when the write appends (O_APPEND without RWF_NOAPPEND, or RWF_APPEND), and
 * a request at offset -1 leaves the position at the end of what it wrote.
 * On a real file it prints what the kernel does; under `iostack exec --map
 * FILE=...` the output must be the same (tests/compat/map_exec_test.cpp).
 * With `fork` a forked child does it all. Exit status 0, or 1 when a call
 * that must work failed. */
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "in_child.h"

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

static struct io_uring ring;
static aio_context_t ctx;
static char* buf; /* 8 KiB, 4096-aligned, registered */
static const char* path;

static void die(const char* what) {
  fprintf(stderr, "engine_append: %s\n", what);
  exit(1);
}

/* One io_uring request of `op` with `rw_flags`, its result. */
static long uring(int op, int fd, const void* addr, unsigned len, long off, int rw_flags) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_rw(op, sqe, fd, addr, len, (unsigned long long)off);
  sqe->rw_flags = rw_flags;
  if (op == IORING_OP_WRITE_FIXED) sqe->buf_index = 0;
  struct io_uring_cqe* cqe;
  if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_wait_cqe(&ring, &cqe) != 0)
    die("io_uring");
  const long res = cqe->res;
  io_uring_cqe_seen(&ring, cqe);
  return res;
}

/* One AIO request of `cmd` with `rw_flags`, its result. */
static long aio(int cmd, int fd, const void* addr, unsigned len, long off, int rw_flags) {
  struct iocb cb = {.aio_lio_opcode = (unsigned short)cmd,
                    .aio_fildes = (unsigned)fd,
                    .aio_buf = (unsigned long)addr,
                    .aio_nbytes = len,
                    .aio_offset = off,
                    .aio_rw_flags = rw_flags};
  struct iocb* cbs[1] = {&cb};
  struct io_event ev;
  const long n = syscall(SYS_io_submit, ctx, 1, cbs);
  if (n < 0) return -errno;
  if (n != 1 || syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) die("io_getevents");
  return (long)ev.res;
}

/* The step's result, the size, `fd`'s position and the first 48 bytes. */
static void show(const char* what, long res, int fd) {
  struct stat st;
  if (stat(path, &st) != 0) die("stat");
  char head[49] = {0};
  const int plain = open(path, O_RDONLY);
  if (plain < 0) die("open to read");
  const long n = pread(plain, head, 48, 0);
  close(plain);
  for (long i = 0; i < n; ++i)
    if (head[i] == 0) head[i] = '.';
  printf("%s: %ld, size %ld, pos %ld, '%s'\n", what, res, (long)st.st_size,
         (long)lseek(fd, 0, SEEK_CUR), n > 0 ? head : "");
}

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "fork") == 0)) {
    fprintf(stderr, "usage: engine_append FILE [fork]\n");
    return 2;
  }
  path = argv[1];
  if (argc == 3) {
    const int st = in_child();
    if (st >= 0) return st;
  }
  const int app = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (app < 0) die("open O_APPEND");
  const int plain = open(path, O_RDWR);
  if (plain < 0) die("open");
  if (posix_memalign((void**)&buf, 4096, 8192)) die("memory");
  if (io_uring_queue_init(4, &ring, 0) != 0) die("io_uring_queue_init");
  if (syscall(SYS_io_setup, 4, &ctx) != 0) die("io_setup");
  struct iovec fixed = {buf, 8192};
  if (io_uring_register_buffers(&ring, &fixed, 1) != 0) die("register buffers");
  if (write(app, "0123456789", 10) != 10) die("write");
  show("write(2) '0123456789'", 10, app);

  /* O_APPEND: every write goes to the end, whatever its offset. */
  show("io_uring write 'AA' at 0", uring(IORING_OP_WRITE, app, "AA", 2, 0, 0), app);
  show("io_uring write 'BB' at -1", uring(IORING_OP_WRITE, app, "BB", 2, -1, 0), app);
  struct iovec two[2] = {{"CC", 2}, {"c", 1}};
  show("io_uring writev 'CC'+'c' at 3", uring(IORING_OP_WRITEV, app, two, 2, 3, 0), app);
  memcpy(buf, "DD", 2);
  show("io_uring write_fixed 'DD' at 1", uring(IORING_OP_WRITE_FIXED, app, buf, 2, 1, 0), app);
  show("aio pwrite 'EE' at 0", aio(IOCB_CMD_PWRITE, app, "EE", 2, 0, 0), app);
  struct iovec one[1] = {{"FF", 2}};
  show("aio pwritev 'FF' at 2", aio(IOCB_CMD_PWRITEV, app, one, 1, 2, 0), app);
  lseek(app, 5, SEEK_SET);
  show("lseek 5, io_uring write 'GG' at -1", uring(IORING_OP_WRITE, app, "GG", 2, -1, 0), app);

  /* Per request: RWF_APPEND on a descriptor without O_APPEND, RWF_NOAPPEND
   * on one with it. */
  show("no O_APPEND: io_uring write 'HH' at 0 with RWF_APPEND",
       uring(IORING_OP_WRITE, plain, "HH", 2, 0, RWF_APPEND), plain);
  show("no O_APPEND: aio pwrite 'II' at 0 with RWF_APPEND",
       aio(IOCB_CMD_PWRITE, plain, "II", 2, 0, RWF_APPEND), plain);
  show("no O_APPEND: io_uring write 'hh' at 0", uring(IORING_OP_WRITE, plain, "hh", 2, 0, 0),
       plain);
  show("O_APPEND: io_uring write 'JJ' at 4 with RWF_NOAPPEND",
       uring(IORING_OP_WRITE, app, "JJ", 2, 4, RWF_NOAPPEND), app);
  show("O_APPEND: aio pwrite 'KK' at 6 with RWF_NOAPPEND",
       aio(IOCB_CMD_PWRITE, app, "KK", 2, 6, RWF_NOAPPEND), app);
  show("RWF_APPEND | RWF_NOAPPEND",
       uring(IORING_OP_WRITE, app, "LL", 2, 0, RWF_APPEND | RWF_NOAPPEND), app);

  /* O_DIRECT | O_APPEND: at the end when it is aligned, EINVAL when not. */
  const int dapp = open(path, O_RDWR | O_DIRECT | O_APPEND);
  if (dapp < 0) die("open O_DIRECT | O_APPEND");
  if (ftruncate(plain, 4096) != 0) die("ftruncate");
  memset(buf, 'd', 4096);
  show("O_DIRECT: io_uring write 4096 'd' at 0", uring(IORING_OP_WRITE, dapp, buf, 4096, 0, 0),
       dapp);
  memset(buf, 'e', 4096);
  show("O_DIRECT: io_uring write 4096 'e' at -1", uring(IORING_OP_WRITE, dapp, buf, 4096, -1, 0),
       dapp);
  memset(buf, 'f', 4096);
  show("O_DIRECT: aio pwrite 4096 'f' at 0", aio(IOCB_CMD_PWRITE, dapp, buf, 4096, 0, 0), dapp);
  char tail[4];
  if (pread(plain, tail, 3, 4095) != 3 || pread(plain, tail + 3, 1, 12288) != 1) die("pread");
  for (int i = 0; i < 4; ++i)
    if (tail[i] == 0) tail[i] = '.';
  printf("  bytes at 4095, 4096, 4097, 12288: '%.4s'\n", tail);
  if (write(app, "x", 1) != 1) die("write x");
  show("write(2) 'x', O_DIRECT: io_uring write 4096 at the unaligned end",
       uring(IORING_OP_WRITE, dapp, buf, 4096, 0, 0), dapp);
  show("O_DIRECT: aio pwrite 4096 at the unaligned end",
       aio(IOCB_CMD_PWRITE, dapp, buf, 4096, 0, 0), dapp);
  syscall(SYS_io_destroy, ctx);
  io_uring_queue_exit(&ring);
  return 0;
}
