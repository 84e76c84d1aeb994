// Ring creation and teardown (io_uring_setup, io_uring_create,
// io_uring_sanitise_params, io_uring_fill_params, io_allocate_scq_urings and
// io_ring_exit_work in io_uring/io_uring.c).
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "task/current.hpp"
#include "task/task.hpp"
#include "uring/engine.hpp"
#include "uring/kbuf.hpp"
#include "uring/tw_internal.hpp"
#include "uring/user_pin.hpp"

namespace iostack::uring {

namespace {

// IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES.
constexpr unsigned kMaxEntries = 32768;
constexpr unsigned kMaxCqEntries = 2 * kMaxEntries;

// The setup flags this engine implements; any other is -EINVAL, as a kernel
// that predates it would answer.
constexpr unsigned kSetupFlags =
    IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF | IORING_SETUP_CQSIZE |
    IORING_SETUP_CLAMP | IORING_SETUP_ATTACH_WQ | IORING_SETUP_R_DISABLED |
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
    IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER |
    IORING_SETUP_DEFER_TASKRUN | uapi::kSetupNoMmap | uapi::kSetupRegisteredFdOnly |
    uapi::kSetupNoSqarray | uapi::kSetupHybridIopoll | uapi::kSetupCqeMixed;

// The features really implemented (IORING_FEAT_*).
constexpr unsigned kFeatures =
    IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE |
    IORING_FEAT_RW_CUR_POS | IORING_FEAT_CUR_PERSONALITY | IORING_FEAT_FAST_POLL |
    IORING_FEAT_POLL_32BITS | IORING_FEAT_SQPOLL_NONFIXED | IORING_FEAT_EXT_ARG |
    IORING_FEAT_NATIVE_WORKERS | IORING_FEAT_CQE_SKIP | IORING_FEAT_LINKED_FILE |
    IORING_FEAT_REG_REG_RING | IORING_FEAT_RSRC_TAGS | uapi::kFeatRecvsendBundle |
    uapi::kFeatMinTimeout | uapi::kFeatNoIowait | uapi::kFeatRwAttr;

unsigned roundup_pow2(unsigned v) {
  unsigned r = 1;
  while (r < v) r <<= 1;
  return r;
}

int sanitise_params(const io_uring_params& p) {
  const unsigned flags = p.flags;
  if (flags & ~kSetupFlags) return -EINVAL;
  if ((flags & IORING_SETUP_SQPOLL) &&
      (flags &
       (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_DEFER_TASKRUN)))
    return -EINVAL;
  if ((flags & IORING_SETUP_TASKRUN_FLAG) &&
      !(flags & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN)))
    return -EINVAL;
  // Hybrid polling is a way of polling: there must be polling.
  if ((flags & uapi::kSetupHybridIopoll) && !(flags & IORING_SETUP_IOPOLL)) return -EINVAL;
  if ((flags & IORING_SETUP_DEFER_TASKRUN) && !(flags & IORING_SETUP_SINGLE_ISSUER)) return -EINVAL;
  // Without a descriptor nothing could map the rings.
  if ((flags & uapi::kSetupRegisteredFdOnly) && !(flags & uapi::kSetupNoMmap)) return -EINVAL;
  // A CQE32 ring has no 16-byte CQEs to mix with.
  if ((flags & IORING_SETUP_CQE32) && (flags & uapi::kSetupCqeMixed)) return -EINVAL;
  return 0;
}

// Charges the ring pages (io_create_region -> __io_account_mem).
int account_rings(IoRingCtx* ctx) {
  const RingsLayout rl = rings_layout(ctx->sq_entries, ctx->cq_entries, ctx->flags);
  ctx->rings_bytes = page_align(rl.rings_size);
  ctx->sqes_bytes = page_align(rl.sq_size);
  task::Task* t = task::current();
  if (t && !task::capable(t, task::kCapIpcLock)) {
    const std::size_t pages = (ctx->rings_bytes + ctx->sqes_bytes) / kPageSize;
    if (const int ret = account_mem(t->uid.load(std::memory_order_relaxed), pages)) return ret;
    ctx->acct_uid = t->uid.load(std::memory_order_relaxed);
    ctx->acct_pages = pages;
  }
  return 0;
}

int allocate_rings(IoRingCtx* ctx, const io_uring_params& params) {
  const bool no_sqarray = ctx->flags & uapi::kSetupNoSqarray;
  const RingsLayout rl = rings_layout(ctx->sq_entries, ctx->cq_entries, ctx->flags);
  char* rings;
  char* sqes;
  if (ctx->flags & uapi::kSetupNoMmap) {
    // The rings (with the SQ array) at cq_off.user_addr, the SQEs at
    // sq_off.user_addr, as io_allocate_scq_urings takes them.
    if (int ret = ring_user_region(params.cq_off.resv2, ctx->rings_bytes, &rings)) return ret;
    if (int ret = ring_user_region(params.sq_off.resv2, ctx->sqes_bytes, &sqes)) return ret;
    if ((ctx->pinned_rings = pin_user_view(rings, ctx->rings_bytes))) {
      ctx->pinned_rings_user = rings;
      rings = ctx->pinned_rings;
    }
    if ((ctx->pinned_sqes = pin_user_view(sqes, ctx->sqes_bytes))) {
      ctx->pinned_sqes_user = sqes;
      sqes = ctx->pinned_sqes;
    }
  } else {
    ctx->region_bytes = ctx->rings_bytes + ctx->sqes_bytes;
    // Shared anonymous memory, not a file: the program's mappings are made
    // from it with mremap (ring_region_map), and no RLIMIT_FSIZE applies.
    void* p = mmap(nullptr, ctx->region_bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return -ENOMEM;
    ctx->region = p;
    rings = static_cast<char*>(p);
    sqes = rings + ctx->rings_bytes;
  }
  ctx->rings = reinterpret_cast<IoRings*>(rings);
  if (!no_sqarray) ctx->sq_array = reinterpret_cast<std::uint32_t*>(rings + rl.sq_array_offset);
  ctx->sqes = reinterpret_cast<io_uring_sqe*>(sqes);
  IoRings* r = ctx->rings;
  r->sq_ring_mask = ctx->sq_entries - 1;
  r->cq_ring_mask = ctx->cq_entries - 1;
  r->sq_ring_entries = ctx->sq_entries;
  r->cq_ring_entries = ctx->cq_entries;
  return 0;
}

int create_wq(IoRingCtx* ctx, const io_uring_params& p) {
  if (p.flags & IORING_SETUP_ATTACH_WQ) {
    core::FileRef ref = ring_file_get(static_cast<int>(p.wq_fd));
    if (IoRingCtx* other = ring_of(ref); other && other->wq) {
      other->wq->get();
      ctx->wq = other->wq;
      return 0;
    }
  }
  const unsigned bounded = std::min(ctx->sq_entries, 4u * static_cast<unsigned>(get_nprocs()));
  struct rlimit rl;
  getrlimit(RLIMIT_NPROC, &rl);
  const unsigned unbounded = rl.rlim_cur == RLIM_INFINITY
                                 ? 1024u
                                 : static_cast<unsigned>(std::min<rlim_t>(rl.rlim_cur, 1024));
  ctx->wq = new IoWq(bounded, unbounded);
  return 0;
}

void free_ctx_resources(IoRingCtx* ctx) {
  if (ctx->wq) {
    ctx->wq->put();
    ctx->wq = nullptr;
  }
  if (ctx->region) munmap(ctx->region, ctx->region_bytes);
  if (ctx->pinned_rings)
    unpin_user_view(ctx->pinned_rings_user, ctx->pinned_rings, ctx->rings_bytes);
  if (ctx->pinned_sqes) unpin_user_view(ctx->pinned_sqes_user, ctx->pinned_sqes, ctx->sqes_bytes);
  ctx->pinned_rings = ctx->pinned_sqes = nullptr;
  for (const auto& [base, bytes] : ctx->retired_regions) munmap(base, bytes);
  ctx->retired_regions.clear();
  ctx->region = nullptr;
  ctx->rings = nullptr;
  if (ctx->ready_efd >= 0) close(ctx->ready_efd);
  ctx->ready_efd = -1;
  {
    core::LockGuard lock(ctx->uring_lock);  // as io_ring_ctx_free frees them
    free_param_region(ctx);
    req_cache_destroy(ctx);
  }
  if (ctx->acct_pages) unaccount_mem(ctx->acct_uid, ctx->acct_pages);
  ctx->acct_pages = 0;
  ring_share_release(ctx);
}

}  // namespace

unsigned supported_setup_flags() { return kSetupFlags; }
unsigned supported_features() { return kFeatures; }

int ring_fill_params(unsigned entries, io_uring_params& p) {
  if (!entries) return -EINVAL;
  if (entries > kMaxEntries) {
    if (!(p.flags & IORING_SETUP_CLAMP)) return -EINVAL;
    entries = kMaxEntries;
  }
  p.sq_entries = roundup_pow2(entries);
  if (p.flags & IORING_SETUP_CQSIZE) {
    if (!p.cq_entries) return -EINVAL;
    if (p.cq_entries > kMaxCqEntries) {
      if (!(p.flags & IORING_SETUP_CLAMP)) return -EINVAL;
      p.cq_entries = kMaxCqEntries;
    }
    p.cq_entries = roundup_pow2(p.cq_entries);
    if (p.cq_entries < p.sq_entries) return -EINVAL;
  } else {
    p.cq_entries = 2 * p.sq_entries;
  }
  // With NO_MMAP the program's addresses stay: they name the rings' memory.
  // sq_off.array is not the kernel's to fill here: setup writes it when the
  // ring has an SQ array, a resize never (6.18).
  const std::uint64_t sq_user = p.sq_off.resv2;
  const std::uint64_t cq_user = p.cq_off.resv2;
  const std::uint32_t sq_array = p.sq_off.array;
  std::memset(&p.sq_off, 0, sizeof(p.sq_off));
  std::memset(&p.cq_off, 0, sizeof(p.cq_off));
  p.sq_off.array = sq_array;
  if (p.flags & uapi::kSetupNoMmap) {
    p.sq_off.resv2 = sq_user;
    p.cq_off.resv2 = cq_user;
  }
  p.sq_off.head = offsetof(IoRings, sq.head);
  p.sq_off.tail = offsetof(IoRings, sq.tail);
  p.sq_off.ring_mask = offsetof(IoRings, sq_ring_mask);
  p.sq_off.ring_entries = offsetof(IoRings, sq_ring_entries);
  p.sq_off.flags = offsetof(IoRings, sq_flags);
  p.sq_off.dropped = offsetof(IoRings, sq_dropped);
  p.cq_off.head = offsetof(IoRings, cq.head);
  p.cq_off.tail = offsetof(IoRings, cq.tail);
  p.cq_off.ring_mask = offsetof(IoRings, cq_ring_mask);
  p.cq_off.ring_entries = offsetof(IoRings, cq_ring_entries);
  p.cq_off.overflow = offsetof(IoRings, cq_overflow);
  p.cq_off.cqes = offsetof(IoRings, cqes);
  p.cq_off.flags = offsetof(IoRings, cq_flags);
  return 0;
}

// io_create_region of IORING_MEM_REGION_TYPE_USER: memory the program
// gives (uapi::kSetupNoMmap), page aligned, there and writable
// (io_pin_pages), and pinnable for the long term. The kernel pins the pages;
// here the engine uses them where they are, so the program must keep them
// mapped while the ring lives (liburing does).
int ring_user_region(std::uint64_t uaddr, std::size_t size, char** out) {
  if (!uaddr) return -EFAULT;
  if (uaddr & (kPageSize - 1)) return -EINVAL;
  std::uint64_t end;
  if (__builtin_add_overflow(uaddr, std::uint64_t{size}, &end)) return -EOVERFLOW;
  auto* p = reinterpret_cast<char*>(uaddr);
  if (!core::access_ok(p, size) || core::fault_in_writeable(p, size) ||
      !longterm_pin_allowed(p, size))
    return -EFAULT;
  *out = p;
  return 0;
}

IoWq* ctx_wq(IoRingCtx* ctx) { return ctx->wq; }

int ring_setup(unsigned entries, io_uring_params* up) {
  io_uring_params p;
  if (core::copy_from_user(&p, up, sizeof(p))) return -EFAULT;
  for (unsigned v : p.resv)
    if (v) return -EINVAL;
  if (int ret = sanitise_params(p)) return ret;
  if (int ret = ring_fill_params(entries, p)) return ret;
  if (rings_size_overflows(p.cq_entries, p.flags)) return -EOVERFLOW;

  auto* ctx = new IoRingCtx;
  ctx->flags = p.flags;
  ctx->sqe_shift = (p.flags & IORING_SETUP_SQE128) ? 1 : 0;
  ctx->cqe_shift = (p.flags & IORING_SETUP_CQE32) ? 1 : 0;
  ctx->stats = &core::exec_stats();
  napi_init(ctx);
  ctx->sq_entries = p.sq_entries;
  ctx->cq_entries = p.cq_entries;
  tw_init(ctx);
  // The kernel checks the attach and affinity parameters before it creates
  // any file; so must we, or our own descriptors would take the number of a
  // closed wq_fd. The ring fd comes first so it gets the lowest free number.
  int ret = account_rings(ctx);
  if (!ret) ret = sq_offload_validate(ctx, &p);
  if (!ret) {
    ret = ring_fd_create(ctx);
    if (ret > 0) ret = 0;
  }
  if (!ret) ret = allocate_rings(ctx, p);
  if (!ret) {
    if (ctx->sq_array)
      p.sq_off.array = static_cast<std::uint32_t>(reinterpret_cast<char*>(ctx->sq_array) -
                                                  reinterpret_cast<char*>(ctx->rings));
    ret = create_wq(ctx, p);
  }
  if (!ret) ret = sq_offload_create(ctx, &p);
  if (!ret) {
    p.features = kFeatures;
    // Written back before the ring exists for the program: a params block
    // it cannot write leaves no ring and no descriptor behind.
    if (core::copy_to_user(up, &p, sizeof(p))) ret = -EFAULT;
  }
  if (ret) {
    sq_thread_finish(ctx);
    free_ctx_resources(ctx);
    if (ctx->fd >= 0) close(ctx->fd);
    delete ctx;
    return ret;
  }
  ctx->r_disabled.store(p.flags & IORING_SETUP_R_DISABLED, std::memory_order_relaxed);
  if ((p.flags & IORING_SETUP_SINGLE_ISSUER) && !(p.flags & IORING_SETUP_R_DISABLED))
    ctx->submitter_tid.store(core::current_tid(), std::memory_order_relaxed);
  ring_share_at_setup();
  // REGISTERED_FD_ONLY: no descriptor, the ring is only in one of the
  // calling thread's registered slots (io_ring_add_registered_file).
  if (p.flags & uapi::kSetupRegisteredFdOnly) return ring_fd_register_only(ctx);
  ring_fd_install(ctx);
  return ctx->fd;
}

IoRingCtx* ring_twin_create(IoRingCtx* parent) NO_THREAD_SAFETY_ANALYSIS {
  // The parent's object is read without its locks (only the forking thread
  // exists here): its settings do not change once the ring is published.
  auto* ctx = new IoRingCtx;
  ctx->flags = parent->flags;
  ctx->sqe_shift = parent->sqe_shift;
  ctx->cqe_shift = parent->cqe_shift;
  ctx->stats = &core::exec_stats();
  napi_init(ctx);
  ctx->sq_entries = parent->sq_entries;
  ctx->cq_entries = parent->cq_entries;
  tw_init(ctx);
  ctx->fd = parent->fd;  // the same epoll instance and eventfd, inherited
  ctx->ready_efd = parent->ready_efd;
  ctx->rings = parent->rings;
  ctx->sq_array = parent->sq_array;
  ctx->sqes = parent->sqes;
  // The child's copies of the parent's mappings: unmapped with this object.
  ctx->region = parent->region;
  ctx->region_bytes = parent->region_bytes;
  ctx->pinned_rings = parent->pinned_rings;
  ctx->pinned_sqes = parent->pinned_sqes;
  ctx->pinned_rings_user = parent->pinned_rings_user;
  ctx->pinned_sqes_user = parent->pinned_sqes_user;
  ctx->retired_regions = parent->retired_regions;
  ctx->rings_bytes = parent->rings_bytes;
  ctx->sqes_bytes = parent->sqes_bytes;
  ctx->user_rings.store(parent->user_rings.load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
  ctx->r_disabled.store(parent->r_disabled.load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
  ctx->restrictions = parent->restrictions;
  ctx->restricted.store(parent->restricted.load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
  ctx->submitter_tid.store(parent->submitter_tid.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
  ctx->clockid.store(parent->clockid.load(std::memory_order_relaxed), std::memory_order_relaxed);
  ctx->sq_thread_idle_ms = parent->sq_thread_idle_ms;
  // The SQ thread stays the parent's: it consumes what the child queues.
  ctx->sq_remote = (parent->flags & IORING_SETUP_SQPOLL) != 0;
  ctx->shared.store(parent->shared.load(std::memory_order_relaxed), std::memory_order_relaxed);
  files_inherit(ctx, parent);
  io_uring_params p{};
  p.flags = ctx->flags & ~IORING_SETUP_ATTACH_WQ;
  create_wq(ctx, p);
  ctx->alive.store(true, std::memory_order_release);
  return ctx;
}

namespace {

// io_uring_try_cancel_requests: io-wq work, armed polls, futex waits and
// timeouts of the ring (in this process).
void cancel_requests(IoRingCtx* ctx) {
  if (ctx->wq) {
    ctx->wq->cancel([](IoWqWork* w, void* c) { return w->owner == c && w->data; }, ctx, true);
  }
  cancel_wq_starting(ctx, nullptr);
  poll_remove_all(ctx);
  futex_remove_all(ctx);
  kill_timeouts(ctx);
}

// Cancels every request of the ring in this process and waits until they
// are gone (`rounds` waits of 10 ms at most; unbounded when 0), repeating
// the cancel as io_ring_exit_work does: a multishot request whose retry
// ran meanwhile may have armed its poll again, or gone to a worker.
void cancel_and_reap(IoRingCtx* ctx, unsigned rounds) {
  cancel_requests(ctx);
  {
    core::LockGuard lock(ctx->uring_lock);
    RunningCtxScope scope(ctx);
    while (!ctx->defer_list.empty()) {
      IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(ctx->defer_list.first());
      req->list.del();
      req_defer_failed(req, -ECANCELED);
    }
    ctx->nr_drained = 0;
    flush_completions(ctx);
  }
  for (unsigned round = 0; !rounds || round < rounds; ++round) {
    tw_run(ctx);
    if (ctx->nr_live() == 0 && !tw_pending(ctx)) break;
    cancel_requests(ctx);
    const std::uint32_t seq = ctx->cq_wait.prepare();
    if (ctx->nr_live() != 0 && !tw_pending(ctx)) {
      const struct timespec ts = core::futex_deadline_after(0, 10 * 1000 * 1000);
      ctx->cq_wait.sleep(seq, &ts);
    }
    ctx->cq_wait.finish();
  }
}

}  // namespace

void ring_cancel_at_exit(IoRingCtx* ctx) {
  handover_timeouts(ctx, ring_share_adopt_timeout);
  // A worker blocked where nothing interrupts it is given a second.
  cancel_and_reap(ctx, 100);
  overflow_flush(ctx, false);
}

void ring_destroy(IoRingCtx* ctx) {
  ctx->alive.store(false, std::memory_order_seq_cst);
  ring_share_stop(ctx);
  sq_thread_finish(ctx);
  cancel_and_reap(ctx, 0);
  // The fallback task-work item must be neither queued nor running.
  if (ctx->wq)
    ctx->wq->cancel([](IoWqWork* w, void* c) { return w == &static_cast<IoRingCtx*>(c)->tw_work; },
                    ctx, true);
  while (ctx->tw_work_queued.load(std::memory_order_seq_cst)) std::this_thread::yield();

  overflow_flush(ctx, true);
  eventfd_unregister(ctx);
  {
    core::LockGuard lock(ctx->uring_lock);
    rsrc_drop_tags(ctx);
    if (ctx->files_registered) unregister_files(ctx);
    if (ctx->bufs_registered) unregister_buffers(ctx);
    destroy_buffers(ctx);
  }
  while (ctx->recycling.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  free_ctx_resources(ctx);
}

}  // namespace iostack::uring
