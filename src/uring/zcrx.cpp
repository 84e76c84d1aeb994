// IORING_REGISTER_ZCRX_IFQ (io_register_zcrx_ifq in io_uring/zcrx.c, 6.18):
// zero-copy receive into the program's memory needs a NIC queue with a
// DMA device and header split, which a user-space engine cannot take over.
// Every check the kernel makes before it needs such a NIC answers as the
// kernel's; an interface that exists then answers as one without that
// support (-EOPNOTSUPP), as every interface of a machine without a capable
// NIC does.
#include <net/if.h>

#include <cerrno>

#include "core/uaccess.hpp"
#include "task/current.hpp"
#include "task/task.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kRqMaxEntries = 32768;  // IO_RQ_MAX_ENTRIES
// The refill ring's header (struct io_uring, cache-line aligned) before its
// entries (struct io_uring_zcrx_rqe, 16 bytes).
constexpr std::size_t kRqHeaderBytes = 64;
constexpr std::size_t kRqeBytes = 16;

unsigned roundup_pow2(unsigned v) {
  unsigned r = 1;
  while (r < v) r <<= 1;
  return r;
}

}  // namespace

int register_zcrx_ifq(IoRingCtx* ctx, void* arg) {
  // Allocating a NIC queue and seeing other tasks' data: CAP_NET_ADMIN.
  task::Task* t = task::current();
  if (t && !task::capable(t, task::kCapNetAdmin)) return -EPERM;
  // Completions are posted by the ring's task, with room for the 32-byte CQEs.
  if (!(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) return -EINVAL;
  if (!(ctx->flags & (IORING_SETUP_CQE32 | uapi::kSetupCqeMixed))) return -EINVAL;
  uapi::ZcrxIfqReg reg;
  if (core::copy_from_user(&reg, arg, sizeof(reg))) return -EFAULT;
  uapi::RegionDesc rd;
  const auto* rd_user = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(reg.region_ptr));
  if (core::copy_from_user(&rd, rd_user, sizeof(rd))) return -EFAULT;
  if (reg.resv[0] || reg.resv[1] || reg.resv[2] || reg.resv2 || reg.zcrx_id) return -EINVAL;
  if (reg.if_rxq == ~0u || !reg.rq_entries || reg.flags) return -EINVAL;
  if (reg.rq_entries > kRqMaxEntries) {
    if (!(ctx->flags & IORING_SETUP_CLAMP)) return -EINVAL;
    reg.rq_entries = kRqMaxEntries;
  }
  reg.rq_entries = roundup_pow2(reg.rq_entries);
  uapi::ZcrxAreaReg area;
  const auto* area_user = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(reg.area_ptr));
  if (core::copy_from_user(&area, area_user, sizeof(area))) return -EFAULT;
  // io_allocate_rbuf_ring: the refill ring must fit the region, which is
  // created (and charged) as any region is.
  if (kRqHeaderBytes + kRqeBytes * reg.rq_entries > rd.size) return -EINVAL;
  ParamRegion region;
  if (const int ret = create_region(ctx, rd, &region)) return ret;
  release_region(ctx, region);
  // netdev_get_by_index in the caller's network namespace.
  char name[IF_NAMESIZE];
  if (!if_indextoname(reg.if_idx, name)) return -ENODEV;
  // netdev_queue_get_dma_dev finds no DMA device, or the queue cannot be
  // handed over: the area is never looked at.
  return -EOPNOTSUPP;
}

}  // namespace iostack::uring
