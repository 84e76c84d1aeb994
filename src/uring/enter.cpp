// io_uring_enter(2) (io_uring/io_uring.c): submit, wake the SQPOLL thread,
// wait for completions.
#include <algorithm>
#include <cerrno>

#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kEnterFlags = IORING_ENTER_GETEVENTS | IORING_ENTER_SQ_WAKEUP |
                                 IORING_ENTER_SQ_WAIT | IORING_ENTER_EXT_ARG |
                                 IORING_ENTER_REGISTERED_RING | IORING_ENTER_ABS_TIMER |
                                 IORING_ENTER_EXT_ARG_REG | IORING_ENTER_NO_IOWAIT;

int get_ext_arg(IoRingCtx* ctx, unsigned flags, const void* argp, std::size_t argsz, ExtArg* ext) {
  if (!(flags & IORING_ENTER_EXT_ARG)) {
    ext->sig = static_cast<const sigset_t*>(argp);
    ext->argsz = argsz;
    return 0;
  }
  // argp is an offset into the registered wait region; an IOPOLL ring's
  // wait takes no registered argument (io_validate_ext_arg).
  if (flags & IORING_ENTER_EXT_ARG_REG) {
    if (ctx->flags & IORING_SETUP_IOPOLL) return -EINVAL;
    if (argsz != sizeof(uapi::RegWait)) return -EINVAL;
    return reg_wait_arg(ctx, reinterpret_cast<std::uintptr_t>(argp), ext);
  }
  if (argsz != sizeof(io_uring_getevents_arg)) return -EINVAL;
  io_uring_getevents_arg arg;
  if (core::get_user(arg, static_cast<const io_uring_getevents_arg*>(argp))) return -EFAULT;
  ext->sig = reinterpret_cast<const sigset_t*>(static_cast<std::uintptr_t>(arg.sigmask));
  ext->argsz = arg.sigmask_sz;
  // The uapi of this header calls min_wait_usec `pad`.
  ext->min_wait_ns = static_cast<std::int64_t>(arg.pad) * 1000;
  if (arg.ts) {
    __kernel_timespec ts;
    if (core::get_user(ts, reinterpret_cast<const __kernel_timespec*>(arg.ts))) return -EFAULT;
    ext->ts_set = true;
    ext->sec = ts.tv_sec;
    ext->nsec = ts.tv_nsec;
  }
  return 0;
}

}  // namespace

unsigned supported_enter_flags() { return kEnterFlags; }

int ring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* argp,
               std::size_t argsz) {
  if (flags & ~kEnterFlags) return -EINVAL;
  core::FileRef ref;
  if (const int ret = ctx_get(fd, flags & IORING_ENTER_REGISTERED_RING, &ref)) return ret;
  IoRingCtx* ctx = ring_of(ref);
  if (ctx->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  // The submitter's task_work runs as its calls return: the poll
  // activation one of them asked for, before this one and after it.
  struct ActivationOnReturn {
    IoRingCtx* ctx;
    explicit ActivationOnReturn(IoRingCtx* c) : ctx(c) { poll_activation_release(ctx); }
    ~ActivationOnReturn() { poll_activation_release(ctx); }
  } on_return(ctx);
  int ret = 0;
  if (ctx->flags & IORING_SETUP_SQPOLL) {
    if (!sq_thread_alive(ctx)) return -EOWNERDEAD;
    if (flags & IORING_ENTER_SQ_WAKEUP) sq_thread_wake(ctx);
    if (flags & IORING_ENTER_SQ_WAIT) sqpoll_wait_sq(ctx);
    ret = static_cast<int>(to_submit);
  } else if (to_submit) {
    if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) &&
        ctx->submitter_tid.load(std::memory_order_relaxed) != core::current_tid())
      return -EEXIST;
    tw_note_submitter(ctx);
    // The kernel runs the task work that wakeups queued (a poll retry after
    // the program's own write to a pipe) before that write returned, so
    // before this call: a request retried there comes before this batch.
    if (tw_pending(ctx) && !(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) tw_run(ctx);
    ret = submit_and_flush(ctx, to_submit);
    if (ret != static_cast<int>(to_submit)) return ret;
    // io_uring_enter runs a DEFER_TASKRUN ring's work once after submitting,
    // before the wait runs it again.
    if ((flags & IORING_ENTER_GETEVENTS) && (ctx->flags & IORING_SETUP_DEFER_TASKRUN)) {
      const int min_nr = static_cast<int>(std::min(min_complete, 1u << 30));
      tw_run_local(ctx, min_nr, std::max(kLocalTwDefaultMax, min_nr));
    }
  }
  if (flags & IORING_ENTER_GETEVENTS) {
    ExtArg ext;
    int ret2 = get_ext_arg(ctx, flags, argp, argsz, &ext);
    if (!ret2) ret2 = cqring_wait(ctx, min_complete, flags, &ext);
    if (!ret) {
      ret = ret2;
      if (ret2 == -EBADR) ctx->cq_dropped.store(false, std::memory_order_relaxed);
    }
  } else if (tw_pending(ctx) && !(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) {
    tw_run(ctx);  // a DEFER_TASKRUN ring runs it only for GETEVENTS
  }
  return ret;
}

}  // namespace iostack::uring
