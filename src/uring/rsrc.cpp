// Registered files and buffers (io_uring/rsrc.c, filetable.c).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "core/import_iovec.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

void file_node_put(FileNode* n) {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (n->fd >= 0) close(n->fd);
    delete n;
  }
}

namespace {

// One slot: -1 (or IORING_REGISTER_FILES_SKIP at registration) leaves it
// empty; an io_uring fd cannot be registered.
int make_node(int fd, FileNode** out) {
  *out = nullptr;
  if (fd == -1 || fd == IORING_REGISTER_FILES_SKIP) return 0;
  if (ring_file_get(fd)) return -EBADF;
  const int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return -EBADF;
  auto* n = new FileNode;
  n->fd = dup;
  n->bdev_ref = block::bdev_file_get(fd);
  n->bdev = block::bdev_of(n->bdev_ref);
  *out = n;
  return 0;
}

void drop_files(IoRingCtx* ctx) {
  for (FileNode*& n : ctx->files) {
    if (n) file_node_put(n);
    n = nullptr;
  }
  ctx->files.clear();
  ctx->files_registered = false;
}

}  // namespace

int register_files(IoRingCtx* ctx, const void* arg, unsigned nr) {
  if (ctx->files_registered) return -EBUSY;
  if (!nr) return -EINVAL;
  if (nr > kMaxFixedFiles) return -EMFILE;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (nr > rl.rlim_cur) return -EMFILE;
  const auto* fds = static_cast<const int*>(arg);
  ctx->files.assign(nr, nullptr);
  for (unsigned i = 0; i < nr; ++i) {
    int fd = -1;
    if (fds && core::get_user(fd, &fds[i])) {
      drop_files(ctx);
      return -EFAULT;
    }
    const int ret = make_node(fd, &ctx->files[i]);
    if (ret) {
      drop_files(ctx);
      return ret;
    }
  }
  ctx->files_registered = true;
  return 0;
}

int unregister_files(IoRingCtx* ctx) {
  if (!ctx->files_registered) return -ENXIO;
  drop_files(ctx);
  return 0;
}

// IORING_REGISTER_FILES_UPDATE: struct io_uring_files_update {offset, resv, fds}.
int register_files_update(IoRingCtx* ctx, void* arg, unsigned nr) {
  if (!nr) return -EINVAL;
  io_uring_files_update up;
  if (core::get_user(up, static_cast<const io_uring_files_update*>(arg))) return -EFAULT;
  if (up.resv) return -EINVAL;
  if (!ctx->files_registered) return -ENXIO;
  if (up.offset + static_cast<std::uint64_t>(nr) > ctx->files.size()) return -EINVAL;
  const auto* fds = reinterpret_cast<const int*>(static_cast<std::uintptr_t>(up.fds));
  unsigned done = 0;
  int err = 0;
  for (; done < nr; ++done) {
    int fd;
    if (core::get_user(fd, &fds[done])) {
      err = -EFAULT;
      break;
    }
    if (fd == IORING_REGISTER_FILES_SKIP) continue;
    FileNode*& slot = ctx->files[up.offset + done];
    FileNode* n = nullptr;
    if (fd != -1) {
      err = make_node(fd, &n);
      if (err) break;
    }
    if (slot) file_node_put(slot);
    slot = n;
  }
  return done ? static_cast<int>(done) : err;
}

// Takes uring_lock unless the caller holds it (`locked`, from issue_flags):
// conditional locking, which the analysis cannot follow.
FileNode* fixed_file_get(IoRingCtx* ctx, unsigned index, bool locked) NO_THREAD_SAFETY_ANALYSIS {
  if (!locked) ctx->uring_lock.lock();
  FileNode* n = nullptr;
  if (index < ctx->files.size()) n = ctx->files[index];
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
  if (!locked) ctx->uring_lock.unlock();
  return n;
}

