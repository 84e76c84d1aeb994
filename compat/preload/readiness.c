/* Readiness of ring descriptors as the kernel's io_uring_poll reports it:
 * POLLIN exactly while CQEs are pending (also after the program consumed
 * CQEs from the ring without entering), POLLOUT while the SQ ring has room.
 * A ring descriptor is an epoll instance that iostack signals when it posts
 * CQEs; poll(), ppoll(), select(), pselect() and epoll_wait() bring that
 * signal up to date first and report the kernel's mask for ring
 * descriptors. Calls that name no ring go straight to libc. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

#include "iostack/uring.h"
#include "shim.h"

typedef int (*ppoll_fn)(struct pollfd*, nfds_t, const struct timespec*, const sigset_t*);
typedef int (*pselect_fn)(int, fd_set*, fd_set*, fd_set*, const struct timespec*, const sigset_t*);
typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event*);
typedef int (*epoll_pwait2_fn)(int, struct epoll_event*, int, const struct timespec*,
                               const sigset_t*);

static ppoll_fn real_ppoll;
static pselect_fn real_pselect;
static epoll_ctl_fn real_epoll_ctl;
static epoll_pwait2_fn real_epoll_pwait2;

/* ---- time left of a timeout, for calls that retry after a spurious wake */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* deadline < 0: wait forever. */
static int64_t deadline_of(const struct timespec* t) {
  if (!t) return -1;
  return now_ns() + (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static const struct timespec* time_left(int64_t deadline, struct timespec* buf) {
  if (deadline < 0) return NULL;
  int64_t left = deadline - now_ns();
  if (left < 0) left = 0;
  buf->tv_sec = left / 1000000000;
  buf->tv_nsec = left % 1000000000;
  return buf;
}

/* ---- poll and ppoll */

/* Puts each ring's mask into revents; returns how many entries have any. */
static int fix_ring_revents(struct pollfd* fds, nfds_t n) {
  int count = 0;
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd >= 0) {
      const int m = iostack_io_uring_poll_mask(fds[i].fd);
      if (m >= 0) fds[i].revents = (short)(m & (fds[i].events | POLLERR | POLLHUP));
    }
    if (fds[i].revents) ++count;
  }
  return count;
}

/* How many entries name a ring, and whether one of them is ready now. */
static int scan_rings(const struct pollfd* fds, nfds_t n, int* ready) {
  int rings = 0;
  *ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd < 0) continue;
    const int m = iostack_io_uring_poll_mask(fds[i].fd);
    if (m < 0) continue;
    ++rings;
    if (m & (fds[i].events | POLLERR | POLLHUP)) *ready = 1;
  }
  return rings;
}

static int ring_ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                      const sigset_t* mask) {
  SHIM_RESOLVE(real_ppoll, "ppoll");
  int ready;
  if (!scan_rings(fds, n, &ready)) return real_ppoll(fds, n, timeout, mask);
  const int64_t deadline = deadline_of(timeout);
  static const struct timespec zero = {0, 0};
  for (;;) {
    struct timespec left;
    const int r = real_ppoll(fds, n, ready ? &zero : time_left(deadline, &left), mask);
    if (r < 0) return r;
    const int count = fix_ring_revents(fds, n);
    if (count || ready || (deadline >= 0 && now_ns() >= deadline)) return count;
    /* A ring woke the call but its CQEs were consumed meanwhile: wait on. */
    scan_rings(fds, n, &ready);
  }
}

SHIM_EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return ring_ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, NULL);
}

SHIM_EXPORT int __poll_chk(struct pollfd* fds, nfds_t n, int timeout_ms, size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) abort(); /* as glibc's __chk_fail */
  return poll(fds, n, timeout_ms);
}

SHIM_EXPORT int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                      const sigset_t* mask) {
  return ring_ppoll(fds, n, timeout, mask);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                            const sigset_t* mask, size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) abort();
  return ring_ppoll(fds, n, timeout, mask);
}

/* ---- select and pselect */

static int select_rings(int nfds, const fd_set* rd, const fd_set* wr, int* ready) {
  int rings = 0;
  *ready = 0;
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
    const int in_rd = rd && FD_ISSET(fd, rd), in_wr = wr && FD_ISSET(fd, wr);
    if (!in_rd && !in_wr) continue;
    const int m = iostack_io_uring_poll_mask(fd);
    if (m < 0) continue;
    ++rings;
    if ((in_rd && (m & POLLIN)) || (in_wr && (m & POLLOUT))) *ready = 1;
  }
  return rings;
}

