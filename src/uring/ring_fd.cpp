// The ring's file (io_uring_get_file, io_uring_poll, fget of a ring,
// io_uring_release, IORING_REGISTER_RING_FDS in io_uring/io_uring.c and
// tctx.c). The descriptor is an epoll instance holding one private eventfd:
// epoll gives it the kernel's answers for read() (EINVAL) and readiness for
// poll/epoll; the eventfd is signalled when CQEs are posted and drained when
// the CQ ring is found empty. The ring is a core::File in the process's
// descriptor table, so dup()s of the descriptor reach the same ring and the
// ring lives until its last descriptor, mapping (ring_maps.cpp) and
// reference are gone.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>
#include <vector>

#include "core/fd_high.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/kbuf.hpp"

namespace iostack::uring {

namespace {

core::FdTable& files() { return core::Process::current().files(); }

void ring_release(core::File* f) {
  auto* ctx = static_cast<IoRingCtx*>(f);
  ring_destroy(ctx);
  // A ring that never had a descriptor in the table closes its own.
  if (ctx->registered_only && ctx->fd >= 0) close(ctx->fd);
  delete ctx;
}

// What a forked child finds at a ring descriptor of its parent that the fork
// could not share (no shared page could be made for it): the descriptor
// refuses enter and register with -EBADFD, still maps the (shared) ring
// memory, and closes cleanly. A shared ring gets a ring object of the
// child's own instead (ring_share.cpp).
struct InheritedRing : core::File {
  InheritedRing();
  RingRegion region;   // the parent's shared mapping, inherited by fork
  int ready_efd = -1;  // the parent's eventfd, inherited too
};

void inherited_release(core::File* f) {
  auto* r = static_cast<InheritedRing*>(f);
  if (r->region.base) munmap(r->region.base, r->region.rings_bytes + r->region.sqes_bytes);
  if (r->ready_efd >= 0) close(r->ready_efd);
  delete r;
}

core::File* inherited_fork_child(core::File* f) {
  auto* parent = static_cast<InheritedRing*>(f);
  auto* r = new InheritedRing;
  r->region = parent->region;
  r->ready_efd = parent->ready_efd;
  return r;
}

const core::FileOps kInheritedRingFops = {"io_uring (parent's)", inherited_release,
                                          inherited_fork_child};

InheritedRing::InheritedRing() : core::File(&kInheritedRingFops) {}

core::File* ring_fork_child(core::File* f) {
  auto* ctx = static_cast<IoRingCtx*>(f);
  if (IoRingCtx* mine = ring_share_child(ctx)) return mine;
  auto* r = new InheritedRing;
  r->region = ring_region(ctx);
  r->region.user_rings = nullptr;  // the child's ring object is not this one
  r->region.ctx = nullptr;
  r->ready_efd = ctx->ready_efd;
  return r;
}

// tctx->registered_rings: per task, hence per thread here. Each slot holds a
// reference, as the kernel's holds the file. A forked child's thread drops
// the copies without touching the parent's rings.
struct RegisteredRings {
  unsigned generation = 0;
  std::array<core::FileRef, kRingFdRegMax> slots;
  ~RegisteredRings() {
    if (generation != core::Process::fork_generation())
      for (core::FileRef& s : slots) s.release();
  }
  std::array<core::FileRef, kRingFdRegMax>& get() {
    const unsigned g = core::Process::fork_generation();
    if (generation != g) {
      for (core::FileRef& s : slots) s.release();
      generation = g;
    }
    return slots;
  }
};
thread_local RegisteredRings t_registered;

}  // namespace

const core::FileOps kRingFops = {"io_uring", ring_release, ring_fork_child};

IoRingCtx::IoRingCtx() : core::File(&kRingFops) {}

int ring_fd_create(IoRingCtx* ctx) {
  // Inside the ring fd only: kept out of the program's low numbers.
  const int efd = core::move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
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
  if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0) {
    const int err = -errno;
    close(ep);
    close(efd);
    return err;
  }
  ctx->fd = ep;
  ctx->ready_efd = efd;
  return ep;
}

