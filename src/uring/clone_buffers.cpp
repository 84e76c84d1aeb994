// IORING_REGISTER_CLONE_BUFFERS (io_register_clone_buffers and
// io_clone_buffers in io_uring/rsrc.c): the registered buffers of another
// ring (or of this one) become this ring's, in a range given by offsets,
// optionally replacing what the ring has. A clone names the same memory
// and carries no tag; the source keeps its own entries.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// ctx->buf_table.nr: the table's size, empty slots included.
unsigned table_nr(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  return ctx->bufs_registered ? static_cast<unsigned>(ctx->bufs.size()) : 0;
}

// lock_two_rings: the lower address first, as the kernel orders them.
class SCOPED_CAPABILITY TwoRingLock {
 public:
  TwoRingLock(IoRingCtx* a, IoRingCtx* b) ACQUIRE(a->uring_lock, b->uring_lock)
      : first_(std::min(a, b)), second_(std::max(a, b)) {
    first_->uring_lock.lock();
    if (second_ != first_) second_->uring_lock.lock();
  }
  ~TwoRingLock() RELEASE() {
    if (second_ != first_) second_->uring_lock.unlock();
    first_->uring_lock.unlock();
  }
  TwoRingLock(const TwoRingLock&) = delete;
  TwoRingLock& operator=(const TwoRingLock&) = delete;

 private:
  IoRingCtx* first_;
  IoRingCtx* second_;
};

// io_clone_buffers, both rings locked.
int clone_buffers(IoRingCtx* ctx, IoRingCtx* src, uapi::CloneBuffers* arg)
    REQUIRES(ctx->uring_lock, src->uring_lock) {
  if (!arg->nr && (arg->dst_off || arg->src_off)) return -EINVAL;
  const unsigned dst_nr = table_nr(ctx);
  if (dst_nr && !(arg->flags & uapi::kRegisterDstReplace)) return -EBUSY;
  const unsigned src_nr = table_nr(src);
  if (!src_nr) return -ENXIO;
  if (!arg->nr)
    arg->nr = src_nr;
  else if (arg->nr > src_nr || arg->nr > kMaxRegBuffers)
    return -EINVAL;
  std::uint32_t src_end, dst_end;
  if (__builtin_add_overflow(arg->nr, arg->src_off, &src_end) || src_end > src_nr)
    return -EOVERFLOW;
  if (__builtin_add_overflow(arg->nr, arg->dst_off, &dst_end)) return -EOVERFLOW;
  if (dst_end > kMaxRegBuffers) return -EINVAL;

  // The new table: this ring's entries before and after the cloned range
  // (another reference each), the source's entries inside it.
  std::vector<BufNode*> table(std::max(dst_end, dst_nr), nullptr);
  for (unsigned i = 0; i < std::min(arg->dst_off, dst_nr); ++i) {
    if (BufNode* n = ctx->bufs[i]) {
      n->refs.fetch_add(1, std::memory_order_relaxed);
      table[i] = n;
    }
  }
  for (unsigned k = 0; k < arg->nr; ++k) {
    const BufNode* s = src->bufs[arg->src_off + k];
    if (!s) continue;
    auto* n = new BufNode;
    n->ubuf = s->ubuf;
    n->len = s->len;
    n->ctx = ctx;
    table[arg->dst_off + k] = n;
  }
  for (unsigned i = dst_end; i < dst_nr; ++i) {
    if (BufNode* n = ctx->bufs[i]) {
      n->refs.fetch_add(1, std::memory_order_relaxed);
      table[i] = n;
    }
  }
  // The old table goes (entries replaced by the clone post their tags).
  if (dst_nr) unregister_buffers(ctx);
  ctx->bufs = std::move(table);
  ctx->bufs_registered = true;
  return 0;
}

}  // namespace

int register_clone_buffers(IoRingCtx* ctx, void* arg) {
  uapi::CloneBuffers buf;
  if (core::copy_from_user(&buf, arg, sizeof(buf))) return -EFAULT;
  if (buf.flags & ~(uapi::kRegisterSrcRegistered | uapi::kRegisterDstReplace)) return -EINVAL;
  {
    core::LockGuard lock(ctx->uring_lock);
    if (!(buf.flags & uapi::kRegisterDstReplace) && table_nr(ctx)) return -EBUSY;
  }
  for (std::uint32_t p : buf.pad)
    if (p) return -EINVAL;
  core::FileRef ref;
  if (const int ret =
          ctx_get(static_cast<int>(buf.src_fd), buf.flags & uapi::kRegisterSrcRegistered, &ref))
    return ret;
  IoRingCtx* src = ring_of(ref);
  TwoRingLock lock(ctx, src);
  // A single-issuer source lends its buffers only to its own task.
  if (src != ctx && (src->flags & IORING_SETUP_SINGLE_ISSUER)) {
    const pid_t owner = src->submitter_tid.load(std::memory_order_relaxed);
    if (owner && owner != core::current_tid()) return -EEXIST;
  }
  return clone_buffers(ctx, src, &buf);
}

}  // namespace iostack::uring