int register_buffers(IoRingCtx* ctx, const void* arg, unsigned nr) {
  if (ctx->bufs_registered) return -EBUSY;
  if (!nr || nr > kMaxRegBuffers) return -EINVAL;
  const auto* iov = static_cast<const struct iovec*>(arg);
  std::vector<MappedBuf> bufs(nr);
  for (unsigned i = 0; i < nr; ++i) {
    struct iovec v;
    if (core::get_user(v, &iov[i])) return -EFAULT;
    if (static_cast<std::int64_t>(v.iov_len) < 0) return -EINVAL;  // copy_iovec_from_user
    // io_buffer_validate: a null base is a sparse slot only when empty;
    // buffers are capped at 1 GiB.
    if (!v.iov_base) {
      if (v.iov_len) return -EFAULT;
      continue;
    }
    if (v.iov_len > (1ull << 30)) return -EFAULT;
    if (!v.iov_len) return -EFAULT;
    const auto base = reinterpret_cast<std::uint64_t>(v.iov_base);
    std::uint64_t end;
    if (__builtin_add_overflow(base, (v.iov_len + 4095) & ~std::uint64_t{4095}, &end))
      return -EOVERFLOW;
    // io_pin_pages: pinned for writing, so read-only memory is refused too.
    if (core::fault_in_writeable(v.iov_base, v.iov_len)) return -EFAULT;
    bufs[i].ubuf = reinterpret_cast<std::uintptr_t>(v.iov_base);
    bufs[i].len = v.iov_len;
  }
  ctx->bufs = std::move(bufs);
  ctx->bufs_registered = true;
  return 0;
}

int unregister_buffers(IoRingCtx* ctx) {
  if (!ctx->bufs_registered) return -ENXIO;
  ctx->bufs.clear();
  ctx->bufs_registered = false;
  return 0;
}

// Conditional locking on `locked`, as fixed_file_get.
bool fixed_buf_exists(IoRingCtx* ctx, unsigned index, bool locked) NO_THREAD_SAFETY_ANALYSIS {
  if (!locked) ctx->uring_lock.lock();
  const bool ok = index < ctx->bufs.size() && ctx->bufs[index].len;
  if (!locked) ctx->uring_lock.unlock();
  return ok;
}

int fixed_buf_check(IoRingCtx* ctx, unsigned index, std::uint64_t addr, std::uint64_t len,
                    bool locked) NO_THREAD_SAFETY_ANALYSIS {
  if (!locked) ctx->uring_lock.lock();
  int ret = -EFAULT;
  if (index < ctx->bufs.size()) {
    const MappedBuf& b = ctx->bufs[index];
    std::uint64_t end;
    if (b.len && !__builtin_add_overflow(addr, len, &end) && addr >= b.ubuf &&
        end <= b.ubuf + b.len)
      ret = 0;
  }
  if (!locked) ctx->uring_lock.unlock();
  return ret;
}

int fixed_buf_check_vec(IoRingCtx* ctx, unsigned index, const struct iovec* iov, int nr,
                        std::int64_t* total, bool locked) NO_THREAD_SAFETY_ANALYSIS {
  if (!locked) ctx->uring_lock.lock();
  int ret = -EFAULT;
  std::uint64_t sum = 0;
  if (index < ctx->bufs.size() && ctx->bufs[index].len) {
    const MappedBuf& b = ctx->bufs[index];
    ret = 0;
    for (int i = 0; i < nr && !ret; ++i) {
      const auto addr = reinterpret_cast<std::uint64_t>(iov[i].iov_base);
      const std::uint64_t len = iov[i].iov_len;
      std::uint64_t end;
      if (__builtin_add_overflow(addr, len, &end) || addr < b.ubuf || end > b.ubuf + b.len || !len)
        ret = -EFAULT;
      else if (__builtin_add_overflow(sum, len, &sum))
        ret = -EOVERFLOW;
    }
    if (!ret && sum > core::kMaxRwCount) ret = -EINVAL;
  }
  if (!locked) ctx->uring_lock.unlock();
  *total = static_cast<std::int64_t>(sum);
  return ret;
}

}  // namespace iostack::uring
