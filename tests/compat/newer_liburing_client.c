/* A program built for a newer liburing (2.4 to 2.9): it takes the newer
 * functions by their symbol versions from whatever liburing.so.2 it runs
 * with, as a binary built against liburing 2.9's headers binds to them,
 * and prints what they answer. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void* lib;

static void* need(const char* name, const char* version) {
  void* f = dlvsym(lib, name, version);
  if (!f) printf("missing %s@%s\n", name, version);
  return f;
}

int main(void) {
  lib = dlopen("liburing.so.2", RTLD_NOW);
  if (!lib) {
    printf("dlopen: %s\n", dlerror());
    return 1;
  }
  int (*major)(void);
  int (*minor)(void);
  bool (*check)(int, int);
  int (*close_fd)(struct io_uring*);
  int (*enable)(struct io_uring*);
  int (*restrict_ops)(struct io_uring*, struct io_uring_restriction*, unsigned);
  int (*init_mem)(unsigned, struct io_uring*, struct io_uring_params*, void*, size_t);
  int (*clock_reg)(struct io_uring*, void*);
  int (*submit_min)(struct io_uring*, struct io_uring_cqe**, unsigned, struct __kernel_timespec*,
                    unsigned, sigset_t*);
  /* POSIX's way to store a data pointer into a function pointer. */
  *(void**)&major = need("io_uring_major_version", "LIBURING_2.4");
  *(void**)&minor = need("io_uring_minor_version", "LIBURING_2.4");
  *(void**)&check = need("io_uring_check_version", "LIBURING_2.4");
  *(void**)&close_fd = need("io_uring_close_ring_fd", "LIBURING_2.4");
  *(void**)&enable = need("io_uring_enable_rings", "LIBURING_2.4");
  *(void**)&restrict_ops = need("io_uring_register_restrictions", "LIBURING_2.4");
  *(void**)&init_mem = need("io_uring_queue_init_mem", "LIBURING_2.5");
  *(void**)&clock_reg = need("io_uring_register_clock", "LIBURING_2.8");
  *(void**)&submit_min = need("io_uring_submit_and_wait_min_timeout", "LIBURING_2.8");
  if (!major || !minor || !check || !close_fd || !enable || !restrict_ops || !init_mem ||
      !clock_reg || !submit_min)
    return 1;
  printf("version %d.%d check(2,9)=%d check(2,10)=%d\n", major(), minor(), check(2, 9),
         check(2, 10));

  /* The ring fd closed: the ring lives on behind its registered index. */
  struct io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) return 1;
  printf("register_ring_fd %d\n", io_uring_register_ring_fd(&ring));
  const int closed = close_fd(&ring);
  printf("close_ring_fd %d then %d\n", closed, close_fd(&ring));
  io_uring_prep_nop(io_uring_get_sqe(&ring));
  printf("submit_and_wait %d\n", io_uring_submit_and_wait(&ring, 1));
  struct io_uring_cqe* cqe = NULL;
  const int peeked = io_uring_peek_cqe(&ring, &cqe);
  printf("peek %d res %d\n", peeked, cqe ? cqe->res : -1);
  io_uring_cqe_seen(&ring, cqe);
  unsigned clock[4] = {CLOCK_BOOTTIME, 0, 0, 0};
  printf("register_clock %d\n", clock_reg(&ring, clock));
  io_uring_queue_exit(&ring);

  /* FEAT_MIN_TIMEOUT: one CQE of the four asked for ends the wait after
   * the 10 ms minimum, long before the 30 s timeout. */
  if (io_uring_queue_init(8, &ring, 0) != 0) return 1;
  io_uring_prep_nop(io_uring_get_sqe(&ring));
  struct __kernel_timespec ts = {30, 0};
  cqe = NULL;
  const int waited = submit_min(&ring, &cqe, 4, &ts, 10000, NULL);
  printf("min_timeout %d res %d\n", waited, cqe ? cqe->res : -1);
  io_uring_queue_exit(&ring);

  /* A disabled ring: restrictions, then enabled. */
  if (io_uring_queue_init(8, &ring, IORING_SETUP_R_DISABLED) != 0) return 1;
  struct io_uring_restriction res;
  memset(&res, 0, sizeof(res));
  res.opcode = IORING_RESTRICTION_SQE_OP;
  res.sqe_op = IORING_OP_NOP;
  const int restricted = restrict_ops(&ring, &res, 1);
  printf("restrictions %d enable %d\n", restricted, enable(&ring));
  io_uring_prep_nop(io_uring_get_sqe(&ring));
  io_uring_prep_fsync(io_uring_get_sqe(&ring), 0, 0);
  printf("submit_and_wait %d\n", io_uring_submit_and_wait(&ring, 2));
  for (int i = 0; i < 2; ++i) {
    io_uring_wait_cqe(&ring, &cqe);
    printf("cqe res %d\n", cqe->res);
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);

  /* Rings in the caller's memory (IORING_SETUP_NO_MMAP): the bytes used,
   * as liburing lays them out, and a NOP through them. */
  static char mem[1 << 16] __attribute__((aligned(4096)));
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  const int r = init_mem(8, &ring, &p, mem, sizeof(mem));
  printf("queue_init_mem %d\n", r);
  if (r > 0) {
    io_uring_prep_nop(io_uring_get_sqe(&ring));
    printf("submit_and_wait %d\n", io_uring_submit_and_wait(&ring, 1));
    io_uring_wait_cqe(&ring, &cqe);
    printf("cqe res %d\n", cqe->res);
    io_uring_cqe_seen(&ring, cqe);
    io_uring_queue_exit(&ring);
  }
  /* Too small a buffer: -ENOMEM before any system call. */
  memset(&p, 0, sizeof(p));
  printf("queue_init_mem small %d\n", init_mem(8, &ring, &p, mem, 4096));

  /* Registered wait arguments (2.9): a region of the program's memory
   * registered while the ring is disabled, entry 1 with a 30 s timeout. */
  int (*region_reg)(struct io_uring*, void*);
  int (*wait_reg)(struct io_uring*, void*, int);
  int (*submit_reg)(struct io_uring*, struct io_uring_cqe**, unsigned, int);
  *(void**)&region_reg = need("io_uring_register_region", "LIBURING_2.9");
  *(void**)&wait_reg = need("io_uring_register_wait_reg", "LIBURING_2.9");
  *(void**)&submit_reg = need("io_uring_submit_and_wait_reg", "LIBURING_2.9");
  if (!region_reg || !wait_reg || !submit_reg) return 1;
  static unsigned long long waits[512] __attribute__((aligned(4096)));
  /* struct io_uring_region_desc and struct io_uring_mem_region_reg. */
  unsigned long long desc[8] = {(unsigned long long)waits, sizeof(waits), 1 /* TYPE_USER */};
  unsigned long long reg[4] = {(unsigned long long)desc, 1 /* REG_WAIT_ARG */};
  if (io_uring_queue_init(8, &ring, IORING_SETUP_R_DISABLED) != 0) return 1;
  printf("register_wait_reg %d\n", wait_reg(&ring, waits, 1));
  const int region = region_reg(&ring, reg);
  printf("register_region %d enable %d\n", region, enable(&ring));
  waits[8] = 30;          /* entry 1: ts.tv_sec */
  waits[10] = 1ull << 32; /* flags IORING_REG_WAIT_TS */
  io_uring_prep_nop(io_uring_get_sqe(&ring));
  cqe = NULL;
  const int reg_waited = submit_reg(&ring, &cqe, 1, 1);
  printf("submit_and_wait_reg %d res %d\n", reg_waited, cqe ? cqe->res : -1);
  io_uring_queue_exit(&ring);
  return 0;
}
