/* A program that treats an io_uring descriptor as the file it is on the
 * kernel: it makes the ring with raw system calls, maps it, dup()s the
 * descriptor and uses every copy, and watches readiness with poll, select
 * and epoll, also after consuming CQEs in user space without entering.
 * It prints what it sees; run on the kernel and on iostack the output must
 * be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
  int fd;
  struct io_uring_params p;
  unsigned char* sq;
  unsigned char* cq;
  struct io_uring_sqe* sqes;
  unsigned sqe_tail;
};

static unsigned* u32(unsigned char* base, unsigned off) { return (unsigned*)(base + off); }

static int setup(struct ring* r, unsigned entries) {
  memset(r, 0, sizeof(*r));
  r->fd = (int)syscall(__NR_io_uring_setup, entries, &r->p);
  if (r->fd < 0) return -errno;
  const size_t sq_sz = r->p.sq_off.array + r->p.sq_entries * sizeof(unsigned);
  const size_t cq_sz = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
  const size_t sz = sq_sz > cq_sz ? sq_sz : cq_sz;
  r->sq =
      mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  r->cq = r->sq;
  r->sqes = mmap(NULL, r->p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sq == MAP_FAILED || r->sqes == MAP_FAILED) return -ENOMEM;
  return 0;
}

/* Queues a NOP (published, not submitted). */
static void queue_nop(struct ring* r, uint64_t ud) {
  const unsigned idx = r->sqe_tail & (r->p.sq_entries - 1);
  memset(&r->sqes[idx], 0, sizeof(r->sqes[idx]));
  r->sqes[idx].opcode = IORING_OP_NOP;
  r->sqes[idx].user_data = ud;
  u32(r->sq, r->p.sq_off.array)[idx] = idx;
  __atomic_store_n(u32(r->sq, r->p.sq_off.tail), ++r->sqe_tail, __ATOMIC_RELEASE);
}

static int enter(int fd, unsigned submit, unsigned wait) {
  const long ret =
      syscall(__NR_io_uring_enter, fd, submit, wait, wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
  return ret < 0 ? -errno : (int)ret;
}

/* Consumes every CQE in user space; prints their user_data. */
static void reap(struct ring* r, const char* tag) {
  unsigned* head = u32(r->cq, r->p.cq_off.head);
  const unsigned tail = __atomic_load_n(u32(r->cq, r->p.cq_off.tail), __ATOMIC_ACQUIRE);
  printf("%s reaped", tag);
  for (unsigned h = *head; h != tail; ++h) {
    const struct io_uring_cqe* c =
        (const struct io_uring_cqe*)(r->cq + r->p.cq_off.cqes) + (h & (r->p.cq_entries - 1));
    printf(" %llu:%d", (unsigned long long)c->user_data, c->res);
  }
  printf("\n");
  __atomic_store_n(head, tail, __ATOMIC_RELEASE);
}

static void show_poll(const char* tag, int fd) {
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  const int n = poll(&p, 1, 0);
  printf("%s poll=%d%s%s\n", tag, n, (p.revents & POLLIN) ? " IN" : "",
         (p.revents & POLLOUT) ? " OUT" : "");
}

static void show_select(const char* tag, int fd) {
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(fd, &rd);
  FD_SET(fd, &wr);
  struct timeval tv = {0, 0};
  const int n = select(fd + 1, &rd, &wr, NULL, &tv);
  printf("%s select=%d%s%s\n", tag, n, FD_ISSET(fd, &rd) ? " IN" : "",
         FD_ISSET(fd, &wr) ? " OUT" : "");
}

static void show_epoll(const char* tag, int ep, int timeout_ms) {
  struct epoll_event ev[4];
  const int n = epoll_wait(ep, ev, 4, timeout_ms);
  /* The order of ready events is no promise of epoll's: print by data. */
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && ev[j - 1].data.u64 > ev[j].data.u64; --j) {
      const struct epoll_event t = ev[j];
      ev[j] = ev[j - 1];
      ev[j - 1] = t;
    }
  printf("%s epoll=%d", tag, n);
  for (int i = 0; i < n; ++i)
    printf(" [%llu%s%s]", (unsigned long long)ev[i].data.u64, (ev[i].events & EPOLLIN) ? " IN" : "",
           (ev[i].events & EPOLLOUT) ? " OUT" : "");
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct ring r;
  const int ret = setup(&r, 4);
  printf("setup %d\n", ret);
  if (ret) return 1;

  const int copy = dup(r.fd);
  const int copy2 = fcntl(r.fd, F_DUPFD_CLOEXEC, 100);
  printf("dups %d %d\n", copy >= 0, copy2 >= 100);

  show_poll("empty", r.fd);
  queue_nop(&r, 1);
  printf("enter on dup %d\n", enter(copy, 1, 1));
  show_poll("pending", r.fd);
  show_poll("pending-dup", copy2);
  show_select("pending", copy);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {EPOLLIN, {.u64 = 77}};
  epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev);
  struct epoll_event ev_out = {EPOLLOUT, {.u64 = 88}};
  epoll_ctl(ep, EPOLL_CTL_ADD, copy2, &ev_out);
  show_epoll("pending", ep, 0);

  reap(&r, "user");
  show_poll("consumed", r.fd);
  show_select("consumed", copy2);
  show_epoll("consumed", ep, 0);

  /* The original goes; the copies still name the ring. */
  printf("close original %d\n", close(r.fd));
  queue_nop(&r, 2);
  printf("enter on dup after close %d\n", enter(copy2, 1, 1));
  show_poll("after-close", copy);
  reap(&r, "user");

  /* Readiness wakes a sleeping epoll_wait: a NOP submitted by a linked
   * timeout would need timing; a plain submit without waiting is enough. */
  queue_nop(&r, 3);
  printf("submit %d\n", enter(copy, 1, 0));
  show_epoll("woken", ep, 1000);
  reap(&r, "user");

  close(ep);
  printf("close copies %d %d\n", close(copy), close(copy2));
  printf("enter after last close %d\n", enter(copy, 0, 0));
  return 0;
}
