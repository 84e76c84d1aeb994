// Waiting for completions (io_cqring_wait, io_get_ext_arg in
// io_uring/io_uring.c): min_complete, a timeout and a signal mask, woken by
// CQ posts through a futex.
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

#include "core/futex.hpp"
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

bool before(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

}  // namespace

int cqring_wait(IoRingCtx* ctx, unsigned min_events, unsigned flags, ExtArg* ext) {
  if (min_events > ctx->cq_entries) min_events = ctx->cq_entries;
  if ((ctx->flags & IORING_SETUP_DEFER_TASKRUN) &&
      ctx->submitter_tid.load(std::memory_order_relaxed) != core::current_tid())
    return -EEXIST;
  poll_catch_up(ctx);
  poll_sweep_oneshot(ctx);
  const bool local = ctx->flags & IORING_SETUP_DEFER_TASKRUN;
  const int min_nr = static_cast<int>(min_events);
  if (local) {
    tw_run_local(ctx, min_nr, std::max(kLocalTwDefaultMax, min_nr));
    poll_activation_release(ctx);  // io_run_task_work
  } else if (tw_pending(ctx)) {
    tw_run(ctx);
  }
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

  std::uint32_t target = load_acquire(ctx->rings->cq.head) + min_events;
  const std::uint32_t nr_timeouts = ctx->cq_timeouts.load(std::memory_order_acquire);
  // FEAT_MIN_TIMEOUT (io_cqring_min_timer_wakeup): the first sleep ends at
  // the minimum wait, whatever the timeout; then the wait is over if CQEs
  // came since it began, are pending, or no later timeout was asked for;
  // otherwise any CQE from then on ends it, up to the timeout.
  bool min_phase = ext->min_wait_ns > 0;
  const std::uint32_t min_tail = load_acquire(ctx->rings->cq.tail);
  struct timespec min_deadline {};
  if (min_phase)
    min_deadline = core::futex_deadline_after(ext->min_wait_ns / 1000000000LL,
                                              ext->min_wait_ns % 1000000000LL);
  int ret = 0;
  for (;;) {
    // A ring shared across fork is posted to by other processes too: their
    // CQEs wake the shared queue (so do this process's, see cq_wake).
    RingShared* sh = ring_shared(ctx);
    // io_cqring_wait's nr_wait: after a wakeup a DEFER_TASKRUN ring runs as
    // many items of its work as CQEs are still missing (one after the
    // minimum wait), leaving the rest for later.
    const int nr_wait = min_phase || !ext->min_wait_ns
                            ? static_cast<std::int32_t>(target - load_acquire(ctx->rings->cq.tail))
                            : 1;
    const std::uint32_t seq = sh ? sh->cq_wait.prepare() : ctx->cq_wait.prepare();
    const bool work = tw_pending(ctx) || ctx->has_overflow.load(std::memory_order_acquire);
    const bool woke = static_cast<std::int32_t>(load_acquire(ctx->rings->cq.tail) - target) >= 0 ||
                      ctx->cq_timeouts.load(std::memory_order_acquire) != nr_timeouts;
    int r = 0;
    if (!work && !woke) {
      ring_ready_update(ctx);
      const struct timespec* until = min_phase ? &min_deadline : timed ? &deadline : nullptr;
      r = sh ? sh->cq_wait.sleep(seq, until) : ctx->cq_wait.sleep(seq, until);
    }
    if (sh)
      sh->cq_wait.finish();
    else
      ctx->cq_wait.finish();
    if (local) {
      tw_run_local(ctx, nr_wait, nr_wait);
      poll_activation_release(ctx);
    } else if (tw_pending(ctx)) {
      tw_run(ctx);
    }
    if (ctx->has_overflow.load(std::memory_order_acquire)) overflow_flush(ctx, false);
    if (r == -ETIME && min_phase) {
      min_phase = false;
      const bool over = !timed || !before(min_deadline, deadline) || tw_pending(ctx) ||
                        load_acquire(ctx->rings->cq.tail) != min_tail || cq_events_user(ctx);
      if (!over) {
        target = min_tail + 1;
        continue;
      }
    }
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
