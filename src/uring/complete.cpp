// Completion side of io_uring/io_uring.c: filling CQEs (io_fill_cqe_req,
// io_cqe_cache_refill), the overflow list (io_cqring_add_overflow,
// __io_cqring_overflow_flush), committing the tail (io_cq_unlock_post) and
// retiring requests (io_free_batch_list, io_req_complete_post).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "core/slist.hpp"
#include "uring/engine.hpp"
#include "uring/kbuf.hpp"

namespace iostack::uring {

namespace {

std::uint32_t cq_queued(IoRingCtx* ctx) REQUIRES(ctx->completion_lock) {
  const std::uint32_t queued = ctx->cached_cq_tail - load_acquire(ctx->rings->cq.head);
  // The application may have moved the head anywhere; trust at most a full ring.
  return queued < ctx->cq_entries ? queued : ctx->cq_entries;
}

bool ring_has_space(IoRingCtx* ctx) REQUIRES(ctx->completion_lock) {
  return cq_queued(ctx) < ctx->cq_entries;
}

// A CQE of two entries: a CQE_MIXED ring's CQE with F_32.
bool is_big32(const IoRingCtx* ctx, std::uint32_t cflags) {
  return (cflags & uapi::kCqeF32) && (ctx->flags & uapi::kSetupCqeMixed);
}

// io_cqe_cache_refill: room for a CQE of `slots` contiguous entries. A
// two-entry CQE never wraps: one entry before the end gets a dummy CQE with
// F_SKIP first (io_fill_nop_cqe), which stays even when the big CQE then
// does not fit and goes to the overflow list.
bool cq_reserve(IoRingCtx* ctx, unsigned slots) REQUIRES(ctx->completion_lock) {
  std::uint32_t off = ctx->cached_cq_tail & (ctx->cq_entries - 1);
  if (slots == 2 && off + 1 == ctx->cq_entries) {
    if (!ring_has_space(ctx)) return false;
    Cqe* skip = &ctx->rings->cqes[off];
    skip->user_data = 0;
    skip->res = 0;
    skip->flags = uapi::kCqeFSkip;
    ctx->cached_cq_tail++;
    off = 0;
  }
  const std::uint32_t free = ctx->cq_entries - cq_queued(ctx);
  return std::min(free, ctx->cq_entries - off) >= slots;
}

constexpr std::uint64_t kNoBigCqe[2] = {0, 0};

// big: the CQE32 words (kNoBigCqe for every CQE but a few ops'); written on a
// CQE32 ring and for a CQE_MIXED ring's 32-byte CQE, in the entry after it.
void write_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags,
               const std::uint64_t* big) REQUIRES(ctx->completion_lock) {
  Cqe* cqe = &ctx->rings->cqes[(ctx->cached_cq_tail & (ctx->cq_entries - 1)) << ctx->cqe_shift];
  cqe->user_data = user_data;
  cqe->res = res;
  cqe->flags = cflags;
  const bool big32 = is_big32(ctx, cflags);
  if (ctx->cqe_shift || big32) {
    auto* words = reinterpret_cast<std::uint64_t*>(cqe + 1);
    words[0] = big[0];
    words[1] = big[1];
  }
  ctx->cached_cq_tail += big32 ? 2 : 1;
}

// io_fill_cqe_req: a CQE with room for the extra words takes them and
// clears them; any other leaves them for the request's next use.
bool fill_req_cqe(IoRingCtx* ctx, IoKiocb* req) REQUIRES(ctx->completion_lock) {
  // Posted while its worker still holds it: counted until the worker's
  // put (iowq_release_work), which the submitter's next call waits for.
  std::uint32_t s = req->work.state.load(std::memory_order_relaxed);
  std::uint32_t n;
  do {
    n = s | kWorkPosted;
    if ((s & (kWorkHeld | kWorkPosted)) == kWorkHeld) n |= kWorkCounted;
  } while (!req->work.state.compare_exchange_weak(s, n, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed));
  if ((n & ~s) & kWorkCounted) ctx->nr_iowq_posted.fetch_add(1, std::memory_order_acq_rel);
  const bool ok = fill_cqe(ctx, req->user_data, req->res, req->cflags,
                           req->big_cqe_set ? req->big_cqe : kNoBigCqe);
  if (req->big_cqe_set && (ctx->cqe_shift || is_big32(ctx, req->cflags))) {
    req->big_cqe[0] = req->big_cqe[1] = 0;
    req->big_cqe_set = false;
  }
  return ok;
}

// A ring shared across fork is posted to by several processes: the shared
// lock serialises them, and the tail each cached is reread under it.
void cq_lock(IoRingCtx* ctx) ACQUIRE(ctx->completion_lock) NO_THREAD_SAFETY_ANALYSIS {
  ctx->completion_lock.lock();
  if (RingShared* sh = ctx->shared.load(std::memory_order_relaxed)) [[unlikely]] {
    sh->cq_lock.lock();
    ctx->cached_cq_tail = load_acquire(ctx->rings->cq.tail);
  }
}

// For `iostack exec --stats`, before the CQE is visible.
void count_req(const IoKiocb* req) {
  // A zero-copy notification is the send's second CQE, not a request of the program's.
  if (!req->ctx->stats->enabled() || (req->cflags & IORING_CQE_F_NOTIF)) return;
  const std::uint8_t op = req->opcode;
  req->ctx->stats->count_uring(op, req->res,
                               op == IORING_OP_READ || op == IORING_OP_READV ||
                                   op == IORING_OP_READ_FIXED || op == uapi::kOpReadvFixed ||
                                   op == uapi::kOpReadMultishot,
                               op == IORING_OP_WRITE || op == IORING_OP_WRITEV ||
                                   op == IORING_OP_WRITE_FIXED || op == uapi::kOpWritevFixed);
}

// io_cq_unlock_post + io_commit_cqring_flush.
void cq_unlock_post(IoRingCtx* ctx) RELEASE(ctx->completion_lock) NO_THREAD_SAFETY_ANALYSIS {
  user_map_release_cq_tail(ctx);
  store_release(ctx->rings->cq.tail, ctx->cached_cq_tail);
  if (ctx->evfd >= 0) eventfd_signal(ctx);
  if (RingShared* sh = ctx->shared.load(std::memory_order_relaxed)) [[unlikely]]
    sh->cq_lock.unlock();
  ctx->completion_lock.unlock();
  commit_cq(ctx);
}

}  // namespace

