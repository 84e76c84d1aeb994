/* An echo server on io_uring and a load client, in one program.
 *
 * The server takes connections with one multishot ACCEPT, receives with a
 * multishot RECV per connection into a provided buffer ring, and echoes
 * each buffer back with SEND, returning the buffer to the ring once the
 * send is done. The client opens CONNS connections and does ROUNDS round
 * trips of SIZE bytes on each (all connections send, then all receive),
 * checking every byte.
 *
 *   uring_echo [--epoll] CONNS ROUNDS SIZE
 *
 * prints one line that does not depend on timing (compared between the
 * kernel's io_uring and iostack's), and the round trips per second on
 * stderr. --epoll serves with a plain epoll loop instead (for comparison).
 * Built against the system's liburing (2.3 API); run it on iostack with
 * `iostack exec` or the drop-in liburing on LD_LIBRARY_PATH.
 *
 *   cc -O2 uring_echo.c -o uring_echo -luring -lpthread */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BGID 1
#define NBUFS 256 /* buffer ring entries (a power of two) */
#define BUFSZ 4096

enum { UD_ACCEPT = 1, UD_RECV = 2, UD_SEND = 3 };
/* user_data: kind in the top byte, buffer id in the next 16 bits, fd below. */
#define UD(kind, bid, fd) (((unsigned long long)(kind) << 56) | ((unsigned long long)(bid) << 32) | (unsigned)(fd))
#define UD_KIND(u) ((int)((u) >> 56))
#define UD_BID(u) ((int)(((u) >> 32) & 0xffff))
#define UD_FD(u) ((int)((u) & 0xffffffff))

static int listen_fd;
static int conns_expected;
static struct {
  long accepted, closed, recvs, sends, rearms, errors;
} st;

static void die(const char* what, int err) {
  fprintf(stderr, "uring_echo: %s: %s\n", what, strerror(err));
  exit(1);
}

static struct io_uring_sqe* get_sqe(struct io_uring* ring) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

static void arm_recv(struct io_uring* ring, int fd) {
  struct io_uring_sqe* sqe = get_sqe(ring);
  io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BGID;
  io_uring_sqe_set_data64(sqe, UD(UD_RECV, 0, fd));
}

static void* uring_server(void* arg) {
  (void)arg;
  struct io_uring ring;
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  int ret = io_uring_queue_init_params(512, &ring, &p);
  if (ret < 0) die("io_uring_queue_init", -ret);
  struct io_uring_buf_ring* br;
  if (posix_memalign((void**)&br, 4096, NBUFS * sizeof(struct io_uring_buf))) die("memalign", ENOMEM);
  char* bufs = malloc((size_t)NBUFS * BUFSZ);
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (unsigned long)br;
  reg.ring_entries = NBUFS;
  reg.bgid = BGID;
  io_uring_buf_ring_init(br);
  ret = io_uring_register_buf_ring(&ring, &reg, 0);
  if (ret) die("io_uring_register_buf_ring", -ret);
  for (int i = 0; i < NBUFS; i++)
    io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUFS), i);
  io_uring_buf_ring_advance(br, NBUFS);

  struct io_uring_sqe* sqe = get_sqe(&ring);
  io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
  io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, 0, listen_fd));
  while (st.closed < conns_expected) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      const unsigned long long ud = cqe->user_data;
      const int fd = UD_FD(ud);
      switch (UD_KIND(ud)) {
        case UD_ACCEPT:
          if (cqe->res < 0) die("accept", -cqe->res);
          st.accepted++;
          {
            int one = 1;
            setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          }
          arm_recv(&ring, cqe->res);
          if (!(cqe->flags & IORING_CQE_F_MORE)) die("accept stopped", EINVAL);
          break;
        case UD_RECV:
          if (cqe->res > 0) {
            const int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            st.recvs++;
            sqe = get_sqe(&ring);
            io_uring_prep_send(sqe, fd, bufs + (size_t)bid * BUFSZ, cqe->res, MSG_WAITALL);
            io_uring_sqe_set_data64(sqe, UD(UD_SEND, bid, fd));
          } else if (cqe->res == 0) {
            close(fd);
            st.closed++;
            break;
          } else if (cqe->res != -ENOBUFS) {
            st.errors++;
            close(fd);
            st.closed++;
            break;
          }
          if (!(cqe->flags & IORING_CQE_F_MORE)) {
            st.rearms++;  /* out of buffers: receive again */
            arm_recv(&ring, fd);
          }
          break;
        case UD_SEND: {
          const int bid = UD_BID(ud);
          if (cqe->res < 0) st.errors++;
          st.sends++;
          io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid,
                                io_uring_buf_ring_mask(NBUFS), 0);
          io_uring_buf_ring_advance(br, 1);
          break;
        }
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  free(bufs);
  free(br);
  return NULL;
}

