/* Readiness of ring descriptors as the kernel's io_uring_poll reports it:
 * POLLIN exactly while CQEs are pending (also after the program consumed
 * CQEs from the ring without entering), POLLOUT while the SQ ring has room.
 * A ring descriptor is an epoll instance that iostack signals when it posts
 * CQEs; poll(), ppoll(), select(), pselect() and epoll_wait() bring that
 * signal up to date first and report the kernel's mask for ring
 * descriptors (epoll through libiostack, which also serves the ring's
 * EPOLL_CTL and EPOLL_WAIT). Calls that name no ring go straight to libc. */
#define _GNU_SOURCE
#include <poll.h>
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

/* ---- epoll: libiostack keeps the registrations of rings and answers
 * for epoll instances that hold one. */

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
  SHIM_RESOLVE(real_epoll_ctl, "epoll_ctl");
  const int ret = real_epoll_ctl(epfd, op, fd, ev);
  if (ret == 0) iostack_epoll_ctl_done(epfd, op, fd, ev);
  return ret;
}

typedef int (*epoll_pwait_fn)(int, struct epoll_event*, int, int, const sigset_t*);
static epoll_pwait_fn real_epoll_pwait;

static int ring_epoll_wait(int epfd, struct epoll_event* ev, int max, int timeout_ms,
                           const struct timespec* timeout, const sigset_t* mask) {
  if (iostack_epoll_holds_ring(epfd))
    return (int)shim_result(iostack_epoll_pwait2(epfd, ev, max, timeout, mask));
  if (timeout_ms == INT32_MIN) {
    SHIM_RESOLVE(real_epoll_pwait2, "epoll_pwait2");
    return real_epoll_pwait2(epfd, ev, max, timeout, mask);
  }
  SHIM_RESOLVE(real_epoll_pwait, "epoll_pwait");
  return real_epoll_pwait(epfd, ev, max, timeout_ms, mask);
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event* ev, int max, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return ring_epoll_wait(epfd, ev, max, timeout_ms, timeout_ms < 0 ? NULL : &ts, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event* ev, int max, int timeout_ms,
                            const sigset_t* mask) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return ring_epoll_wait(epfd, ev, max, timeout_ms, timeout_ms < 0 ? NULL : &ts, mask);
}

/* INT32_MIN as the millisecond timeout: the caller used epoll_pwait2. */
SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event* ev, int max,
                             const struct timespec* timeout, const sigset_t* mask) {
  return ring_epoll_wait(epfd, ev, max, INT32_MIN, timeout, mask);
}
