// io_uring_register(2) (io_uring/register.c): resources, eventfd, probe,
// enabling a disabled ring, io-wq tuning and registered ring fds.
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/process.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

int probe(void* arg, unsigned nr_args) {
  if (!arg) return -EFAULT;
  if (nr_args > kOpLast) nr_args = kOpLast;
  const std::size_t size = sizeof(io_uring_probe) + nr_args * sizeof(io_uring_probe_op);
  std::vector<unsigned char> buf(size);
  std::memcpy(buf.data(), arg, size);
  for (unsigned char c : buf)
    if (c) return -EINVAL;
  auto* p = reinterpret_cast<io_uring_probe*>(buf.data());
  p->last_op = static_cast<std::uint8_t>(kOpLast - 1);
  for (unsigned i = 0; i < nr_args; ++i) {
    p->ops[i].op = static_cast<std::uint8_t>(i);
    if (op_def(i)) p->ops[i].flags = IO_URING_OP_SUPPORTED;
  }
  p->ops_len = static_cast<std::uint8_t>(nr_args);
  std::memcpy(arg, buf.data(), size);
  return 0;
}

int enable_rings(IoRingCtx* ctx) {
  if (!ctx->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) && !ctx->submitter_tid.load())
    ctx->submitter_tid.store(core::current_tid(), std::memory_order_relaxed);
  ctx->r_disabled.store(false, std::memory_order_release);
  sq_thread_wake(ctx);
  return 0;
}

int iowq_max_workers(IoRingCtx* ctx, void* arg, unsigned nr_args) {
  if (nr_args != 2) return -EINVAL;
  if (!arg) return -EFAULT;
  unsigned counts[2];
  std::memcpy(counts, arg, sizeof(counts));
  struct rlimit rl;
  getrlimit(RLIMIT_NPROC, &rl);
  for (unsigned& c : counts)
    if (rl.rlim_cur != RLIM_INFINITY && c > rl.rlim_cur) c = static_cast<unsigned>(rl.rlim_cur);
  if (!ctx->wq) return -EINVAL;
  ctx->wq->max_workers(counts);
  std::memcpy(arg, counts, sizeof(counts));
  return 0;
}

int do_register(IoRingCtx* ctx, unsigned opcode, void* arg, unsigned nr_args) {
  switch (opcode) {
    case IORING_REGISTER_BUFFERS:
      if (!arg) return -EFAULT;
      return register_buffers(ctx, arg, nr_args);
    case IORING_UNREGISTER_BUFFERS:
      if (arg || nr_args) return -EINVAL;
      return unregister_buffers(ctx);
    case IORING_REGISTER_FILES:
      return register_files(ctx, arg, nr_args);
    case IORING_UNREGISTER_FILES:
      if (arg || nr_args) return -EINVAL;
      return unregister_files(ctx);
    case IORING_REGISTER_FILES_UPDATE:
      if (!arg) return -EFAULT;
      return register_files_update(ctx, arg, nr_args);
    case IORING_REGISTER_EVENTFD:
      return eventfd_register(ctx, arg, nr_args, false);
    case IORING_REGISTER_EVENTFD_ASYNC:
      return eventfd_register(ctx, arg, nr_args, true);
    case IORING_UNREGISTER_EVENTFD:
      if (arg || nr_args) return -EINVAL;
      return eventfd_unregister(ctx);
    case IORING_REGISTER_PROBE:
      if (!arg || nr_args > 256) return -EINVAL;
      return probe(arg, nr_args);
    case IORING_REGISTER_ENABLE_RINGS:
      if (arg || nr_args) return -EINVAL;
      return enable_rings(ctx);
    case IORING_REGISTER_IOWQ_AFF:
      if (!arg || !nr_args) return -EINVAL;
      if (ctx->flags & IORING_SETUP_SQPOLL)
        return sqpoll_wq_affinity(ctx, static_cast<const cpu_set_t*>(arg), nr_args);
      return ctx->wq ? ctx->wq->set_affinity(static_cast<const cpu_set_t*>(arg), nr_args) : -EINVAL;
    case IORING_UNREGISTER_IOWQ_AFF:
      if (arg || nr_args) return -EINVAL;
      return ctx->wq ? ctx->wq->set_affinity(nullptr, 0) : -EINVAL;
    case IORING_REGISTER_IOWQ_MAX_WORKERS:
      return iowq_max_workers(ctx, arg, nr_args);
    case IORING_REGISTER_RING_FDS:
      if (!arg) return -EFAULT;
      return register_ring_fds(ctx, arg, nr_args);
    case IORING_UNREGISTER_RING_FDS:
      if (!arg) return -EFAULT;
      return unregister_ring_fds(ctx, arg, nr_args);
    default:
      return -EINVAL;
  }
}

}  // namespace

int ring_register(int fd, unsigned opcode, void* arg, unsigned nr_args) {
  const bool use_registered = opcode & IORING_REGISTER_USE_REGISTERED_RING;
  opcode &= ~IORING_REGISTER_USE_REGISTERED_RING;
  core::FileRef ref;
  if (const int ret = ctx_get(fd, use_registered, &ref)) return ret;
  IoRingCtx* ctx = ring_of(ref);
  int ret;
  const pid_t owner = ctx->submitter_tid.load(std::memory_order_relaxed);
  if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) && owner && owner != core::current_tid()) {
    ret = -EEXIST;
  } else {
    std::lock_guard lock(ctx->uring_lock);
    ret = do_register(ctx, opcode, arg, nr_args);
  }
  return ret;
}

}  // namespace iostack::uring
