// io_uring_register(2) (io_uring/register.c): resources, eventfd, probe,
// restrictions, enabling a disabled ring, io-wq tuning and registered ring
// fds, resizing the rings (resize.cpp); the opcodes that take fd -1.
#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/kbuf.hpp"

namespace iostack::uring {

namespace {

int probe(void* arg, unsigned nr_args) {
  if (nr_args > kOpLast) nr_args = kOpLast;
  const std::size_t size = sizeof(io_uring_probe) + nr_args * sizeof(io_uring_probe_op);
  std::vector<unsigned char> buf(size);
  if (core::copy_from_user(buf.data(), arg, size)) return -EFAULT;
  for (unsigned char c : buf)
    if (c) return -EINVAL;
  auto* p = reinterpret_cast<io_uring_probe*>(buf.data());
  p->last_op = static_cast<std::uint8_t>(kOpLast - 1);
  for (unsigned i = 0; i < nr_args; ++i) {
    p->ops[i].op = static_cast<std::uint8_t>(i);
    if (op_def(i)) p->ops[i].flags = IO_URING_OP_SUPPORTED;
  }
  p->ops_len = static_cast<std::uint8_t>(nr_args);
  if (core::copy_to_user(arg, buf.data(), size)) return -EFAULT;
  return 0;
}

// A new file table allocates from all of it (io_file_table_set_alloc_range).
int reset_alloc_range(IoRingCtx* ctx, int ret) REQUIRES(ctx->uring_lock) {
  if (ret == 0) ctx->file_alloc_start = ctx->file_alloc_end = ctx->file_alloc_hint = 0;
  return ret;
}

int enable_rings(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  if (!ctx->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  if (ring_shared(ctx)) {
    const int ret = ring_share_enable(ctx);
    if (!ret) sq_thread_wake(ctx);
    return ret;
  }
  if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) && !ctx->submitter_tid.load())
    ctx->submitter_tid.store(core::current_tid(), std::memory_order_relaxed);
  if (ctx->restrictions.registered) ctx->restricted.store(true, std::memory_order_relaxed);
  ctx->r_disabled.store(false, std::memory_order_release);
  sq_thread_wake(ctx);
  return 0;
}

// cpumask_size(): what IORING_REGISTER_IOWQ_AFF copies at most. The
// kernel's masks span NR_CPUS bits, or nr_cpu_ids bits when they live off
// the stack, which x86 kernels built for more than 512 CPUs do.
std::size_t cpumask_size() {
  static const std::size_t size = [] {
    auto read_uint = [](const char* path, unsigned long* v) {
      FILE* f = std::fopen(path, "re");
      if (!f) return false;
      const bool ok = std::fscanf(f, "%lu", v) == 1;
      std::fclose(f);
      return ok;
    };
    unsigned long kernel_max = 0;
    unsigned long bits = static_cast<unsigned long>(get_nprocs_conf());
    if (read_uint("/sys/devices/system/cpu/kernel_max", &kernel_max) && kernel_max + 1 <= 512)
      bits = kernel_max + 1;
    return static_cast<std::size_t>((bits + 63) / 64 * 8);
  }();
  return size;
}

// io_register_iowq_aff: the mask is copied before anything else is looked at.
int iowq_aff(IoRingCtx* ctx, const void* arg, unsigned len) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  std::size_t n = std::min<std::size_t>(len, cpumask_size());
  n = std::min(n, sizeof(mask));
  if (core::copy_from_user(&mask, arg, n)) return -EFAULT;
  if (ctx->flags & IORING_SETUP_SQPOLL) return sqpoll_wq_affinity(ctx, &mask, n);
  return ctx->wq ? ctx->wq->set_affinity(&mask, n) : -EINVAL;
}

