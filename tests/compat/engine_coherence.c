/* `engine_coherence FILE [fork]`: io_uring and AIO reads and writes, buffered and
 * O_DIRECT, over pages of FILE that the program also has mapped
 * MAP_SHARED and in the page cache, one line per step with what a load
 * from the mapping and pread(2) see afterwards. On a real file the kernel
 * keeps them coherent: a buffered write goes through the page cache, a
 * direct write first writes back the dirty pages it covers and invalidates
 * them after, and a read sees stores through the mapping and buffered
 * writes not yet written back. Under `iostack exec --map FILE=...` the
 * output must be the same (tests/compat/map_exec_test.cpp). With `fork`
 * a forked child does it all. Exit status 0, or 1 when a call that must
 * work failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aio_call.h"
#include "in_child.h"
#include "uring_call.h"

enum { kLen = 16384 };

static int plain, direct;
static char* map;
static char* buf; /* 16 KiB, 4096-aligned */
static struct io_uring ring;
static aio_context_t ctx;

static void die(const char* what) {
  fprintf(stderr, "engine_coherence: %s\n", what);
  exit(1);
}

/* One io_uring request, its result. */
static long uring(void (*prep)(struct io_uring_sqe*, void*), void* arg) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  prep(sqe, arg);
  const long long res = uring_call(&ring);
  if (res == 1LL << 62) die("io_uring");
  return (long)res;
}

struct rw {
  int op, fd;
  void* addr;
  unsigned len;
  long off;
};

static void prep_rw(struct io_uring_sqe* sqe, void* p) {
  const struct rw* r = p;
  io_uring_prep_rw(r->op, sqe, r->fd, r->addr, r->len, (unsigned long long)r->off);
  if (r->op == IORING_OP_READ_FIXED || r->op == IORING_OP_WRITE_FIXED) sqe->buf_index = 0;
}

static long uring_rw(int op, int fd, void* addr, unsigned len, long off) {
  struct rw r = {op, fd, addr, len, off};
  return uring(prep_rw, &r);
}

/* One AIO request (IOCB_CMD_*), its result. */
static long aio(int cmd, int fd, const void* addr, unsigned len, long off) {
  const long long res = aio_call(ctx, cmd, fd, addr, len, off);
  if (res == 1LL << 62) die("io_submit");
  return (long)res;
}

/* What a load from the mapping and pread(2) show at `off`, `n` bytes. */
static void look(const char* what, long res, long off, int n) {
  char got[32];
  if (pread(plain, got, (size_t)n, off) != n) die("pread");
  printf("%s: %ld; load at %ld '%.*s', pread '%.*s'\n", what, res, off, n, map + off, n, got);
}

