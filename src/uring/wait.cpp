// Waiting for completions (io_cqring_wait, io_get_ext_arg in
// io_uring/io_uring.c): min_complete, a timeout and a signal mask, woken by
// CQ posts through a futex.
#include <pthread.h>
#include <time.h>

#include <cerrno>

#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

std::int64_t ns_of(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// An absolute time on the ring's clock (IORING_REGISTER_CLOCK) as a
// CLOCK_MONOTONIC deadline, which the futex wait counts on.
struct timespec to_monotonic(int clock, std::int64_t sec, std::int64_t nsec) {
  std::int64_t t = sec * 1000000000LL + nsec;
  if (clock == CLOCK_BOOTTIME) t -= ns_of(CLOCK_BOOTTIME) - ns_of(CLOCK_MONOTONIC);
  if (t < 0) t = 0;
  return {static_cast<time_t>(t / 1000000000LL), static_cast<long>(t % 1000000000LL)};
}

}  // namespace

int cqring_wait(IoRingCtx* ctx, unsigned min_events, unsigned flags, ExtArg* ext) {
  if (min_events > ctx->cq_entries) min_events = ctx->cq_entries;
  if ((ctx->flags & IORING_SETUP_DEFER_TASKRUN) &&
      ctx->submitter_tid.load(std::memory_order_relaxed) != core::current_tid())
    return -EEXIST;
  if (tw_pending(ctx)) tw_run(ctx);
  if (ctx->has_overflow.load(std::memory_order_acquire)) overflow_flush(ctx, false);
  if (cq_events_user(ctx) >= min_events) {
    if (!min_events) ring_ready_update(ctx);
    return 0;
  }

  struct timespec deadline {};
  const bool timed = ext->ts_set;
  if (timed) {
    if (flags & IORING_ENTER_ABS_TIMER) {
      deadline = to_monotonic(ctx->clockid.load(std::memory_order_relaxed), ext->sec, ext->nsec);
    } else {
      deadline = core::futex_deadline_after(ext->sec, ext->nsec);
    }
  }
  sigset_t saved;
  const bool masked = ext->sig != nullptr;
  if (masked) {
    // set_user_sigmask: the kernel's sigset_t is _NSIG / 8 bytes.
    if (ext->argsz != sizeof(std::uint64_t)) return -EINVAL;
    sigset_t mask;
    if (core::copy_sigset_from_user(&mask, ext->sig)) return -EFAULT;
    pthread_sigmask(SIG_SETMASK, &mask, &saved);
  }

  const std::uint32_t target = load_acquire(ctx->rings->cq.head) + min_events;
  const std::uint32_t nr_timeouts = ctx->cq_timeouts.load(std::memory_order_acquire);
  int ret = 0;
  for (;;) {
    const std::uint32_t seq = ctx->cq_wait.prepare();
    const bool work = tw_pending(ctx) || ctx->has_overflow.load(std::memory_order_acquire);
    const bool woke = static_cast<std::int32_t>(load_acquire(ctx->rings->cq.tail) - target) >= 0 ||
                      ctx->cq_timeouts.load(std::memory_order_acquire) != nr_timeouts;
    int r = 0;
    if (!work && !woke) {
      ring_ready_update(ctx);
      r = ctx->cq_wait.sleep(seq, timed ? &deadline : nullptr);
    }
    ctx->cq_wait.finish();
    if (tw_pending(ctx)) tw_run(ctx);
    if (ctx->has_overflow.load(std::memory_order_acquire)) overflow_flush(ctx, false);
    if (r) {
      ret = r;  // -ETIME or -EINTR
      break;
    }
    if (ctx->cq_dropped.load(std::memory_order_relaxed)) {
      ret = -EBADR;
      break;
    }
    if (static_cast<std::int32_t>(load_acquire(ctx->rings->cq.tail) - target) >= 0 ||
        ctx->cq_timeouts.load(std::memory_order_acquire) != nr_timeouts) {
      ret = 0;
      break;
    }
  }
  if (masked) pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (load_acquire(ctx->rings->cq.head) == load_acquire(ctx->rings->cq.tail)) {
    ring_ready_update(ctx);
    return ret;
  }
  return 0;
}

}  // namespace iostack::uring
