// IORING_REGISTER_MEM_REGION (io_register_mem_region in io_uring/register.c,
// io_create_region in io_uring/memmap.c) and the registered wait arguments
// that IORING_ENTER_EXT_ARG_REG names by offset (io_get_ext_arg_reg in
// io_uring/io_uring.c).
#include <sys/mman.h>

#include <cerrno>
#include <climits>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

// io_create_region: the descriptor's checks in the kernel's order, then the
// memory (charged first, as __io_account_mem is).
int create_region(IoRingCtx* ctx, uapi::RegionDesc& rd, ParamRegion* out) {
  for (std::uint64_t r : rd.resv)
    if (r) return -EINVAL;
  if (rd.flags & ~uapi::kMemRegionTypeUser) return -EINVAL;
  // A user address exactly when the memory is the program's.
  if (static_cast<bool>(rd.flags & uapi::kMemRegionTypeUser) != (rd.user_addr != 0)) return -EFAULT;
  if (!rd.size || rd.mmap_offset || rd.id) return -EINVAL;
  if ((rd.size / kPageSize) > INT_MAX) return -E2BIG;
  if ((rd.user_addr | rd.size) & (kPageSize - 1)) return -EINVAL;
  std::uint64_t end;
  if (__builtin_add_overflow(rd.user_addr, rd.size, &end)) return -EOVERFLOW;

  ParamRegion r;
  r.bytes = rd.size;
  if (ctx->acct_pages) {
    if (const int ret = account_mem(ctx->acct_uid, rd.size / kPageSize)) return ret;
    r.charged = rd.size / kPageSize;
  }
  int ret = 0;
  if (rd.flags & uapi::kMemRegionTypeUser) {
    r.user = true;
    ret = ring_user_region(rd.user_addr, rd.size, &r.ptr);
  } else {
    // Zeroed shared memory the program maps with mremap (ring_region_map).
    void* m = mmap(nullptr, rd.size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      ret = -ENOMEM;
    } else {
      r.ptr = static_cast<char*>(m);
      rd.mmap_offset = uapi::kMapOffParamRegion;
    }
  }
  if (ret) {
    if (r.charged) unaccount_mem(ctx->acct_uid, r.charged);
    return ret;
  }
  *out = r;
  return 0;
}

void release_region(IoRingCtx* ctx, ParamRegion& r) {
  if (r.ptr && !r.user) munmap(r.ptr, r.bytes);
  if (r.charged) unaccount_mem(ctx->acct_uid, r.charged);
  r = ParamRegion{};
}

int register_mem_region(IoRingCtx* ctx, void* arg) {
  if (ctx->param_region.ptr) return -EBUSY;
  uapi::MemRegionReg reg;
  if (core::copy_from_user(&reg, arg, sizeof(reg))) return -EFAULT;
  auto* rd_user = reinterpret_cast<uapi::RegionDesc*>(static_cast<std::uintptr_t>(reg.region_uptr));
  uapi::RegionDesc rd;
  if (core::copy_from_user(&rd, rd_user, sizeof(rd))) return -EFAULT;
  for (std::uint64_t r : reg.resv)
    if (r) return -EINVAL;
  if (reg.flags & ~std::uint64_t{uapi::kMemRegionRegWaitArg}) return -EINVAL;
  // Waiters read the wait arguments without a lock: only a ring no one can
  // wait on yet (IORING_SETUP_R_DISABLED, not enabled) may take them.
  if ((reg.flags & uapi::kMemRegionRegWaitArg) && !ctx->r_disabled.load(std::memory_order_acquire))
    return -EINVAL;
  ParamRegion r;
  if (const int ret = create_region(ctx, rd, &r)) return ret;
  if (core::copy_to_user(rd_user, &rd, sizeof(rd))) {
    release_region(ctx, r);
    return -EFAULT;
  }
  ctx->param_region = r;
  if (reg.flags & uapi::kMemRegionRegWaitArg) {
    ctx->cq_wait_size.store(r.bytes, std::memory_order_relaxed);
    ctx->cq_wait_arg.store(r.ptr, std::memory_order_release);
  }
  return 0;
}

int param_region_mmap(IoRingCtx* ctx, char** base, std::size_t* bytes) {
  core::LockGuard lock(ctx->uring_lock);
  if (!ctx->param_region.ptr || ctx->param_region.user) return -EINVAL;
  *base = ctx->param_region.ptr;
  *bytes = ctx->param_region.bytes;
  return 0;
}

void free_param_region(IoRingCtx* ctx) {
  ctx->cq_wait_arg.store(nullptr, std::memory_order_relaxed);
  ctx->cq_wait_size.store(0, std::memory_order_relaxed);
  release_region(ctx, ctx->param_region);
}

int reg_wait_arg(IoRingCtx* ctx, std::uintptr_t offset, ExtArg* ext) {
  constexpr std::size_t kSize = sizeof(uapi::RegWait);
  if (offset % sizeof(long)) return -EFAULT;
  char* base = ctx->cq_wait_arg.load(std::memory_order_acquire);
  const std::size_t size = ctx->cq_wait_size.load(std::memory_order_relaxed);
  // Also the answer when nothing is registered: the size is 0 then.
  std::uintptr_t end;
  if (__builtin_add_overflow(offset, kSize, &end) || end > size) return -EFAULT;
  uapi::RegWait w;
  // The program may change the entry meanwhile (or, for its own memory,
  // unmap it): read it once, safely.
  if (core::copy_from_user(&w, base + offset, kSize)) return -EFAULT;
  if (w.flags & ~uapi::kRegWaitTs) return -EINVAL;
  ext->min_wait_ns = static_cast<std::int64_t>(w.min_wait_usec) * 1000;
  ext->sig = reinterpret_cast<const sigset_t*>(static_cast<std::uintptr_t>(w.sigmask));
  ext->argsz = w.sigmask_sz;
  if (w.flags & uapi::kRegWaitTs) {
    ext->ts_set = true;
    ext->sec = w.ts.tv_sec;
    ext->nsec = w.ts.tv_nsec;
  }
  return 0;
}

}  // namespace iostack::uring