bool fill_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags,
              const std::uint64_t* big) {
  if (!big) big = kNoBigCqe;
  // Once CQEs wait in the overflow list, later ones queue behind them so the
  // application sees completions in order.
  if (ctx->overflow_list.empty() && cq_reserve(ctx, is_big32(ctx, cflags) ? 2 : 1)) {
    write_cqe(ctx, user_data, res, cflags, big);
    return true;
  }
  auto* ocqe = new (std::nothrow) OverflowCqe;
  if (!ocqe) {
    store_relaxed(ctx->rings->cq_overflow, load_relaxed(ctx->rings->cq_overflow) + 1);
    ctx->cq_dropped.store(true, std::memory_order_relaxed);
    return false;
  }
  ocqe->cqe.user_data = user_data;
  ocqe->cqe.res = res;
  ocqe->cqe.flags = cflags;
  ocqe->big_cqe[0] = big[0];
  ocqe->big_cqe[1] = big[1];
  if (ctx->overflow_list.empty()) {
    ctx->has_overflow.store(true, std::memory_order_release);
    flags_or(ctx->rings->sq_flags, IORING_SQ_CQ_OVERFLOW);
  }
  ocqe->list.add_tail(&ctx->overflow_list);
  return true;
}

void commit_cq(IoRingCtx* ctx) {
  if (ctx->off_timeout_used.load(std::memory_order_relaxed)) flush_timeouts(ctx);
  cq_wake(ctx);
  ring_ready_signal(ctx);
}

void post_aux_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags,
                  const std::uint64_t* big) {
  cq_lock(ctx);
  fill_cqe(ctx, user_data, res, cflags, big);
  cq_unlock_post(ctx);
}

bool try_post_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags) {
  cq_lock(ctx);
  const bool posted = ctx->overflow_list.empty() && ring_has_space(ctx);
  if (posted) write_cqe(ctx, user_data, res, cflags, kNoBigCqe);
  cq_unlock_post(ctx);
  return posted;
}

bool post_req_cqe(IoKiocb* req, std::int32_t res, std::uint32_t cflags, unsigned issue_flags) {
  IoRingCtx* ctx = req->ctx;
  // Completions already batched go first, or CQEs would be reordered.
  if (issue_flags & kIssueLocked) {
    core::lockdep_assert_held(ctx->uring_lock);
    if (ctx->st.compl_first) flush_completions(ctx);
  }
  return try_post_cqe(ctx, req->user_data, res, cflags);
}

