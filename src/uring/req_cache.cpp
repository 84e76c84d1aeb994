// Request cache of a ring (io_alloc_req, io_req_add_to_cache,
// __io_req_caches_free in io_uring/io_uring.c): requests are carved from
// chunks owned by the ring and recycled, so steady-state I/O allocates
// nothing. Frees from other threads go through a lock-free stack that the
// submitter takes over whole.
#include <new>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {
constexpr unsigned kChunk = 32;  // requests per refill
}

IoKiocb* req_alloc(IoRingCtx* ctx) {
  if (ctx->remote_free.load(std::memory_order_relaxed)) [[unlikely]] {
    // The kernel frees a request io-wq finished from the submitter's task
    // work (io_free_req), onto the top of its cache: the next allocation
    // reuses it (what it left, such as unposted CQE32 words, shows there:
    // fuzz seed 68514).
    if (IoKiocb* remote = ctx->remote_free.exchange(nullptr, std::memory_order_acquire)) {
      IoKiocb* tail = remote;
      while (tail->comp_next) tail = tail->comp_next;
      tail->comp_next = ctx->free_list;
      ctx->free_list = remote;
    }
  }
  if (!ctx->free_list) {
    auto* chunk = new (std::nothrow) IoKiocb[kChunk];
    if (!chunk) return nullptr;
    ctx->req_chunks.push_back(chunk);
    for (unsigned i = 0; i < kChunk; ++i) {
      chunk[i].comp_next = ctx->free_list;
      ctx->free_list = &chunk[i];
    }
  }
  IoKiocb* req = ctx->free_list;
  ctx->free_list = req->comp_next;
  req->comp_next = nullptr;
  req->refs.store(1, std::memory_order_relaxed);
  req->flags = 0;
  ctx->nr_alloc.store(ctx->nr_alloc.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return req;
}

void req_recycle(IoKiocb* req, bool locked) {
  IoRingCtx* ctx = req->ctx;
  if (locked) {
    core::lockdep_assert_held(ctx->uring_lock);
    req->comp_next = ctx->free_list;
    ctx->free_list = req;
    ctx->nr_alloc.store(ctx->nr_alloc.load(std::memory_order_relaxed) - 1,
                        std::memory_order_release);
    // A drained request may be waiting for exactly this one to go away.
    if (ctx->drain_active.load(std::memory_order_relaxed)) queue_deferred(ctx);
    if (!ctx->alive.load(std::memory_order_relaxed) && ctx->nr_live() == 0) ctx->cq_wait.wake();
    return;
  }
  ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
  IoKiocb* head = ctx->remote_free.load(std::memory_order_relaxed);
  do {
    req->comp_next = head;
  } while (!ctx->remote_free.compare_exchange_weak(head, req, std::memory_order_release,
                                                   std::memory_order_relaxed));
  ctx->nr_remote_freed.fetch_add(1, std::memory_order_acq_rel);
  // A drained request may be waiting for exactly this one to go away.
  if (ctx->drain_active.load(std::memory_order_acquire)) {
    if (!ctx->drain_flush_queued.exchange(true, std::memory_order_acq_rel))
      tw_add(&ctx->drain_req, [](IoKiocb* r) {
        core::lockdep_assert_held(r->ctx->uring_lock);  // task work
        r->ctx->drain_flush_queued.store(false, std::memory_order_release);
        queue_deferred(r->ctx);
      });
  }
  // Ring teardown waits for the last one.
  if (!ctx->alive.load(std::memory_order_relaxed) && ctx->nr_live() == 0) ctx->cq_wait.wake();
  ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);  // the last touch of ctx
}

void req_put(IoKiocb* req, bool locked) {
  if (req->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) req_recycle(req, locked);
}

void req_cache_destroy(IoRingCtx* ctx) {
  for (IoKiocb* chunk : ctx->req_chunks) delete[] chunk;
  ctx->req_chunks.clear();
  ctx->free_list = nullptr;
  ctx->remote_free.store(nullptr, std::memory_order_relaxed);
}

}  // namespace iostack::uring