int iowq_max_workers(IoRingCtx* ctx, void* arg) {
  unsigned counts[2];
  if (core::copy_from_user(counts, arg, sizeof(counts))) return -EFAULT;
  for (unsigned c : counts)
    if (c > INT_MAX) return -EINVAL;
  struct rlimit rl;
  getrlimit(RLIMIT_NPROC, &rl);
  for (unsigned& c : counts)
    if (rl.rlim_cur != RLIM_INFINITY && c > rl.rlim_cur) c = static_cast<unsigned>(rl.rlim_cur);
  if (!ctx->wq) return -EINVAL;
  ctx->wq->max_workers(counts);
  if (core::copy_to_user(arg, counts, sizeof(counts))) return -EFAULT;
  return 0;
}

// io_register_clock: the clock that io_uring_enter's timeouts count on.
int register_clock(IoRingCtx* ctx, void* arg) {
  uapi::ClockRegister reg;
  if (core::copy_from_user(&reg, arg, sizeof(reg))) return -EFAULT;
  for (auto r : reg.resv)
    if (r) return -EINVAL;
  if (reg.clockid != CLOCK_MONOTONIC && reg.clockid != CLOCK_BOOTTIME) return -EINVAL;
  ctx->clockid.store(static_cast<int>(reg.clockid), std::memory_order_relaxed);
  return 0;
}

int do_register(IoRingCtx* ctx, unsigned opcode, void* arg, unsigned nr_args)
    REQUIRES(ctx->uring_lock) {
  switch (opcode) {
    case IORING_REGISTER_BUFFERS:
      if (!arg) return -EFAULT;
      return register_buffers(ctx, arg, nr_args);
    case IORING_UNREGISTER_BUFFERS:
      if (arg || nr_args) return -EINVAL;
      return unregister_buffers(ctx);
    case IORING_REGISTER_FILES:
      if (!arg) return -EFAULT;  // a sparse table comes through FILES2
      return reset_alloc_range(ctx, register_files(ctx, arg, nr_args));
    case IORING_REGISTER_FILES2:
      return reset_alloc_range(ctx, register_rsrc(ctx, arg, nr_args, true));
    case IORING_REGISTER_BUFFERS2:
      return register_rsrc(ctx, arg, nr_args, false);
    case IORING_REGISTER_FILES_UPDATE2:
      return register_rsrc_update(ctx, arg, nr_args, true);
    case IORING_REGISTER_BUFFERS_UPDATE:
      return register_rsrc_update(ctx, arg, nr_args, false);
    case IORING_UNREGISTER_FILES:
      if (arg || nr_args) return -EINVAL;
      return unregister_files(ctx);
    case IORING_REGISTER_FILES_UPDATE:
      return register_files_update(ctx, arg, nr_args);
    case IORING_REGISTER_EVENTFD:
      if (nr_args != 1) return -EINVAL;
      return eventfd_register(ctx, arg, false);
    case IORING_REGISTER_EVENTFD_ASYNC:
      if (nr_args != 1) return -EINVAL;
      return eventfd_register(ctx, arg, true);
    case IORING_UNREGISTER_EVENTFD:
      if (arg || nr_args) return -EINVAL;
      return eventfd_unregister(ctx);
    case IORING_REGISTER_PROBE:
      if (!arg || nr_args > 256) return -EINVAL;
      return probe(arg, nr_args);
    case IORING_REGISTER_RESTRICTIONS:
      return register_restrictions(ctx, arg, nr_args);
    case IORING_REGISTER_ENABLE_RINGS:
      if (arg || nr_args) return -EINVAL;
      return enable_rings(ctx);
    case IORING_REGISTER_IOWQ_AFF:
      if (!arg || !nr_args) return -EINVAL;
      return iowq_aff(ctx, arg, nr_args);
    case IORING_UNREGISTER_IOWQ_AFF:
      if (arg || nr_args) return -EINVAL;
      return ctx->wq ? ctx->wq->set_affinity(nullptr, 0) : -EINVAL;
    case IORING_REGISTER_IOWQ_MAX_WORKERS:
      if (!arg || nr_args != 2) return -EINVAL;
      return iowq_max_workers(ctx, arg);
    case IORING_REGISTER_RING_FDS:
      return register_ring_fds(ctx, arg, nr_args);
    case IORING_UNREGISTER_RING_FDS:
      return unregister_ring_fds(ctx, arg, nr_args);
    case IORING_REGISTER_PBUF_RING:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_pbuf_ring(ctx, arg);
    case IORING_UNREGISTER_PBUF_RING:
      if (!arg || nr_args != 1) return -EINVAL;
      return unregister_pbuf_ring(ctx, arg);
    case uapi::kRegisterPbufStatus:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_pbuf_status(ctx, arg);
    case IORING_REGISTER_PERSONALITY:
      if (arg || nr_args) return -EINVAL;
      return ctx->personalities.add(current_creds());
    case IORING_UNREGISTER_PERSONALITY:
      if (arg) return -EINVAL;
      return ctx->personalities.remove(nr_args) ? 0 : -EINVAL;
    case uapi::kRegisterClock:
      if (!arg || nr_args) return -EINVAL;
      return register_clock(ctx, arg);
    case uapi::kRegisterResizeRings:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_resize_rings(ctx, arg);
    case IORING_REGISTER_FILE_ALLOC_RANGE:
      if (!arg || nr_args) return -EINVAL;
      return register_file_alloc_range(ctx, arg);
    case uapi::kRegisterMemRegion:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_mem_region(ctx, arg);
    case uapi::kRegisterNapi:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_napi(ctx, arg);
    case uapi::kUnregisterNapi:
      if (nr_args != 1) return -EINVAL;
      return unregister_napi(ctx, arg);
    case uapi::kRegisterZcrxIfq:
      if (!arg || nr_args != 1) return -EINVAL;
      return register_zcrx_ifq(ctx, arg);
    case uapi::kRegisterQuery:
      return register_query(arg, nr_args);
    default:
      return -EINVAL;
  }
}