void overflow_flush(IoRingCtx* ctx, bool dying) {
  if (!ctx->has_overflow.load(std::memory_order_acquire)) return;
  cq_lock(ctx);
  while (!ctx->overflow_list.empty()) {
    auto* ocqe = core::list_entry<OverflowCqe, &OverflowCqe::list>(ctx->overflow_list.first());
    if (!dying && !cq_reserve(ctx, is_big32(ctx, ocqe->cqe.flags) ? 2 : 1)) break;
    if (!dying) write_cqe(ctx, ocqe->cqe.user_data, ocqe->cqe.res, ocqe->cqe.flags, ocqe->big_cqe);
    ocqe->list.del();
    delete ocqe;
  }
  if (ctx->overflow_list.empty()) {
    ctx->has_overflow.store(false, std::memory_order_release);
    flags_andnot(ctx->rings->sq_flags, IORING_SQ_CQ_OVERFLOW);
  }
  cq_unlock_post(ctx);
}

void req_complete_defer(IoKiocb* req) {
  core::lockdep_assert_held(req->ctx->uring_lock);
  SubmitState& st = req->ctx->st;
  core::slist_add_tail<IoKiocb, &IoKiocb::comp_next>(st.compl_first, st.compl_last, req);
}

void req_defer_failed(IoKiocb* req, int res) {
  req_set_fail(req);
  req_set_res(req, res, 0);
  if (const IoOpDef* def = op_def(req->opcode); def && def->fail) def->fail(req);
  req_complete_defer(req);
}

void req_cleanup(IoKiocb* req, bool locked) {
  if (req->flags & kReqCleanup) {
    switch (req->opcode) {
      case IORING_OP_READV:
      case IORING_OP_WRITEV:
      case uapi::kOpReadvFixed:
      case uapi::kOpWritevFixed:
        // rw.iov may have moved on after a partial transfer.
        std::free(req->rw.iov_alloc);
        req->rw.iov_alloc = nullptr;
        req->rw.iov = nullptr;
        break;
      case IORING_OP_STATX:
        std::free(req->statx.path);
        req->statx.path = nullptr;
        break;
      default:
        if (const IoOpDef* def = op_def(req->opcode); def && def->cleanup) def->cleanup(req);
        break;
    }
    req->flags &= ~kReqCleanup;
  }
  if (req->flags & (kReqBufferSelected | kReqBufferRing)) kbuf_drop(req, locked);
  if (req->flags & kReqApollMultishot) apoll_release(req);
  if (req->file_node) {
    file_node_put(req->file_node);
    req->file_node = nullptr;
  }
  if (req->buf_node) {
    buf_node_put(req->buf_node);
    req->buf_node = nullptr;
  }
  req->bdev_ref.reset();
  req->creds.reset();
  if (req->held_file) {
    req->held_file.reset();
    req->os_fd = -1;
  }
}

void req_finish(IoKiocb* req, bool locked) {
  if (req->flags & (kReqLinkFlags | kReqLinkTimeout | kReqArmLtimeout | kReqFail)) {
    IoKiocb* nxt = req_find_next(req, locked);
    if (nxt && (locked || !iowq_run_next(req, nxt))) tw_add_after_wakeups(nxt, tw_req_submit);
  }
  req_cleanup(req, locked);
  req_put(req, locked);
}

void req_complete_post(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  // io_req_complete_post on a lockless CQ: the CQE is posted by the
  // submitter's task work, as DEFER_TASKRUN wants.
  if ((ctx->flags & IORING_SETUP_DEFER_TASKRUN) && !in_submit_of(ctx)) {
    tw_add(req, tw_req_complete);
    return;
  }
  count_req(req);
  if (!(req->flags & kReqCqeSkip)) {
    cq_lock(ctx);
    fill_req_cqe(ctx, req);
    cq_unlock_post(ctx);
  }
  req_finish(req, false);
}

// Takes completion_lock lazily, at the first CQE to post: conditional
// locking, which the analysis cannot follow.
void flush_completions(IoRingCtx* ctx) NO_THREAD_SAFETY_ANALYSIS {
  SubmitState& st = ctx->st;
  while (st.compl_first) {
    IoKiocb* first = st.compl_first;
    st.compl_first = st.compl_last = nullptr;
    bool any = false;
    for (IoKiocb* r = first; r; r = r->comp_next) {
      count_req(r);
      if (r->flags & kReqCqeSkip) continue;
      if (!any) cq_lock(ctx);
      any = true;
      fill_req_cqe(ctx, r);
    }
    if (any)
      cq_unlock_post(ctx);
    else
      poll_wq_wake_skipped(ctx);
    for (IoKiocb* r = first; r;) {
      IoKiocb* next = r->comp_next;
      req_finish(r, true);
      r = next;
    }
  }
  if (ctx->drain_active.load(std::memory_order_relaxed)) queue_deferred(ctx);
}

}  // namespace iostack::uring