static int ring_pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex,
                        const struct timespec* timeout, const sigset_t* mask) {
  SHIM_RESOLVE(real_pselect, "pselect");
  int ready;
  if (!select_rings(nfds, rd, wr, &ready)) return real_pselect(nfds, rd, wr, ex, timeout, mask);
  fd_set in_rd, in_wr, in_ex;
  if (rd) in_rd = *rd;
  if (wr) in_wr = *wr;
  if (ex) in_ex = *ex;
  const int64_t deadline = deadline_of(timeout);
  static const struct timespec zero = {0, 0};
  for (;;) {
    struct timespec left;
    const int r = real_pselect(nfds, rd, wr, ex, ready ? &zero : time_left(deadline, &left), mask);
    if (r < 0) return r;
    int count = 0;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
      const int want_rd = rd && FD_ISSET(fd, &in_rd), want_wr = wr && FD_ISSET(fd, &in_wr);
      const int m = (want_rd || want_wr) ? iostack_io_uring_poll_mask(fd) : -1;
      if (m >= 0) {
        if (want_rd) (m & POLLIN) ? FD_SET(fd, rd) : FD_CLR(fd, rd);
        if (want_wr) (m & POLLOUT) ? FD_SET(fd, wr) : FD_CLR(fd, wr);
      }
      count += (rd && FD_ISSET(fd, rd)) + (wr && FD_ISSET(fd, wr)) + (ex && FD_ISSET(fd, ex));
    }
    if (count || ready || (deadline >= 0 && now_ns() >= deadline)) return count;
    if (rd) *rd = in_rd;
    if (wr) *wr = in_wr;
    if (ex) *ex = in_ex;
    select_rings(nfds, rd, wr, &ready);
  }
}

SHIM_EXPORT int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, struct timeval* tv) {
  struct timespec ts;
  if (tv) {
    ts.tv_sec = tv->tv_sec;
    ts.tv_nsec = tv->tv_usec * 1000;
  }
  const int64_t start = tv ? now_ns() : 0;
  const int r = ring_pselect(nfds, rd, wr, ex, tv ? &ts : NULL, NULL);
  if (tv && r >= 0) {
    /* Linux's select() leaves the time not slept in *tv. */
    int64_t left = (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000 - (now_ns() - start);
    if (left < 0) left = 0;
    tv->tv_sec = left / 1000000000;
    tv->tv_usec = (left % 1000000000) / 1000;
  }
  return r;
}

SHIM_EXPORT int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex,
                        const struct timespec* timeout, const sigset_t* mask) {
  return ring_pselect(nfds, rd, wr, ex, timeout, mask);
}

/* ---- epoll: the registrations of ring descriptors, by epoll instance */

struct ring_reg {
  int epfd;
  int fd;
  struct epoll_event ev;
};

static pthread_mutex_t regs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring_reg* regs;
static int nregs, regs_cap;

static void regs_update(int epfd, int op, int fd, const struct epoll_event* ev) {
  pthread_mutex_lock(&regs_lock);
  int i;
  for (i = 0; i < nregs; ++i)
    if (regs[i].epfd == epfd && regs[i].fd == fd) break;
  if (op == EPOLL_CTL_DEL) {
    if (i < nregs) {
      regs[i] = regs[nregs - 1];
      __atomic_store_n(&nregs, nregs - 1, __ATOMIC_RELAXED);
    }
  } else if (i < nregs) {
    regs[i].ev = *ev;
  } else {
    if (nregs == regs_cap) {
      const int cap = regs_cap ? regs_cap * 2 : 8;
      struct ring_reg* grown = realloc(regs, sizeof(*regs) * (size_t)cap);
      if (!grown) goto out;
      regs = grown;
      regs_cap = cap;
    }
    regs[nregs].epfd = epfd;
    regs[nregs].fd = fd;
    regs[nregs].ev = *ev;
    __atomic_store_n(&nregs, nregs + 1, __ATOMIC_RELAXED);
  }
out:
  pthread_mutex_unlock(&regs_lock);
}

