// IORING_REGISTER_RESIZE_RINGS (io_register_resize_rings, io_uring/register.c):
// new rings and SQEs of other sizes, with what is pending in the old ones
// copied over. The program's mappings of the old rings stay valid but stale,
// as the kernel's do (its pages live on in them); new mappings of the ring
// fd see the new rings. Our own mapping of the old ones goes once no
// RingsReadScope can be reading it.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/user_pin.hpp"

namespace iostack::uring {

namespace {

// RESIZE_FLAGS: what the call may ask for; COPY_FLAGS: what the new rings
// keep of the old ones.
constexpr unsigned kResizeFlags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
constexpr unsigned kCopyFlags = uapi::kSetupNoSqarray | IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
                                uapi::kSetupNoMmap | uapi::kSetupCqeMixed;

// struct io_ring_ctx_rings: the new rings until they are swapped in.
struct NewRings {
  char* rings = nullptr;
  char* sqes = nullptr;
  void* region = nullptr;  // ours (not NO_MMAP): rings, then SQEs
  std::size_t region_bytes = 0;
  // NO_MMAP: the engine's views of the program's new rings and SQEs.
  char* pinned_rings = nullptr;
  char* pinned_rings_user = nullptr;
  std::size_t pinned_rings_bytes = 0;
  char* pinned_sqes = nullptr;
  char* pinned_sqes_user = nullptr;
  std::size_t pinned_sqes_bytes = 0;
  std::size_t charged = 0;  // pages charged to RLIMIT_MEMLOCK
};

void free_new(IoRingCtx* ctx, NewRings& n) {
  if (n.region) munmap(n.region, n.region_bytes);
  if (n.pinned_rings) unpin_user_view(n.pinned_rings_user, n.pinned_rings, n.pinned_rings_bytes);
  if (n.pinned_sqes) unpin_user_view(n.pinned_sqes_user, n.pinned_sqes, n.pinned_sqes_bytes);
  if (n.charged) unaccount_mem(ctx->acct_uid, n.charged);
  n = NewRings{};
}

// __io_account_mem of io_create_region, for a ring whose setup was charged.
int charge(IoRingCtx* ctx, NewRings& n, std::size_t bytes) {
  if (!ctx->acct_pages) return 0;
  const std::size_t pages = bytes / kPageSize;
  if (const int ret = account_mem(ctx->acct_uid, pages)) return ret;
  n.charged += pages;
  return 0;
}

}  // namespace

int register_resize_rings(IoRingCtx* ctx, void* arg) {
  // Only a DEFER_TASKRUN ring: nothing but its submitter, here, touches
  // the SQ, and its completions are posted by that task too.
  if (!(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) return -EINVAL;
  io_uring_params p;
  if (core::copy_from_user(&p, arg, sizeof(p))) return -EFAULT;
  if (p.flags & ~kResizeFlags) return -EINVAL;
  p.flags |= ctx->flags & kCopyFlags;
  if (const int ret = ring_fill_params(p.sq_entries, p)) return ret;
  if (rings_size_overflows(p.cq_entries, p.flags)) return -EOVERFLOW;

  const RingsLayout rl = rings_layout(p.sq_entries, p.cq_entries, p.flags);
  const std::size_t rings_bytes = page_align(rl.rings_size);
  const std::size_t sqes_bytes = page_align(rl.sq_size);
  const bool user_mem = p.flags & uapi::kSetupNoMmap;
  NewRings n;
  // The rings' region: charged, then made (at cq_off.user_addr for NO_MMAP).
  if (const int ret = charge(ctx, n, rings_bytes)) return ret;
  if (user_mem) {
    if (const int ret = ring_user_region(p.cq_off.resv2, rings_bytes, &n.rings)) {
      free_new(ctx, n);
      return ret;
    }
    if ((n.pinned_rings = pin_user_view(n.rings, rings_bytes))) {
      n.pinned_rings_user = n.rings;
      n.rings = n.pinned_rings;
      n.pinned_rings_bytes = rings_bytes;
    }
  } else {
    // As setup makes it: one shared mapping, rings then SQEs.
    n.region_bytes = rings_bytes + sqes_bytes;
    void* m = mmap(nullptr, n.region_bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) {
      free_new(ctx, n);
      return -ENOMEM;
    }
    n.region = m;
    n.rings = static_cast<char*>(m);
  }
  auto* nr = reinterpret_cast<IoRings*>(n.rings);
  store_relaxed(nr->sq_ring_mask, p.sq_entries - 1);
  store_relaxed(nr->cq_ring_mask, p.cq_entries - 1);
  store_relaxed(nr->sq_ring_entries, p.sq_entries);
  store_relaxed(nr->cq_ring_entries, p.cq_entries);
  // The params go back before the SQE region exists: a failure making it
  // leaves them written.
  if (core::copy_to_user(arg, &p, sizeof(p))) {
    free_new(ctx, n);
    return -EFAULT;
  }
  if (const int ret = charge(ctx, n, sqes_bytes)) {
    free_new(ctx, n);
    return ret;
  }
  if (user_mem) {
    if (const int ret = ring_user_region(p.sq_off.resv2, sqes_bytes, &n.sqes)) {
      free_new(ctx, n);
      return ret;
    }
    if ((n.pinned_sqes = pin_user_view(n.sqes, sqes_bytes))) {
      n.pinned_sqes_user = n.sqes;
      n.sqes = n.pinned_sqes;
      n.pinned_sqes_bytes = sqes_bytes;
    }
  } else {
    n.sqes = n.rings + rings_bytes;
  }

  // The swap, under completion_lock: no CQE is posted meanwhile.
  ctx->completion_lock.lock();
  IoRings* o = ctx->rings;
  // Pending SQEs and CQEs move to the same ring positions, whole entries
  // (128-byte SQEs, 32-byte CQEs); either not fitting fails the whole call.
  const std::size_t sqe_bytes = sizeof(io_uring_sqe) << ctx->sqe_shift;
  const std::size_t cqe_bytes = sizeof(Cqe) << ctx->cqe_shift;
  std::uint32_t tail = load_acquire(o->sq.tail);
  std::uint32_t head = load_acquire(o->sq.head);
  bool overflow = tail - head > p.sq_entries;
  if (!overflow) {
    const char* from = reinterpret_cast<const char*>(ctx->sqes);
    for (std::uint32_t i = head; i != tail; ++i)
      std::memcpy(n.sqes + (i & (p.sq_entries - 1)) * sqe_bytes,
                  from + (i & (ctx->sq_entries - 1)) * sqe_bytes, sqe_bytes);
    store_relaxed(nr->sq.head, head);
    store_relaxed(nr->sq.tail, tail);
    tail = load_acquire(o->cq.tail);
    head = load_acquire(o->cq.head);
    overflow = tail - head > p.cq_entries;
  }
  if (overflow) {
    ctx->completion_lock.unlock();
    free_new(ctx, n);
    return -EOVERFLOW;
  }
  for (std::uint32_t i = head; i != tail; ++i)
    std::memcpy(reinterpret_cast<char*>(nr->cqes) + (i & (p.cq_entries - 1)) * cqe_bytes,
                reinterpret_cast<const char*>(o->cqes) + (i & (ctx->cq_entries - 1)) * cqe_bytes,
                cqe_bytes);
  store_relaxed(nr->cq.head, head);
  store_relaxed(nr->cq.tail, tail);
  store_relaxed(nr->sq_dropped, load_relaxed(o->sq_dropped));
  store_relaxed(nr->sq_flags, load_seq_cst(o->sq_flags));
  store_relaxed(nr->cq_flags, load_relaxed(o->cq_flags));
  store_relaxed(nr->cq_overflow, load_relaxed(o->cq_overflow));

  ctx->sq_array = (ctx->flags & uapi::kSetupNoSqarray)
                      ? nullptr
                      : reinterpret_cast<std::uint32_t*>(n.rings + rl.sq_array_offset);
  std::atomic_ref<unsigned>(ctx->sq_entries).store(p.sq_entries, std::memory_order_relaxed);
  ctx->cq_entries = p.cq_entries;
  std::atomic_ref<IoRings*>(ctx->rings).store(nr, std::memory_order_seq_cst);
  // Task work added by another thread may have flagged the old rings since
  // their flags were copied.
  if ((ctx->flags & IORING_SETUP_TASKRUN_FLAG) && tw_pending(ctx))
    flags_or(nr->sq_flags, IORING_SQ_TASKRUN);
  ctx->sqes = reinterpret_cast<io_uring_sqe*>(n.sqes);
  if (ctx->region) ctx->retired_regions.emplace_back(ctx->region, ctx->region_bytes);
  // The old views may still be read (RingsReadScope): retired; their
  // program ranges are given back once the lock is dropped.
  const NewRings old_pins{.pinned_rings = ctx->pinned_rings,
                          .pinned_rings_user = ctx->pinned_rings_user,
                          .pinned_rings_bytes = ctx->rings_bytes,
                          .pinned_sqes = ctx->pinned_sqes,
                          .pinned_sqes_user = ctx->pinned_sqes_user,
                          .pinned_sqes_bytes = ctx->sqes_bytes};
  if (ctx->pinned_rings) ctx->retired_regions.emplace_back(ctx->pinned_rings, ctx->rings_bytes);
  if (ctx->pinned_sqes) ctx->retired_regions.emplace_back(ctx->pinned_sqes, ctx->sqes_bytes);
  ctx->region = n.region;
  ctx->region_bytes = n.region_bytes;
  ctx->pinned_rings = n.pinned_rings;
  ctx->pinned_sqes = n.pinned_sqes;
  ctx->pinned_rings_user = n.pinned_rings_user;
  ctx->pinned_sqes_user = n.pinned_sqes_user;
  ctx->rings_bytes = rings_bytes;
  ctx->sqes_bytes = sqes_bytes;
  ctx->user_rings.store(nullptr, std::memory_order_relaxed);
  // The old regions' pages are no longer charged; the new ones are.
  const std::size_t old_pages = ctx->acct_pages;
  ctx->acct_pages = n.charged;
  ctx->completion_lock.unlock();
  if (old_pins.pinned_rings)
    give_back_user_range(old_pins.pinned_rings_user, old_pins.pinned_rings,
                         old_pins.pinned_rings_bytes);
  if (old_pins.pinned_sqes)
    give_back_user_range(old_pins.pinned_sqes_user, old_pins.pinned_sqes,
                         old_pins.pinned_sqes_bytes);
  if (old_pages) unaccount_mem(ctx->acct_uid, old_pages);
  // The kernel frees the old rings here; a scope still reading them keeps
  // them to a later resize (the program's mappings hold their own pages).
  if (ctx->rings_readers.load(std::memory_order_seq_cst) == 0) {
    for (const auto& [base, bytes] : ctx->retired_regions) munmap(base, bytes);
    ctx->retired_regions.clear();
  }
  return 0;
}

}  // namespace iostack::uring
