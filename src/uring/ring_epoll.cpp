// Ring descriptors registered in epoll instances: what epoll_wait reports
// for them is io_uring_poll's mask (POLLIN while CQEs are pending, POLLOUT
// while the SQ ring has room), not the readiness of the epoll instance that
// iostack's ring descriptor is inside, which never reports POLLOUT and may
// say POLLIN after the program consumed its CQEs without entering.
// Registrations are noted after every successful epoll_ctl of a ring (the
// preload shim's, and IORING_OP_EPOLL_CTL's), by (epoll instance, fd).
#include <sys/epoll.h>
#include <sys/syscall.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <vector>

#include "core/mutex.hpp"
#include "core/raw_syscall.h"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

struct RingReg {
  int epfd;
  int fd;
  struct epoll_event ev;
};

struct RingRegs {
  core::Mutex lock;
  std::vector<RingReg> regs GUARDED_BY(lock);
  std::atomic<std::size_t> count{0};  // regs.size(), read without the lock
};

RingRegs& ring_regs() {
  static RingRegs* r = new RingRegs;  // never destroyed: used at exit too
  return *r;
}

// The mask `r` reports now, within what it asked for; -1 when its fd is no
// ring any more.
int reg_mask(const RingReg& r) {
  core::FileRef ref = ring_file_get(r.fd);
  IoRingCtx* ctx = ring_of(ref);
  if (!ctx) return -1;
  return static_cast<int>(ring_poll_mask(ctx) & (r.ev.events | EPOLLERR | EPOLLHUP));
}

// epoll_pwait2, or epoll_pwait (milliseconds, rounded up) where the kernel
// has no epoll_pwait2 (before 5.11, gVisor).
long host_epoll_wait(int epfd, struct epoll_event* ev, int max, const struct timespec* t,
                     const sigset_t* mask) {
  static std::atomic<bool> no_pwait2{false};
  constexpr long kSigsetSize = 8;  // the kernel's sigset_t, _NSIG / 8
  if (!no_pwait2.load(std::memory_order_relaxed)) {
    const long r =
        iostack_raw_syscall6(SYS_epoll_pwait2, epfd, reinterpret_cast<long>(ev), max,
                             reinterpret_cast<long>(t), reinterpret_cast<long>(mask), kSigsetSize);
    if (r != -ENOSYS) return r;
    no_pwait2.store(true, std::memory_order_relaxed);
  }
  long ms = -1;
  if (t) ms = t->tv_sec * 1000 + (t->tv_nsec + 999999) / 1000000;
  if (ms > INT32_MAX) ms = INT32_MAX;
  return iostack_raw_syscall6(SYS_epoll_pwait, epfd, reinterpret_cast<long>(ev), max, ms,
                              reinterpret_cast<long>(mask), kSigsetSize);
}

std::int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Writes into `out` (up to `max`) the level-triggered rings of `epfd` that
// want POLLOUT and have it, which the host epoll never reports; *any says
// whether `epfd` holds a ring at all. -EFAULT for an unwritable `out`.
int rings_with_pollout(int epfd, struct epoll_event* out, int max, bool* any) {
  RingRegs& r = ring_regs();
  std::array<struct epoll_event, 32> found;
  int n = 0;
  *any = false;
  {
    core::LockGuard guard(r.lock);
    for (const RingReg& reg : r.regs) {
      if (reg.epfd != epfd) continue;
      const int m = reg_mask(reg);
      if (m < 0) continue;
      *any = true;
      if ((reg.ev.events & EPOLLOUT) && !(reg.ev.events & EPOLLET) && (m & EPOLLOUT) && n < max &&
          n < static_cast<int>(found.size()))
        found[n++] = {static_cast<std::uint32_t>(m), reg.ev.data};
    }
  }
  if (n && core::copy_to_user(out, found.data(), sizeof(found[0]) * static_cast<unsigned>(n)))
    return -EFAULT;
  return n;
}

// Appends to the `made` events what the host epoll wrote after them: a
// ring's event gets the ring's mask now, and goes when that is empty (its
// CQEs were consumed meanwhile) or when it was made already.
int merge_host_events(int epfd, struct epoll_event* ev, int made, int got) {
  RingRegs& r = ring_regs();
  core::LockGuard guard(r.lock);
  int n = made;
  for (int i = made; i < made + got; ++i) {
    const RingReg* reg = nullptr;
    for (const RingReg& x : r.regs)
      if (x.epfd == epfd && x.ev.data.u64 == ev[i].data.u64) reg = &x;
    if (reg) {
      bool dup = false;
      for (int j = 0; j < made; ++j) dup |= ev[j].data.u64 == ev[i].data.u64;
      if (dup) continue;
      const int m = reg_mask(*reg);
      if (m >= 0) {
        ev[i].events = static_cast<std::uint32_t>(m);
        if (!m) continue;
      }
    }
    ev[n++] = ev[i];
  }
  return n;
}

}  // namespace

void ring_epoll_note(int epfd, int op, int fd, const struct epoll_event* ev) {
  RingRegs& r = ring_regs();
  if (op != EPOLL_CTL_DEL && (!ev || !is_ring_fd(fd))) return;
  core::LockGuard guard(r.lock);
  auto it = r.regs.begin();
  while (it != r.regs.end() && !(it->epfd == epfd && it->fd == fd)) ++it;
  if (op == EPOLL_CTL_DEL) {
    if (it != r.regs.end()) r.regs.erase(it);
  } else if (it != r.regs.end()) {
    it->ev = *ev;
  } else {
    r.regs.push_back({epfd, fd, *ev});
  }
  r.count.store(r.regs.size(), std::memory_order_relaxed);
}

void ring_epoll_forget_fd(int fd) {
  RingRegs& r = ring_regs();
  if (!r.count.load(std::memory_order_relaxed)) return;
  core::LockGuard guard(r.lock);
  std::erase_if(r.regs, [fd](const RingReg& x) { return x.epfd == fd || x.fd == fd; });
  r.count.store(r.regs.size(), std::memory_order_relaxed);
}

bool ring_epoll_holds_ring(int epfd) {
  RingRegs& r = ring_regs();
  if (!r.count.load(std::memory_order_relaxed)) return false;
  core::LockGuard guard(r.lock);
  for (const RingReg& reg : r.regs)
    if (reg.epfd == epfd) return true;
  return false;
}

int ring_epoll_wait(int epfd, struct epoll_event* ev, int max, const struct timespec* timeout,
                    const sigset_t* mask) {
  bool any = false;
  int made = max > 0 ? rings_with_pollout(epfd, ev, max, &any) : 0;
  if (made < 0) return made;
  if (!any) return static_cast<int>(host_epoll_wait(epfd, ev, max, timeout, mask));
  const std::int64_t deadline =
      timeout ? now_ns() + timeout->tv_sec * 1000000000 + timeout->tv_nsec : -1;
  for (;;) {
    if (made == max) return made;
    struct timespec left = {0, 0};
    if (!made && deadline >= 0) {
      const std::int64_t ns = deadline > now_ns() ? deadline - now_ns() : 0;
      left = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    }
    const long got =
        host_epoll_wait(epfd, ev + made, max - made, made || deadline >= 0 ? &left : nullptr, mask);
    if (got < 0) return made ? made : static_cast<int>(got);
    const int n = merge_host_events(epfd, ev, made, static_cast<int>(got));
    if (n || (deadline >= 0 && now_ns() >= deadline)) return n;
    // A ring woke the call but its CQEs were consumed meanwhile: wait on.
    made = rings_with_pollout(epfd, ev, max, &any);
    if (made < 0) return made;
  }
}

}  // namespace iostack::uring
