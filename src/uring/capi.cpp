// The C API of include/iostack/uring.h: argument plumbing onto the engine,
// and mmap of the ring regions (io_uring_mmap, io_uring/memmap.c).
#include "iostack/uring.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>

#include "uring/engine.hpp"

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
  IoRingCtx* ctx;
  if (const int ret = ctx_get(fd, false, &ctx)) return err_ptr(ret == -EOPNOTSUPP ? -ENODEV : ret);
  off_t memoff;
  std::size_t size;
  switch (static_cast<unsigned long long>(offset) & IORING_OFF_MMAP_MASK) {
    case IORING_OFF_SQ_RING:
    case IORING_OFF_CQ_RING:
      memoff = 0;
      size = ctx->rings_bytes;
      break;
    case IORING_OFF_SQES:
      memoff = static_cast<off_t>(ctx->rings_bytes);
      size = ctx->sqes_bytes;
      break;
    default:
      ctx_put(ctx);
      return err_ptr(-EINVAL);
  }
  void* res;
  if (len > size) {
    res = err_ptr(-EINVAL);
  } else {
    void* p = mmap(addr, len, prot, flags, ctx->memfd, memoff);
    res = p == MAP_FAILED ? err_ptr(-errno) : p;
  }
  ctx_put(ctx);
  return res;
}

void* iostack_io_uring_mmap(int fd, off_t offset, size_t len) {
  return iostack_io_uring_mmap2(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                                offset);
}

int iostack_io_uring_munmap(void* addr, size_t len) { return munmap(addr, len) == 0 ? 0 : -errno; }

int iostack_io_uring_close(int fd) {
  IoRingCtx* ctx = ring_fd_remove(fd);
  if (!ctx) return -EBADF;
  ring_destroy(ctx);
  return 0;
}

int iostack_io_uring_is_ring(int fd) { return ring_fd_lookup(fd) ? 1 : 0; }

}  // extern "C"
