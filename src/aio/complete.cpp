// A request's life: allocation, the event written to the ring, release.
#include "aio/complete.hpp"

#include <unistd.h>

#include <cstdint>

#include "core/exec_stats.hpp"
#include "core/mutex.hpp"
#include "core/tsc.hpp"

namespace iostack::aio {

AioKiocb* aio_get_req(Kioctx* ctx) {
  if (!get_reqs_available(ctx)) return nullptr;
  AioKiocb* req = ctx->pool.alloc();
  ctx->reqs.get();
  req->ctx = ctx;
  req->cancel = nullptr;
  req->ki_list.init();
  req->refcnt.store(2, std::memory_order_relaxed);
  req->resfd = -1;
  req->bdev = nullptr;
  req->poll_fd = -1;
  req->finishing = false;
  req->poll_state.store(PollState::kIdle, std::memory_order_relaxed);
  return req;
}

void iocb_destroy(AioKiocb* req) {
  Kioctx* ctx = req->ctx;
  if (req->finishing) {
    req->finishing = false;
    ctx->finishing.fetch_sub(1, std::memory_order_acq_rel);
  }
  if (req->heap_vecs != nullptr) {
    delete[] req->heap_vecs;
    req->heap_vecs = nullptr;
  }
  req->bdev_ref.reset();
  req->held_file.reset();
  ctx->pool.free(req);
  ctx->reqs.put();  // may let io_destroy free ctx: touch nothing after
}

namespace {

unsigned ring_avail(const Kioctx* ctx, unsigned head, unsigned tail) {
  return tail > head ? tail - head : tail + ctx->nr_events - head;
}

// Whether the poster of `req`'s event must wake the waiters: a worker that
// is not the last of those finishing at once leaves it to the last, which
// comes within microseconds; *avail then becomes what the ring holds now.
bool wakes_waiters(AioKiocb* req, unsigned* avail) {
  if (!req->finishing) return true;
  Kioctx* ctx = req->ctx;
  req->finishing = false;
  if (ctx->finishing.fetch_sub(1, std::memory_order_acq_rel) != 1) return false;
  unsigned tail;
  {
    core::LockGuard g(ctx->completion_lock);
    tail = ctx->tail;
  }
  const unsigned head = std::atomic_ref<unsigned>(ctx->r()->head).load(std::memory_order_relaxed);
  *avail = ring_avail(ctx, head, tail);
  return true;
}

// For `iostack exec --stats`, before the event is visible.
void count_req(const AioKiocb* req) {
  if (!core::ExecStats::enabled()) return;
  const unsigned op = req->opcode;
  core::exec_stats().count_aio(op, req->res.res, op == IOCB_CMD_PREAD || op == IOCB_CMD_PREADV,
                               op == IOCB_CMD_PWRITE || op == IOCB_CMD_PWRITEV);
}

// aio_complete(): copies the event into the ring, publishes the tail and
// wakes whoever waits for it.
void aio_complete(AioKiocb* req) {
  count_req(req);
  Kioctx* ctx = req->ctx;
  AioRing* ring = ctx->r();
  unsigned head, tail, avail;
  {
    core::LockGuard g(ctx->completion_lock);
    tail = ctx->tail;
    const unsigned pos = tail;
    if (++tail >= ctx->nr_events) tail = 0;
    ring_events(ring)[pos] = req->res;
    if (ctx->posted_at)
      ctx->posted_at[pos].store(static_cast<std::int64_t>(core::monotonic_ns()),
                                std::memory_order_relaxed);
    ctx->tail = tail;
    head = std::atomic_ref<unsigned>(ring->head).load(std::memory_order_relaxed);
    // The event must be visible before the tail that covers it; seq_cst so
    // that, against a waiter's seq_cst registration then tail load, either
    // the waiter sees this tail or this thread sees the waiter (smp_mb).
    std::atomic_ref<unsigned>(ring->tail).store(tail, std::memory_order_seq_cst);
    ctx->completed_events++;
    if (ctx->completed_events > 1) refill_reqs_available(ctx, head, tail);
    avail = ring_avail(ctx, head, tail);
  }
  if (req->resfd >= 0) {
    const std::uint64_t one = 1;
    ssize_t r = ::write(req->resfd, &one, sizeof(one));
    (void)r;
  }
  if (wakes_waiters(req, &avail) && ctx->wait.active()) ctx->wait.wake(avail);
}

}  // namespace

void aio_finishing(AioKiocb* req) {
  req->ctx->finishing.fetch_add(1, std::memory_order_acq_rel);
  req->finishing = true;
}

void iocb_put(AioKiocb* req) {
  if (req->refcnt.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  aio_complete(req);
  iocb_destroy(req);
}

void aio_complete_rw(AioKiocb* req, long res) {
  req->res.res = res;
  req->res.res2 = 0;
  iocb_put(req);
}

}  // namespace iostack::aio
