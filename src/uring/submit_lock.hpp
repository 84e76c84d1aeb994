// io_ring_submit_lock / io_ring_submit_unlock (io_uring/io_uring.h).
#pragma once

#include "core/thread_safety.hpp"
#include "uring/ctx.hpp"

namespace iostack::uring {

// Holds ctx->uring_lock for its scope: takes it, unless the caller's issue
// flags say the caller holds it already (then debug builds check that).
// Either way the lock is held inside, which is what the analysis is told.
class SCOPED_CAPABILITY RingSubmitLock {
 public:
  RingSubmitLock(IoRingCtx* ctx, bool held) ACQUIRE(ctx->uring_lock) : ctx_(ctx), take_(!held) {
    if (take_)
      ctx_->uring_lock.lock();
    else
      ctx_->uring_lock.assert_held();
  }
  ~RingSubmitLock() RELEASE() {
    if (take_) ctx_->uring_lock.unlock();
  }
  RingSubmitLock(const RingSubmitLock&) = delete;
  RingSubmitLock& operator=(const RingSubmitLock&) = delete;

 private:
  IoRingCtx* ctx_;
  bool take_;
};

}  // namespace iostack::uring
