/* A program that makes its io_uring system calls and ring mmaps with its
 * own inline `syscall` instructions, and does what real programs do with
 * signals: blocks them all, gives handlers full masks, installs its own
 * SIGSYS handler, runs threads, execs a child. The compat tests run it on
 * the kernel and under a filter refusing the kernel's io_uring with the
 * preload shim; both must print the same lines.
 * Usage: trap_client SCRATCH_FILE [child]. Exit 0 when every check holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* The x86-64 system call instruction, without libc. */
static long raw(long nr, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

struct ring {
  int fd;
  struct io_uring_params p;
  char* rings;
  size_t rings_len;
  struct io_uring_sqe* sqes;
};

/* io_uring_setup and the ring mmaps, all inline. 0 or -errno. */
static int ring_open(struct ring* r, unsigned entries) {
  memset(r, 0, sizeof(*r));
  r->fd = (int)raw(__NR_io_uring_setup, entries, (long)&r->p, 0, 0, 0, 0);
  if (r->fd < 0) return r->fd;
  const size_t sq = r->p.sq_off.array + r->p.sq_entries * sizeof(unsigned);
  const size_t cq = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
  r->rings_len = sq > cq ? sq : cq;
  long m = raw(__NR_mmap, 0, (long)r->rings_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
               r->fd, IORING_OFF_SQ_RING);
  if (m < 0 && m > -4096) return (int)m;
  r->rings = (char*)m;
  m = raw(__NR_mmap, 0, (long)(r->p.sq_entries * sizeof(struct io_uring_sqe)),
          PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (m < 0 && m > -4096) return (int)m;
  r->sqes = (struct io_uring_sqe*)m;
  return 0;
}

static void ring_close(struct ring* r) {
  raw(__NR_munmap, (long)r->sqes, (long)(r->p.sq_entries * sizeof(struct io_uring_sqe)), 0, 0, 0,
      0);
  raw(__NR_munmap, (long)r->rings, (long)r->rings_len, 0, 0, 0, 0);
  close(r->fd); /* through libc: the shim's close() */
}

/* One NOP round trip through an inline io_uring_enter; its CQE res, or the
 * enter's -errno. */
static int ring_nop(struct ring* r, unsigned long long ud) {
  unsigned* sq_tail = (unsigned*)(r->rings + r->p.sq_off.tail);
  unsigned* sq_array = (unsigned*)(r->rings + r->p.sq_off.array);
  const unsigned mask = *(unsigned*)(r->rings + r->p.sq_off.ring_mask);
  const unsigned tail = *sq_tail;
  struct io_uring_sqe* sqe = &r->sqes[tail & mask];
  memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = IORING_OP_NOP;
  sqe->user_data = ud;
  sq_array[tail & mask] = tail & mask;
  __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
  const long ret = raw(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, 0, 0);
  if (ret < 0) return (int)ret;
  unsigned* cq_head = (unsigned*)(r->rings + r->p.cq_off.head);
  const unsigned* cq_tail = (const unsigned*)(r->rings + r->p.cq_off.tail);
  const unsigned cq_mask = *(unsigned*)(r->rings + r->p.cq_off.ring_mask);
  const unsigned head = *cq_head;
  if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == head) return -EAGAIN;
  const struct io_uring_cqe* cqe =
      (const struct io_uring_cqe*)(r->rings + r->p.cq_off.cqes) + (head & cq_mask);
  const int res = cqe->user_data == ud ? cqe->res : -EBADMSG;
  __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
  return res;
}

/* A whole ring's life: setup, mmap, NOPs, unmap, close. */
static int ring_roundtrip(unsigned nops) {
  struct ring r;
  int ret = ring_open(&r, 4);
  if (ret < 0) return ret;
  for (unsigned i = 0; i < nops && ret == 0; ++i) ret = ring_nop(&r, 100 + i);
  ring_close(&r);
  return ret;
}

/* A shared mapping of a plain file at offset 0, inline: the shim's filter
 * traps it (it could be a ring) and must perform it for real. */
static int shared_file_map(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -errno;
  const char text[] = "iostack shared mapping";
  if (write(fd, text, sizeof(text)) != (ssize_t)sizeof(text)) return -EIO;
  const long m = raw(__NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int ret = 0;
  if (m < 0 && m > -4096) {
    ret = (int)m;
  } else {
    ret = memcmp((const void*)m, text, sizeof(text)) == 0 ? 0 : -EBADMSG;
    ((char*)m)[0] = 'I'; /* shared: visible through the fd */
    char first = 0;
    if (pread(fd, &first, 1, 0) != 1 || first != 'I') ret = -EBADMSG;
    munmap((void*)m, 4096);
  }
  close(fd);
  unlink(path);
  return ret;
}

static atomic_int own_sigsys;
static void on_own_sigsys(int sig) { own_sigsys += sig == SIGSYS; }

static atomic_int in_handler_res = 1;
static void on_sigusr1(int sig) {
  (void)sig;
  in_handler_res = ring_roundtrip(1); /* every signal blocked meanwhile */
}

static void* thread_main(void* arg) {
  (void)arg;
  return (void*)(long)ring_roundtrip(3);
}

static int child_main(const char* scratch) {
  printf("child ring %d\n", ring_roundtrip(2));
  printf("child shared map %d\n", shared_file_map(scratch));
  return failures;
}

/* A buffer ring the kernel allocates (IOU_PBUF_RING_MMAP), mapped inline
 * at IORING_OFF_PBUF_RING | bgid << 16; a group that does not exist; and a
 * plain file mapped at such an offset, which the filter traps too. */
static int pbuf_ring_map(const char* path) {
  struct ring r;
  int ret = ring_open(&r, 4);
  if (ret < 0) return ret;
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_entries = 8;
  reg.bgid = 5;
  reg.pad = 1; /* IOU_PBUF_RING_MMAP (6.18's flags field) */
  ret = (int)raw(__NR_io_uring_register, r.fd, IORING_REGISTER_PBUF_RING, (long)&reg, 1, 0, 0);
  const long off = 0x80000000L;
  if (!ret) {
    const long m =
        raw(__NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, off | 5L << 16);
    if (m < 0 && m > -4096)
      ret = (int)m;
    else if (((volatile struct io_uring_buf*)m)[0].resv != 0) /* the tail of a fresh ring */
      ret = -EBADMSG;
    else
      munmap((void*)m, 4096);
  }
  const long missing =
      raw(__NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, off | 6L << 16);
  if (!ret) ret = missing == -ENOMEM ? 0 : -EPROTO;
  ring_close(&r);
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -errno;
  const long f = raw(__NR_mmap, 0, 4096, PROT_READ, MAP_SHARED, fd, off | 5L << 16);
  if (!ret) ret = f < 0 && f > -4096 ? (int)f : 0;
  if (!(f < 0 && f > -4096)) munmap((void*)f, 4096);
  close(fd);
  unlink(path);
  return ret;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRATCH_FILE [child]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 2 && strcmp(argv[2], "child") == 0) return child_main(argv[1]);

  const int first = ring_roundtrip(50);
  printf("ring %d\n", first);
  if (first) return 1;
  printf("shared map %d\n", shared_file_map(argv[1]));
  printf("buffer ring map %d\n", pbuf_ring_map(argv[1]));

  /* Everything blocked, through both interfaces. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  printf("all blocked, ring %d\n", ring_roundtrip(2));
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  printf("all blocked again, ring %d\n", ring_roundtrip(2));

  /* A thread started with every signal blocked. */
  pthread_t t;
  void* tret = (void*)-1;
  if (pthread_create(&t, NULL, thread_main, NULL) == 0) pthread_join(t, &tret);
  printf("thread ring %ld\n", (long)tret);
  sigprocmask(SIG_SETMASK, &old, NULL);

  /* A handler whose mask blocks everything. */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigusr1;
  sigfillset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction SIGUSR1");
  raise(SIGUSR1);
  printf("full-mask handler ring %d\n", in_handler_res);

  /* The program's own SIGSYS handler: installed, reported back, called
   * for a SIGSYS it is sent, and io_uring keeps working. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_own_sigsys;
  CHECK(sigaction(SIGSYS, &sa, NULL) == 0, "sigaction SIGSYS");
  struct sigaction cur;
  CHECK(sigaction(SIGSYS, NULL, &cur) == 0 && cur.sa_handler == on_own_sigsys,
        "sigaction SIGSYS does not report the program's handler");
  kill(getpid(), SIGSYS);
  printf("own SIGSYS handler calls %d\n", own_sigsys);
  printf("after own handler, ring %d\n", ring_roundtrip(2));
  CHECK(signal(SIGSYS, SIG_IGN) == on_own_sigsys, "signal(SIGSYS) previous handler");
  kill(getpid(), SIGSYS);
  printf("ignored SIGSYS, ring %d\n", ring_roundtrip(2));
  signal(SIGSYS, SIG_DFL);

  /* An exec'd child inherits the environment (and any seccomp filter). */
  fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], argv[1], "child", (char*)NULL);
    _exit(127);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