// io_uring_register_send_msg_ring: one SQE of IORING_OP_MSG_RING, without
// SQE flags.
int send_msg_ring(void* arg, unsigned nr_args) {
  if (!arg || nr_args != 1) return -EINVAL;
  io_uring_sqe sqe;
  if (core::copy_from_user(&sqe, arg, sizeof(sqe))) return -EFAULT;
  if (sqe.flags) return -EINVAL;
  if (sqe.opcode != IORING_OP_MSG_RING) return -EINVAL;
  return sync_msg_ring(&sqe);
}

// io_uring_register_blind: the opcodes that name no ring (fd -1).
int register_blind(unsigned opcode, void* arg, unsigned nr_args) {
  switch (opcode) {
    case uapi::kRegisterSendMsgRing:
      return send_msg_ring(arg, nr_args);
    case uapi::kRegisterQuery:
      return register_query(arg, nr_args);
    default:
      return -EINVAL;
  }
}

}  // namespace

int ring_register(int fd, unsigned opcode, void* arg, unsigned nr_args) {
  const bool use_registered = opcode & IORING_REGISTER_USE_REGISTERED_RING;
  opcode &= ~IORING_REGISTER_USE_REGISTERED_RING;
  // Checked before the descriptor is looked at.
  if (opcode >= uapi::kRegisterLast) return -EINVAL;
  if (fd == -1) return register_blind(opcode, arg, nr_args);
  core::FileRef ref;
  if (const int ret = ctx_get(fd, use_registered, &ref)) return ret;
  IoRingCtx* ctx = ring_of(ref);
  int ret;
  const pid_t owner = ctx->submitter_tid.load(std::memory_order_relaxed);
  if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) && owner && owner != core::current_tid()) {
    ret = -EEXIST;
  } else if (ctx->restricted.load(std::memory_order_acquire) && !register_op_allowed(ctx, opcode)) {
    ret = -EACCES;
  } else if (opcode == IORING_REGISTER_SYNC_CANCEL) {
    ret = arg && nr_args == 1 ? sync_cancel(ctx, arg) : -EINVAL;
  } else if (opcode == uapi::kRegisterCloneBuffers) {
    ret = arg && nr_args == 1 ? register_clone_buffers(ctx, arg) : -EINVAL;
  } else {
    core::LockGuard lock(ctx->uring_lock);
    ret = do_register(ctx, opcode, arg, nr_args);
  }
  return ret;
}

}  // namespace iostack::uring
