// The C API of include/iostack/uring.h: argument plumbing onto the engine,
// and mmap of the ring regions (io_uring_mmap, io_uring/memmap.c).
#include "iostack/uring.h"

#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <new>

#include "core/host_uring.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ring_share.hpp"

using namespace iostack;
using namespace iostack::uring;

namespace {

void* err_ptr(int err) { return reinterpret_cast<void*>(static_cast<long>(err)); }

}  // namespace

extern "C" {

int iostack_io_uring_setup(unsigned entries, struct io_uring_params* p) {
  try {
    return ring_setup(entries, p);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

int iostack_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                           const void* arg, size_t argsz) {
  try {
    return ring_enter(fd, to_submit, min_complete, flags, arg, argsz);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

int iostack_io_uring_register(int fd, unsigned opcode, void* arg, unsigned nr_args) {
  try {
    return ring_register(fd, opcode, arg, nr_args);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

void* iostack_io_uring_mmap2(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  RingRegion region;
  core::FileRef ring;
  RingsReadScope scope;
  if (const int ret = ring_region_of(fd, &region, &ring, &scope)) return err_ptr(ret);
  void* p = ring_region_map(region, addr, len, prot, flags, offset);
  if (!IOSTACK_URING_IS_ERR(p)) ring_maps_add(p, len, std::move(ring));
  return p;
}

void* iostack_io_uring_mmap(int fd, off_t offset, size_t len) {
  return iostack_io_uring_mmap2(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                                offset);
}

int iostack_io_uring_munmap(void* addr, size_t len) { return ring_maps_unmap(addr, len); }

int iostack_io_uring_close(int fd) {
  if (!is_ring_fd(fd)) return -EBADF;
  ring_maps_sweep();
  return core::close_fd(fd);
}

int iostack_io_uring_is_ring(int fd) { return ring_fd_live(fd) ? 1 : 0; }

int iostack_io_uring_scm_check(const struct msghdr* msg) {
  struct msghdr m;
  if (core::copy_from_user(&m, msg, sizeof(m))) return 0;  // the kernel's -EFAULT
  return scm_rights_check(m.msg_control, m.msg_controllen);
}

void iostack_io_uring_run_wakeups(void) { poll_run_wakeups(); }

void iostack_io_uring_served_here(void) { core::host_uring_allow(false); }

void iostack_io_uring_before_exec(void) { ring_share_before_exec(); }

int iostack_io_uring_poll_mask(int fd) {
  core::FileRef ref = ring_file_get(fd);
  IoRingCtx* ctx = ring_of(ref);
  return ctx ? static_cast<int>(ring_poll_mask(ctx)) : -1;
}

void iostack_epoll_ctl_done(int epfd, int op, int fd, const struct epoll_event* ev) {
  ring_epoll_note(epfd, op, fd, ev);
}

void iostack_epoll_forget_fd(int fd) { ring_epoll_forget_fd(fd); }

int iostack_epoll_holds_ring(int epfd) { return ring_epoll_holds_ring(epfd); }

int iostack_epoll_pwait2(int epfd, struct epoll_event* ev, int max, const struct timespec* timeout,
                         const sigset_t* mask) {
  return ring_epoll_wait(epfd, ev, max, timeout, mask);
}

}  // extern "C"
