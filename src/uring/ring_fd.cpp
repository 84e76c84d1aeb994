// The ring's file descriptor (io_uring_get_file, io_uring_poll, fget of a
// ring, IORING_REGISTER_RING_FDS in io_uring/io_uring.c, tctx.c). The fd is
// an epoll instance holding one private eventfd: epoll gives it the
// kernel's answers for read() (EINVAL) and readiness for poll/epoll; the
// eventfd is signalled when CQEs are posted and drained when an enter finds
// the CQ ring empty.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr int kMaxFd = 1 << 16;
std::array<std::atomic<IoRingCtx*>, kMaxFd> g_rings{};

// tctx->registered_rings: per task, hence per thread here.
thread_local std::array<IoRingCtx*, kRingFdRegMax> t_registered{};

}  // namespace

int ring_fd_create(IoRingCtx* ctx) {
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return -errno;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    const int err = -errno;
    close(efd);
    return err;
  }
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = efd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0 || ep >= kMaxFd) {
    const int err = ep >= kMaxFd ? -EMFILE : -errno;
    close(ep);
    close(efd);
    return err;
  }
  ctx->fd = ep;
  ctx->ready_efd = efd;
  return ep;
}

void ring_fd_install(IoRingCtx* ctx) {
  ctx->alive.store(true, std::memory_order_release);
  g_rings[static_cast<std::size_t>(ctx->fd)].store(ctx, std::memory_order_release);
}

IoRingCtx* ring_fd_lookup(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  return g_rings[static_cast<std::size_t>(fd)].load(std::memory_order_acquire);
}

IoRingCtx* ring_fd_remove(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  IoRingCtx* ctx =
      g_rings[static_cast<std::size_t>(fd)].exchange(nullptr, std::memory_order_acq_rel);
  if (ctx) {
    for (auto& slot : t_registered)
      if (slot == ctx) slot = nullptr;
  }
  return ctx;
}

void ring_ready_signal(IoRingCtx* ctx) {
  if (ctx->ready_signalled.load(std::memory_order_relaxed)) return;
  if (ctx->ready_signalled.exchange(true, std::memory_order_seq_cst)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(ctx->ready_efd, &one, sizeof(one));
}

void ring_ready_update(IoRingCtx* ctx) {
  if (!ctx->ready_signalled.load(std::memory_order_seq_cst)) return;
  if (cq_events_user(ctx) || ctx->has_overflow.load(std::memory_order_acquire)) return;
  std::uint64_t v;
  [[maybe_unused]] ssize_t r = read(ctx->ready_efd, &v, sizeof(v));
  ctx->ready_signalled.store(false, std::memory_order_seq_cst);
  // A CQE posted between the check and the store saw "signalled" and did
  // not write: signal for it.
  if (cq_events_user(ctx) || ctx->has_overflow.load(std::memory_order_acquire))
    ring_ready_signal(ctx);
}

IoRingCtx* registered_ring(unsigned index) {
  if (index >= kRingFdRegMax) return nullptr;
  return t_registered[index];
}

int ctx_get(int fd, bool registered, IoRingCtx** out) {
  IoRingCtx* ctx;
  if (registered) {
    if (fd < 0 || static_cast<unsigned>(fd) >= kRingFdRegMax) return -EINVAL;
    ctx = t_registered[static_cast<unsigned>(fd)];
    if (!ctx) return -EBADF;
  } else {
    ctx = ring_fd_lookup(fd);
    if (!ctx) return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EOPNOTSUPP;
  }
  ctx->users.fetch_add(1, std::memory_order_seq_cst);
  if (!ctx->alive.load(std::memory_order_seq_cst)) {
    ctx->users.fetch_sub(1, std::memory_order_seq_cst);
    return -EBADF;
  }
  *out = ctx;
  return 0;
}

void ctx_put(IoRingCtx* ctx) { ctx->users.fetch_sub(1, std::memory_order_seq_cst); }

// io_ringfd_register: entries are struct io_uring_rsrc_update {offset, resv,
// data}, each copied in and (with the slot it got) back out in turn; offset
// -1 picks a free slot. A slot whose entry cannot be written back is freed
// again.
int register_ring_fds(IoRingCtx*, void* arg, unsigned nr) {
  if (!nr || nr > kRingFdRegMax) return -EINVAL;
  auto* upd = static_cast<io_uring_rsrc_update*>(arg);
  unsigned i;
  int ret = 0;
  for (i = 0; i < nr; ++i) {
    io_uring_rsrc_update u;
    if (core::get_user(u, &upd[i])) {
      ret = -EFAULT;
      break;
    }
    if (u.resv) {
      ret = -EINVAL;
      break;
    }
    unsigned slot;
    if (u.offset == static_cast<std::uint32_t>(-1)) {
      for (slot = 0; slot < kRingFdRegMax; ++slot)
        if (!t_registered[slot]) break;
      if (slot == kRingFdRegMax) {
        ret = -EBUSY;
        break;
      }
    } else {
      slot = u.offset;
      if (slot >= kRingFdRegMax) {
        ret = -EINVAL;
        break;
      }
    }
    IoRingCtx* target = ring_fd_lookup(static_cast<int>(u.data));
    if (!target) {
      ret = fcntl(static_cast<int>(u.data), F_GETFD) < 0 ? -EBADF : -EOPNOTSUPP;
      break;
    }
    t_registered[slot] = target;
    u.offset = slot;
    if (core::put_user(u, &upd[i])) {
      t_registered[slot] = nullptr;
      ret = -EFAULT;
      break;
    }
  }
  return i ? static_cast<int>(i) : ret;
}

int unregister_ring_fds(IoRingCtx*, void* arg, unsigned nr) {
  if (!nr || nr > kRingFdRegMax) return -EINVAL;
  const auto* upd = static_cast<const io_uring_rsrc_update*>(arg);
  unsigned i;
  int ret = 0;
  for (i = 0; i < nr; ++i) {
    io_uring_rsrc_update u;
    if (core::get_user(u, &upd[i])) {
      ret = -EFAULT;
      break;
    }
    if (u.resv || u.data || u.offset >= kRingFdRegMax) {
      ret = -EINVAL;
      break;
    }
    t_registered[u.offset] = nullptr;
  }
  return i ? static_cast<int>(i) : ret;
}

}  // namespace iostack::uring