/* The same service with epoll and plain system calls. */
static void* epoll_server(void* arg) {
  (void)arg;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listen_fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  char* buf = malloc(BUFSZ);
  while (st.closed < conns_expected) {
    struct epoll_event evs[64];
    const int n = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      const int fd = evs[i].data.fd;
      if (fd == listen_fd) {
        const int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        st.accepted++;
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        continue;
      }
      const ssize_t got = recv(fd, buf, BUFSZ, 0);
      if (got <= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        st.closed++;
        continue;
      }
      st.recvs++;
      if (send(fd, buf, (size_t)got, MSG_WAITALL | MSG_NOSIGNAL) != got) st.errors++;
      st.sends++;
    }
  }
  free(buf);
  close(ep);
  return NULL;
}

static int read_full(int fd, char* p, size_t n) {
  while (n) {
    const ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int main(int argc, char** argv) {
  int use_epoll = 0;
  if (argc > 1 && !strcmp(argv[1], "--epoll")) {
    use_epoll = 1;
    argv++;
    argc--;
  }
  if (argc != 4) {
    fprintf(stderr, "usage: uring_echo [--epoll] CONNS ROUNDS SIZE\n");
    return 2;
  }
  const int conns = atoi(argv[1]);
  const int rounds = atoi(argv[2]);
  const int size = atoi(argv[3]);
  if (conns < 1 || conns > 4096 || rounds < 0 || size < 1 || size > BUFSZ) {
    fprintf(stderr, "uring_echo: CONNS 1..4096, ROUNDS >= 0, SIZE 1..%d\n", BUFSZ);
    return 2;
  }
  conns_expected = conns;
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd, (struct sockaddr*)&addr, sizeof(addr)) || listen(listen_fd, 4096))
    die("bind/listen", errno);
  socklen_t alen = sizeof(addr);
  getsockname(listen_fd, (struct sockaddr*)&addr, &alen);

  pthread_t server;
  pthread_create(&server, NULL, use_epoll ? epoll_server : uring_server, NULL);

  int* fds = calloc((size_t)conns, sizeof(int));
  for (int i = 0; i < conns; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fds[i], (struct sockaddr*)&addr, sizeof(addr))) die("connect", errno);
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  char* out = malloc((size_t)size);
  char* in = malloc((size_t)size);
  long mismatches = 0, bytes = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < conns; i++) {
      for (int b = 0; b < size; b++) out[b] = (char)(r * 31 + i * 7 + b);
      if (send(fds[i], out, (size_t)size, MSG_NOSIGNAL) != size) die("send", errno);
    }
    for (int i = 0; i < conns; i++) {
      if (read_full(fds[i], in, (size_t)size)) die("echo", errno ? errno : EPIPE);
      for (int b = 0; b < size; b++)
        if (in[b] != (char)(r * 31 + i * 7 + b)) {
          mismatches++;
          break;
        }
      bytes += size;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  for (int i = 0; i < conns; i++) close(fds[i]);
  pthread_join(server, NULL);
  const double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("echo conns=%d rounds=%d size=%d bytes=%ld mismatches=%ld accepted=%ld closed=%ld errors=%ld\n",
         conns, rounds, size, bytes, mismatches, st.accepted, st.closed, st.errors);
  fprintf(stderr, "round trips/s: %.0f\n", secs > 0 ? (double)conns * rounds / secs : 0.0);
  free(out);
  free(in);
  free(fds);
  return mismatches || st.errors ? 1 : 0;
}