void ring_fd_install(IoRingCtx* ctx) {
  // A ring whose descriptor was closed by an inline system call (liburing
  // 2.3 closes its rings so) is found out here at the latest, and goes.
  std::vector<std::pair<int, core::File*>> stale;
  files().for_each([&](int fd, core::File* f) {
    if (f->ops() == &kRingFops && !ring_fd_verify(static_cast<IoRingCtx*>(f), fd))
      stale.emplace_back(fd, f);
  });
  for (const auto& [fd, f] : stale) files().remove_if(fd, f);
  ring_maps_sweep();
  ctx->alive.store(true, std::memory_order_release);
  // The table takes the ring's first reference. Whatever it held at this
  // number was closed behind our back (an inline close system call): it
  // goes now.
  files().install(ctx->fd, ctx);
}

int ring_fd_register_only(IoRingCtx* ctx) {
  // Kept out of the program's descriptor numbers: the kernel uses none.
  const int high = core::move_high(ctx->fd);
  if (high >= 0) ctx->fd = high;
  ctx->registered_only = true;
  ctx->alive.store(true, std::memory_order_release);
  core::FileRef ref(ctx);  // the ring's first reference
  auto& slots = t_registered.get();
  for (unsigned i = 0; i < kRingFdRegMax; ++i) {
    if (!slots[i]) {
      slots[i] = std::move(ref);
      return static_cast<int>(i);
    }
  }
  return -EBUSY;  // `ref` goes, and the ring with it
}

core::FileRef ring_file_get(int fd) {
  core::FileRef f = files().get(fd);
  if (!f.is(&kRingFops)) return {};
  return f;
}

bool is_ring_fd(int fd) {
  core::FileRef f = files().get(fd);
  return f.is(&kRingFops) || f.is(&kInheritedRingFops);
}

bool ring_fd_live(int fd) {
  core::FileRef ref = ring_file_get(fd);
  if (IoRingCtx* ctx = ring_of(ref)) {
    if (ring_fd_verify(ctx, fd)) return true;
    // Closed behind our back and the number reused: forget it.
    files().remove_if(fd, ctx);
    return false;
  }
  return is_ring_fd(fd);
}

