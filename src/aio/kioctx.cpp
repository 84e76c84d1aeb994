// struct kioctx: construction, request budget and teardown of a context.
#include "aio/kioctx.hpp"

#include <atomic>

#include "core/futex.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {

void CtxRef::put() {
  if (count.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Only the base reference's owner has a waiter installed by now, and it
  // cannot free the context before `done` is set.
  CtxRefWait* w = waiter.load(std::memory_order_acquire);
  w->done.store(1, std::memory_order_release);
  core::futex_wake(&w->done, 1);
}

void CtxRef::kill_and_wait() {
  CtxRefWait w;
  waiter.store(&w, std::memory_order_release);
  put();
  while (w.done.load(std::memory_order_acquire) == 0) core::futex_wait(&w.done, 0, nullptr);
}

void KiocbPool::grow(unsigned n) {
  auto chunk = std::make_unique<AioKiocb[]>(n);
  for (unsigned i = 0; i < n; ++i) {
    chunk[i].next_free = free_;
    free_ = &chunk[i];
  }
  chunks_.push_back(std::move(chunk));
}

void KiocbPool::reserve(unsigned n) {
  core::LockGuard g(lock_);
  grow(n);
}

AioKiocb* KiocbPool::alloc() {
  core::LockGuard g(lock_);
  if (free_ == nullptr) grow(32);
  AioKiocb* req = free_;
  free_ = req->next_free;
  req->next_free = nullptr;
  return req;
}

void KiocbPool::free(AioKiocb* req) {
  core::LockGuard g(lock_);
  req->next_free = free_;
  free_ = req;
}

void refill_reqs_available(Kioctx* ctx, unsigned head, unsigned tail) {
  core::lockdep_assert_held(ctx->completion_lock);
  // User space may have written anything to head.
  head %= ctx->nr_events;
  const unsigned in_ring = head <= tail ? tail - head : ctx->nr_events - (head - tail);
  unsigned completed = ctx->completed_events;
  if (in_ring < completed) {
    completed -= in_ring;
  } else {
    completed = 0;
  }
  if (completed == 0) return;
  ctx->completed_events -= completed;
  put_reqs_available(ctx, completed);
}

void put_reqs_available(Kioctx* ctx, unsigned nr) {
  ctx->reqs_available.put(current_cpu(ctx->reqs_available.ncpus()), nr);
}

bool get_reqs_available(Kioctx* ctx) {
  const unsigned cpu = current_cpu(ctx->reqs_available.ncpus());
  if (ctx->reqs_available.get(cpu)) return true;
  {
    core::LockGuard g(ctx->completion_lock);
    if (ctx->completed_events != 0) {
      const unsigned head =
          std::atomic_ref<unsigned>(ctx->r()->head).load(std::memory_order_relaxed);
      refill_reqs_available(ctx, head, ctx->tail);
    }
  }
  return ctx->reqs_available.get(cpu);
}

}  // namespace iostack::aio