void readiness_forget_fd(int fd) {
  if (!__atomic_load_n(&nregs, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&regs_lock);
  for (int i = 0; i < nregs;) {
    if (regs[i].epfd == fd || regs[i].fd == fd) {
      regs[i] = regs[nregs - 1];
      __atomic_store_n(&nregs, nregs - 1, __ATOMIC_RELAXED);
    } else {
      ++i;
    }
  }
  pthread_mutex_unlock(&regs_lock);
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
  SHIM_RESOLVE(real_epoll_ctl, "epoll_ctl");
  const int ret = real_epoll_ctl(epfd, op, fd, ev);
  if (ret == 0 && (op == EPOLL_CTL_DEL || (ev && iostack_io_uring_poll_mask(fd) >= 0)))
    regs_update(epfd, op, fd, ev);
  return ret;
}

/* The registration of a ring in `epfd` whose data is `data`, or null. */
static const struct ring_reg* reg_by_data(int epfd, uint64_t data) {
  for (int i = 0; i < nregs; ++i)
    if (regs[i].epfd == epfd && regs[i].ev.data.u64 == data) return &regs[i];
  return NULL;
}

/* Brings the rings registered in `epfd` up to date and writes, for the
 * level-triggered ones that want POLLOUT and have it (no epoll of iostack's
 * reports POLLOUT), what they report now. Returns how many it wrote; *any
 * says whether `epfd` holds a ring at all. */
static int ring_events(int epfd, struct epoll_event* out, int max, int* any) {
  int n = 0;
  *any = 0;
  pthread_mutex_lock(&regs_lock);
  for (int i = 0; i < nregs; ++i) {
    if (regs[i].epfd != epfd) continue;
    const int m = iostack_io_uring_poll_mask(regs[i].fd);
    if (m < 0) continue;
    *any = 1;
    const uint32_t want = regs[i].ev.events;
    const uint32_t got = (uint32_t)m & (want | EPOLLERR | EPOLLHUP);
    if ((want & EPOLLOUT) && !(want & EPOLLET) && (got & EPOLLOUT) && n < max) {
      out[n].events = got;
      out[n].data = regs[i].ev.data;
      ++n;
    }
  }
  pthread_mutex_unlock(&regs_lock);
  return n;
}

/* Appends to the `made` events what epoll reported after them: a ring's
 * event gets the ring's current mask, and goes when the ring has nothing
 * any more (its CQEs were consumed while the call slept) or was made. */
static int merge_events(int epfd, struct epoll_event* ev, int made, int got) {
  int n = made;
  pthread_mutex_lock(&regs_lock);
  for (int i = made; i < made + got; ++i) {
    const struct ring_reg* reg = reg_by_data(epfd, ev[i].data.u64);
    if (reg) {
      int dup = 0;
      for (int j = 0; j < made; ++j) dup |= ev[j].data.u64 == ev[i].data.u64;
      if (dup) continue;
      const int m = iostack_io_uring_poll_mask(reg->fd);
      if (m >= 0) {
        ev[i].events = (uint32_t)m & (reg->ev.events | EPOLLERR | EPOLLHUP);
        if (!ev[i].events) continue;
      }
    }
    ev[n++] = ev[i];
  }
  pthread_mutex_unlock(&regs_lock);
  return n;
}

typedef int (*epoll_pwait_fn)(int, struct epoll_event*, int, int, const sigset_t*);
static epoll_pwait_fn real_epoll_pwait;

/* epoll_pwait2 where the caller used it; epoll_pwait (milliseconds,
 * rounded up) otherwise, so kernels without epoll_pwait2 keep working. */
static int real_wait(int epfd, struct epoll_event* ev, int max, const struct timespec* t,
                     const sigset_t* mask, int pwait2) {
  if (pwait2) {
    SHIM_RESOLVE(real_epoll_pwait2, "epoll_pwait2");
    return real_epoll_pwait2(epfd, ev, max, t, mask);
  }
  SHIM_RESOLVE(real_epoll_pwait, "epoll_pwait");
  long ms = -1;
  if (t) ms = t->tv_sec * 1000 + (t->tv_nsec + 999999) / 1000000;
  return real_epoll_pwait(epfd, ev, max, ms > INT32_MAX ? INT32_MAX : (int)ms, mask);
}

static int ring_epoll_wait(int epfd, struct epoll_event* ev, int max,
                           const struct timespec* timeout, const sigset_t* mask, int pwait2) {
  int any = 0;
  int made = 0;
  if (max > 0 && __atomic_load_n(&nregs, __ATOMIC_RELAXED)) made = ring_events(epfd, ev, max, &any);
  if (!any) return real_wait(epfd, ev, max, timeout, mask, pwait2);
  const int64_t deadline = deadline_of(timeout);
  static const struct timespec zero = {0, 0};
  for (;;) {
    if (made == max) return made;
    struct timespec left;
    const int r = real_wait(epfd, ev + made, max - made, made ? &zero : time_left(deadline, &left),
                            mask, pwait2);
    if (r < 0) return made ? made : r;
    const int n = merge_events(epfd, ev, made, r);
    if (n || (deadline >= 0 && now_ns() >= deadline)) return n;
    made = ring_events(epfd, ev, max, &any);
  }
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event* ev, int max, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return ring_epoll_wait(epfd, ev, max, timeout_ms < 0 ? NULL : &ts, NULL, 0);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event* ev, int max, int timeout_ms,
                            const sigset_t* mask) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return ring_epoll_wait(epfd, ev, max, timeout_ms < 0 ? NULL : &ts, mask, 0);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event* ev, int max,
                             const struct timespec* timeout, const sigset_t* mask) {
  return ring_epoll_wait(epfd, ev, max, timeout, mask, 1);
}