/* What a read request got into `buf` at byte `at`, `n` bytes. */
static void got(const char* what, long res, long at, int n) {
  printf("%s: %ld, got '%.*s'\n", what, res, n, buf + at);
}

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "fork") == 0)) {
    fprintf(stderr, "usage: engine_coherence FILE [fork]\n");
    return 2;
  }
  if (argc == 3) {
    const int st = in_child();
    if (st >= 0) return st;
  }
  plain = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (plain < 0) die("open");
  direct = open(argv[1], O_RDWR | O_DIRECT);
  if (direct < 0) die("open O_DIRECT");
  if (posix_memalign((void**)&buf, 4096, kLen)) die("memory");
  if (io_uring_queue_init(4, &ring, 0) != 0) die("io_uring_queue_init");
  if (syscall(SYS_io_setup, 4, &ctx) != 0) die("io_setup");
  struct iovec fixed = {buf, kLen};
  if (io_uring_register_buffers(&ring, &fixed, 1) != 0) die("register buffers");
  memset(buf, 'a', kLen);
  if (pwrite(plain, buf, kLen, 0) != kLen) die("pwrite");
  if (fsync(plain) != 0) die("fsync");
  map = mmap(NULL, kLen, PROT_READ | PROT_WRITE, MAP_SHARED, plain, 0);
  if (map == MAP_FAILED) die("mmap");

  /* Reads see what the mapping stored and buffered writes not written back. */
  map[100] = 'M';
  if (pwrite(plain, "W", 1, 5000) != 1) die("pwrite W");
  got("store M at 100, io_uring buffered read 8 at 96", uring_rw(IORING_OP_READ, plain, buf, 8, 96),
      0, 8);
  got("aio buffered read 8 at 96", aio(IOCB_CMD_PREAD, plain, buf, 8, 96), 0, 8);
  got("io_uring O_DIRECT read 4096 at 0", uring_rw(IORING_OP_READ, direct, buf, 4096, 0), 96, 8);
  got("pwrite W at 5000, aio O_DIRECT read 4096 at 4096",
      aio(IOCB_CMD_PREAD, direct, buf, 4096, 4096), 5000 - 4096, 3);
  got("io_uring O_DIRECT read_fixed 4096 at 4096",
      uring_rw(IORING_OP_READ_FIXED, direct, buf, 4096, 4096), 5000 - 4096, 3);

  /* Writes show in the mapping and in read(2). */
  memset(buf, 'b', 4096);
  look("io_uring O_DIRECT write 4096 'b' at 4096",
       uring_rw(IORING_OP_WRITE, direct, buf, 4096, 4096), 4999, 3);
  look("io_uring buffered write 'uring' at 8200",
       uring_rw(IORING_OP_WRITE, plain, "uring", 5, 8200), 8199, 7);
  memset(buf, 'c', 4096);
  look("aio O_DIRECT write 4096 'c' at 8192", aio(IOCB_CMD_PWRITE, direct, buf, 4096, 8192), 8199,
       7);
  look("aio buffered write 'aio!' at 12301", aio(IOCB_CMD_PWRITE, plain, "aio!", 4, 12301), 12300,
       6);
  map[12290] = 'S';
  memset(buf, 'd', 4096);
  look("store S at 12290, io_uring O_DIRECT write_fixed 512 'd' at 12800",
       uring_rw(IORING_OP_WRITE_FIXED, direct, buf, 512, 12800), 12290, 1);
  look("  and at 12799", 0, 12799, 3);
  struct iovec two[2] = {{"vec", 3}, {"tor", 3}};
  look("io_uring buffered writev 'vec'+'tor' at 1000",
       uring_rw(IORING_OP_WRITEV, plain, two, 2, 1000), 999, 8);
  memset(buf, 'e', 2048);
  memset(buf + 2048, 'f', 2048);
  struct iovec halves[2] = {{buf, 2048}, {buf + 2048, 2048}};
  look("aio O_DIRECT pwritev 2048 'e' + 2048 'f' at 0", aio(IOCB_CMD_PWRITEV, direct, halves, 2, 0),
       2046, 4);
  look("  and at 100 (the store M was written back, then overwritten)", 0, 99, 3);
  struct iovec one[1] = {{"ww", 2}};
  look("aio buffered pwritev 'ww' at 3000", aio(IOCB_CMD_PWRITEV, plain, one, 1, 3000), 2999, 4);
  map[7000] = 'L';
  memset(buf, 0, kLen);
  struct iovec rd[2] = {{buf, 4096}, {buf + 4096, 4096}};
  got("store L at 7000, io_uring O_DIRECT readv 8192 at 4096",
      uring_rw(IORING_OP_READV, direct, rd, 2, 4096), 7000 - 4096, 1);
  memset(buf, 0, kLen);
  struct iovec rd2[1] = {{buf, 64}};
  got("aio buffered preadv 64 at 2990", aio(IOCB_CMD_PREADV, plain, rd2, 1, 2990), 9, 4);
  memset(buf, 0, kLen);
  got("io_uring buffered read_fixed 8 at 8198", uring_rw(IORING_OP_READ_FIXED, plain, buf, 8, 8198),
      0, 8);

  /* The whole file once more, page by page, as read(2) sees it. */
  for (long off = 0; off < kLen; off += 4096) {
    char page[4096];
    if (pread(plain, page, 4096, off) != 4096) die("pread page");
    unsigned sum = 0;
    for (int i = 0; i < 4096; ++i) sum = sum * 31 + (unsigned char)page[i];
    printf("page at %ld: sum %u, mapping %s\n", off, sum,
           memcmp(page, map + off, 4096) == 0 ? "same" : "differs");
  }
  munmap(map, kLen);
  syscall(SYS_io_destroy, ctx);
  io_uring_queue_exit(&ring);
  return 0;
}
