/* A program that closes its ring descriptor first and keeps using the
 * mapped rings: raw io_uring system calls through libc's syscall(), the
 * rings mapped with libc's mmap, the descriptor closed with close(), one
 * mapping unmapped with libc's munmap and the other with an inline
 * `syscall` instruction (as a statically linked liburing does). On the
 * kernel the mappings hold the ring: a read pending at the close completes
 * into the mapped CQ ring, and the ring (with the pipe end registered in
 * it) goes with the last munmap. It prints what it sees; run on the kernel
 * and on iostack the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The x86-64 system call instruction, without libc. */
static long raw2(long nr, long a, long b) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}

static unsigned* u32(char* base, unsigned off) { return (unsigned*)(base + off); }

/* 1 while someone still holds the pipe's write end, 0 once the reader sees
 * end of file (within timeout_ms), -1 otherwise. */
static int writer_held(int rfd, int timeout_ms) {
  struct pollfd p = {rfd, POLLIN, 0};
  const int n = poll(&p, 1, timeout_ms);
  if (n == 0) return 1;
  char c;
  return n == 1 && read(rfd, &c, 1) == 0 ? 0 : -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  const int fd = (int)syscall(__NR_io_uring_setup, 8, &p);
  printf("setup %d\n", fd < 0 ? -errno : 0);
  if (fd < 0) return 0;
  const size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  const size_t rings_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
  const size_t sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
  char* rings = mmap(NULL, rings_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                     IORING_OFF_SQ_RING);
  struct io_uring_sqe* sqes =
      mmap(NULL, sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  printf("mapped %d\n", rings != MAP_FAILED && sqes != MAP_FAILED);
  if (rings == MAP_FAILED || sqes == MAP_FAILED) return 1;

  int held[2], data[2];
  if (pipe(held) || pipe(data)) return 1;
  printf("register %ld\n", syscall(__NR_io_uring_register, fd, IORING_REGISTER_FILES, &held[1], 1));
  close(held[1]);

  static char buf[8];
  memset(&sqes[0], 0, sizeof(sqes[0]));
  sqes[0].opcode = IORING_OP_READ;
  sqes[0].fd = data[0];
  sqes[0].addr = (uintptr_t)buf;
  sqes[0].len = 5;
  sqes[0].user_data = 7;
  u32(rings, p.sq_off.array)[0] = 0;
  __atomic_store_n(u32(rings, p.sq_off.tail), 1, __ATOMIC_RELEASE);
  printf("submit %ld\n", syscall(__NR_io_uring_enter, fd, 1, 0, 0, NULL, 0));

  printf("close %d\n", close(fd));
  printf("held after close %d\n", writer_held(held[0], 0));
  printf("write %zd\n", write(data[1], "hello", 5));
  /* A bounded wait for the CQE in the mapped ring; the kernel posts it from
   * this thread's task work, which the sleeps let run. */
  unsigned* tail = u32(rings, p.cq_off.tail);
  for (int ms = 0; ms < 10000 && __atomic_load_n(tail, __ATOMIC_ACQUIRE) == 0; ++ms) {
    const struct timespec t = {0, 1000000};
    nanosleep(&t, NULL);
  }
  const struct io_uring_cqe* c = (const struct io_uring_cqe*)(rings + p.cq_off.cqes);
  if (__atomic_load_n(tail, __ATOMIC_ACQUIRE) == 1)
    printf("cqe %llu:%d %.5s\n", (unsigned long long)c->user_data, c->res, buf);
  else
    printf("no cqe\n");

  printf("munmap sqes (libc) %d\n", munmap(sqes, sqes_sz));
  printf("held with the rings mapped %d\n", writer_held(held[0], 0));
  printf("munmap rings (inline) %ld\n", raw2(__NR_munmap, (long)rings, (long)rings_sz));
  printf("held after the last munmap %d\n", writer_held(held[0], 10000));
  close(held[0]);
  close(data[0]);
  close(data[1]);
  return 0;
}