int scm_rights_check(const void* ucontrol, std::size_t controllen) {
  // Walked as for_each_cmsghdr does, reading each header from the program.
  const auto base = reinterpret_cast<std::uintptr_t>(ucontrol);
  std::size_t off = 0;
  while (controllen >= sizeof(cmsghdr) && off <= controllen - sizeof(cmsghdr)) {
    cmsghdr h;
    if (core::copy_from_user(&h, reinterpret_cast<const void*>(base + off), sizeof(h))) return 0;
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > controllen - off) return 0;
    if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
      const std::size_t nfds = (h.cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < nfds; ++i) {
        int fd;
        if (core::get_user(fd, reinterpret_cast<const int*>(base + off + CMSG_LEN(0)) + i))
          return 0;
        if (fd >= 0 && ring_fd_live(fd)) return -EINVAL;
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return 0;
}

bool ring_fd_verify(IoRingCtx* ctx, int fd) {
  // Only the epoll instance made for this ring holds its private eventfd.
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = ctx->ready_efd;
  return epoll_ctl(fd, EPOLL_CTL_MOD, ctx->ready_efd, &ev) == 0;
}

RingRegion ring_region(IoRingCtx* ctx) {
  RingRegion r;
  r.ctx = ctx;
  if (!ctx->region) {
    r.user_memory = true;
    return r;
  }
  r.base = static_cast<char*>(ctx->region);
  r.rings_bytes = ctx->rings_bytes;
  r.sqes_bytes = ctx->sqes_bytes;
  r.user_rings = &ctx->user_rings;
  return r;
}

int ring_region_of(int fd, RingRegion* out, core::FileRef* file, RingsReadScope* scope) {
  core::FileRef f = files().get(fd);
  if (f.is(&kRingFops)) {
    IoRingCtx* ctx = ring_of(f);
    scope->enter(ctx);
    // What a resize on the submitter's thread swaps, read whole.
    ctx->completion_lock.lock();
    *out = ring_region(ctx);
    ctx->completion_lock.unlock();
    *file = std::move(f);
    return 0;
  }
  if (f.is(&kInheritedRingFops)) {
    *out = f.as<InheritedRing>()->region;
    *file = std::move(f);
    return 0;
  }
  return fcntl(fd, F_GETFD) < 0 ? -EBADF : -ENODEV;
}

void* ring_region_map(const RingRegion& region, void* addr, std::size_t len, int prot, int flags,
                      off_t offset) {
  auto err = [](int e) { return reinterpret_cast<void*>(static_cast<long>(e)); };
  char* src;
  std::size_t size;
  const auto off = static_cast<unsigned long long>(offset);
  // io_uring_get_unmapped_area answers -ENOMEM for what it cannot map: the
  // rings in the program's own memory (NO_MMAP), a buffer ring or a
  // registered region the program gave or that does not exist.
  switch (off & IORING_OFF_MMAP_MASK) {
    case IORING_OFF_SQ_RING:
    case IORING_OFF_CQ_RING:
      if (region.user_memory) return err(-ENOMEM);
      src = region.base;
      size = region.rings_bytes;
      break;
    case IORING_OFF_SQES:
      if (region.user_memory) return err(-ENOMEM);
      src = region.base + region.rings_bytes;
      size = region.sqes_bytes;
      break;
    case uapi::kOffPbufRing: {
      const unsigned bgid =
          static_cast<unsigned>((off & ~IORING_OFF_MMAP_MASK) >> uapi::kOffPbufShift);
      if (!region.ctx || pbuf_mmap_region(region.ctx, bgid, &src, &size)) return err(-ENOMEM);
      break;
    }
    case uapi::kMapOffParamRegion:
      if (!region.ctx || param_region_mmap(region.ctx, &src, &size)) return err(-ENOMEM);
      break;
    default:
      return err(-EINVAL);
  }
  // A mapping longer than the region is the kernel's too: io_region_mmap
  // inserts the region's pages and leaves the rest of it empty (here an
  // inaccessible reservation the region is moved into).
  void* p;
  if (len > size) {
    void* area = mmap((flags & MAP_FIXED) ? addr : nullptr, len, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
    if (area == MAP_FAILED) return err(-errno);
    p = mremap(src, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED, area);
    if (p == MAP_FAILED) {
      const int e = -errno;
      munmap(area, len);
      return err(e);
    }
  } else {
    // A zero old size makes mremap map the same shared pages once more.
    p = (flags & MAP_FIXED) ? mremap(src, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr)
                            : mremap(src, 0, len, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return err(-errno);
  }
  if (prot != (PROT_READ | PROT_WRITE) && mprotect(p, len < size ? len : size, prot) != 0) {
    const int e = -errno;
    munmap(p, len);
    return err(e);
  }
  if (src == region.base && region.user_rings) {
    user_map_note(static_cast<char*>(p), len);
    region.user_rings->store(static_cast<char*>(p), std::memory_order_relaxed);
  }
  return p;
}

namespace {

// Whether the ring fd's eventfd was written: a ring shared across fork has
// one eventfd for all its processes, so one flag in the shared page.
std::atomic<bool>& ready_flag(IoRingCtx* ctx) {
  RingShared* sh = ctx->shared.load(std::memory_order_relaxed);
  return sh ? sh->ready_signalled : ctx->ready_signalled;
}

}  // namespace

void ring_ready_signal(IoRingCtx* ctx) {
  std::atomic<bool>& signalled = ready_flag(ctx);
  if (signalled.load(std::memory_order_relaxed)) return;
  if (signalled.exchange(true, std::memory_order_seq_cst)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(ctx->ready_efd, &one, sizeof(one));
}

// Called by the ring's own waits (for a DEFER_TASKRUN ring only its
// submitter, the thread that resizes it) and inside ring_poll_mask's scope.
void ring_ready_update(IoRingCtx* ctx) {
  std::atomic<bool>& signalled = ready_flag(ctx);
  if (!signalled.load(std::memory_order_seq_cst)) return;
  if (cq_events_user(ctx) || ctx->has_overflow.load(std::memory_order_acquire)) return;
  // A poll of the ring itself was woken by the post (the kernel's wakeup
  // carries the mask): the program reaping the CQE first must not undo it.
  if (ctx->self_polls.load(std::memory_order_seq_cst)) return;
  std::uint64_t v;
  [[maybe_unused]] ssize_t r = read(ctx->ready_efd, &v, sizeof(v));
  signalled.store(false, std::memory_order_seq_cst);
  // A CQE posted between the check and the store saw "signalled" and did
  // not write: signal for it.
  if (cq_events_user(ctx) || ctx->has_overflow.load(std::memory_order_acquire))
    ring_ready_signal(ctx);
}

std::uint32_t ring_poll_mask(IoRingCtx* ctx) {
  RingsReadScope scope(ctx);
  ring_ready_update(ctx);
  std::uint32_t mask = 0;
  IoRings* r = rings_now(ctx);
  const std::uint32_t sq_used = load_acquire(r->sq.tail) - load_acquire(r->sq.head);
  if (sq_used < std::atomic_ref<unsigned>(ctx->sq_entries).load(std::memory_order_relaxed))
    mask |= EPOLLOUT | EPOLLWRNORM;
  // io_has_work: a DEFER_TASKRUN ring's pending task work (completions it
  // has not posted yet) counts as readable too.
  if (cq_events_user(ctx) || ctx->has_overflow.load(std::memory_order_acquire) ||
      ((ctx->flags & IORING_SETUP_DEFER_TASKRUN) && tw_pending(ctx)))
    mask |= EPOLLIN | EPOLLRDNORM;
  return mask;
}

int ctx_get(int fd, bool registered, core::FileRef* out) {
  if (registered) {
    if (fd < 0 || static_cast<unsigned>(fd) >= kRingFdRegMax) return -EINVAL;
    const core::FileRef& slot = t_registered.get()[static_cast<unsigned>(fd)];
    if (!slot) return -EBADF;
    slot.get()->get();
    *out = core::FileRef(slot.get());
    return 0;
  }
  core::FileRef f = files().get(fd);
  if (!f.is(&kRingFops)) {
    if (f.is(&kInheritedRingFops)) return -EBADFD;
    return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EOPNOTSUPP;
  }
  if (ring_of(f)->shared.load(std::memory_order_relaxed)) ring_share_sync(ring_of(f));
  *out = std::move(f);
  return 0;
}

// io_ringfd_register: entries are struct io_uring_rsrc_update {offset, resv,
// data}, each copied in and (with the slot it got) back out in turn; offset
// -1 picks a free slot. A slot whose entry cannot be written back is freed
// again.
int register_ring_fds(IoRingCtx*, void* arg, unsigned nr) {
  if (!nr || nr > kRingFdRegMax) return -EINVAL;
  auto& slots = t_registered.get();
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
        if (!slots[slot]) break;
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
    core::FileRef target = ring_file_get(static_cast<int>(u.data));
    if (!target) {
      ret = fcntl(static_cast<int>(u.data), F_GETFD) < 0 ? -EBADF : -EOPNOTSUPP;
      break;
    }
    slots[slot] = std::move(target);
    u.offset = slot;
    if (core::put_user(u, &upd[i])) {
      slots[slot].reset();
      ret = -EFAULT;
      break;
    }
  }
  return i ? static_cast<int>(i) : ret;
}

int unregister_ring_fds(IoRingCtx*, void* arg, unsigned nr) {
  if (!nr || nr > kRingFdRegMax) return -EINVAL;
  auto& slots = t_registered.get();
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
    slots[u.offset].reset();
  }
  return i ? static_cast<int>(i) : ret;
}

}  // namespace iostack::uring
