// Registered files and buffers (io_uring/rsrc.c, filetable.c): tables,
// updates with resource tags, and the FILES_UPDATE opcode.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "core/held_file.hpp"
#include "core/import_iovec.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/ops.hpp"
#include "uring/submit_lock.hpp"

namespace iostack::uring {

void file_node_put(FileNode* n) {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    n->held.reset();
    if (n->tag) post_aux_cqe(n->ctx, n->tag, 0, 0);
    delete n;
  }
}

void buf_node_put(BufNode* n) {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (n->tag) post_aux_cqe(n->ctx, n->tag, 0, 0);
    delete n;
  }
}

namespace {

// One slot: -1 leaves it empty (IORING_REGISTER_FILES_SKIP means something
// only to an update: at registration it is a bad descriptor); an io_uring fd
// cannot be registered.
int make_node(IoRingCtx* ctx, int fd, FileNode** out) {
  *out = nullptr;
  if (fd == -1) return 0;
  if (ring_file_get(fd)) return -EBADF;
  // A fixed slot holds a file, not a descriptor.
  core::FileRef held;
  if (core::file_hold(fd, &held) < 0) return -EBADF;
  auto* n = new FileNode;
  n->fd = core::held_fd(held);
  n->held = std::move(held);
  n->ctx = ctx;
  n->bdev_ref = block::bdev_file_get(fd);
  n->bdev = block::bdev_of(n->bdev_ref);
  *out = n;
  return 0;
}

// io_rsrc_data_free: the last slot first, as the kernel frees them (the
// order of the tag CQEs).
void drop_files(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  for (std::size_t i = ctx->files.size(); i-- > 0;) {
    if (FileNode* n = ctx->files[i]) file_node_put(n);
    ctx->files[i] = nullptr;
  }
  ctx->files.clear();
  ctx->files_registered = false;
}

void drop_bufs(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  for (std::size_t i = ctx->bufs.size(); i-- > 0;)
    if (BufNode* n = ctx->bufs[i]) buf_node_put(n);
  ctx->bufs.clear();
  ctx->bufs_registered = false;
}

int get_tag(const void* tags, unsigned i, std::uint64_t* tag) {
  *tag = 0;
  if (!tags) return 0;
  return core::get_user(*tag, static_cast<const std::uint64_t*>(tags) + i) ? -EFAULT : 0;
}

// __io_sqe_files_update: slot by slot; a slot is emptied before its new
// descriptor is looked up, so a bad one leaves it empty.
int files_update(IoRingCtx* ctx, std::uint32_t offset, const int* fds, const void* tags,
                 unsigned nr) REQUIRES(ctx->uring_lock) {
  if (!ctx->files_registered) return -ENXIO;
  if (std::uint64_t{offset} + nr > ctx->files.size()) return -EINVAL;
  unsigned done = 0;
  int err = 0;
  for (; done < nr; ++done) {
    std::uint64_t tag;
    int fd;
    if (get_tag(tags, done, &tag) || core::get_user(fd, &fds[done])) {
      err = -EFAULT;
      break;
    }
    if ((fd == IORING_REGISTER_FILES_SKIP || fd == -1) && tag) {
      err = -EINVAL;
      break;
    }
    if (fd == IORING_REGISTER_FILES_SKIP) continue;
    file_slot_replace(ctx, offset + done, nullptr);
    if (fd != -1) {
      if (fd < 0) {
        err = -EBADF;
        break;
      }
      FileNode* n = nullptr;
      err = make_node(ctx, fd, &n);
      if (err) break;
      n->tag = tag;
      file_slot_replace(ctx, offset + done, n);
    }
  }
  return done ? static_cast<int>(done) : err;
}

// io_buffer_validate, then the pinning (for writing, so read-only memory
// is refused too). A null base with no length is an empty slot.
int validate_buf(const struct iovec& v) {
  if (!v.iov_base) return v.iov_len ? -EFAULT : 0;
  if (!v.iov_len || v.iov_len > (1ull << 30)) return -EFAULT;
  std::uint64_t end;
  if (__builtin_add_overflow(reinterpret_cast<std::uint64_t>(v.iov_base), v.iov_len + 4095, &end))
    return -EOVERFLOW;
  return 0;
}

// A node for a buffer, null for an empty slot.
int make_buf(IoRingCtx* ctx, const struct iovec& v, BufNode** out) {
  *out = nullptr;
  if (const int err = validate_buf(v)) return err;
  if (!v.iov_base) return 0;
  if (core::fault_in_writeable(v.iov_base, v.iov_len)) return -EFAULT;
  if (!longterm_pin_allowed(v.iov_base, v.iov_len)) return -EFAULT;
  auto* n = new BufNode;
  n->ubuf = reinterpret_cast<std::uint64_t>(v.iov_base);
  n->len = v.iov_len;
  n->ctx = ctx;
  *out = n;
  return 0;
}

// __io_sqe_buffers_update
int buffers_update(IoRingCtx* ctx, std::uint32_t offset, std::uint64_t data, const void* tags,
                   unsigned nr) REQUIRES(ctx->uring_lock) {
  if (!ctx->bufs_registered) return -ENXIO;
  if (std::uint64_t{offset} + nr > ctx->bufs.size()) return -EINVAL;
  unsigned done = 0;
  int err = 0;
  for (; done < nr; ++done) {
    struct iovec v;
    err = core::iovec_from_user(reinterpret_cast<const struct iovec*>(data), 1, &v);
    if (err) break;
    std::uint64_t tag;
    if ((err = get_tag(tags, done, &tag))) break;
    BufNode* b;
    if ((err = make_buf(ctx, v, &b))) break;
    if (tag && !b) {
      err = -EINVAL;
      break;
    }
    if (b) b->tag = tag;
    BufNode*& slot = ctx->bufs[offset + done];
    if (slot) buf_node_put(slot);
    slot = b;
    data += sizeof(struct iovec);
  }
  return done ? static_cast<int>(done) : err;
}

}  // namespace

int register_files(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags) {
  if (ctx->files_registered) return -EBUSY;
  if (!nr) return -EINVAL;
  if (nr > kMaxFixedFiles) return -EMFILE;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (nr > rl.rlim_cur) return -EMFILE;
  const auto* fds = static_cast<const int*>(arg);
  ctx->files.assign(nr, nullptr);
  ctx->files_registered = true;
  for (unsigned i = 0; i < nr; ++i) {
    std::uint64_t tag;
    int fd = -1;
    int ret = get_tag(tags, i, &tag);
    if (!ret && fds && core::get_user(fd, &fds[i])) ret = -EFAULT;
    if (!ret && fd == -1 && tag) ret = -EINVAL;
    if (!ret) ret = make_node(ctx, fd, &ctx->files[i]);
    if (ret) {
      // What was registered goes again, without tag CQEs (as the kernel).
      for (FileNode* n : ctx->files)
        if (n) n->tag = 0;
      drop_files(ctx);
      return ret;
    }
    if (ctx->files[i]) ctx->files[i]->tag = tag;
  }
  return 0;
}

// The kernel's table belongs to the ring, which a forked child reaches too.
// Here each process has its own ring object, so the child's starts with the
// parent's slots as the fork found them, each naming the child's copy of the
// parent's descriptor (the same open file); no tag (the parent's table posts
// it). Updates made after the fork stay in the process that made them.
void files_inherit(IoRingCtx* child, IoRingCtx* parent) NO_THREAD_SAFETY_ANALYSIS {
  if (!parent->files_registered) return;
  child->files.assign(parent->files.size(), nullptr);
  child->files_registered = true;
  for (std::size_t i = 0; i < parent->files.size(); ++i) {
    const FileNode* p = parent->files[i];
    if (!p || p->fd < 0) continue;
    auto* n = new FileNode;
    n->held = core::held_file_after_fork(p->held);
    n->fd = core::held_fd(n->held);
    n->ctx = child;
    n->bdev_ref = block::bdev_file_get(n->fd);
    n->bdev = block::bdev_of(n->bdev_ref);
    child->files[i] = n;
  }
  child->file_alloc_start = parent->file_alloc_start;
  child->file_alloc_end = parent->file_alloc_end;
  child->file_alloc_hint = parent->file_alloc_hint;
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
  std::uint32_t end;
  if (__builtin_add_overflow(up.offset, nr, &end)) return -EOVERFLOW;
  return files_update(ctx, up.offset,
                      reinterpret_cast<const int*>(static_cast<std::uintptr_t>(up.fds)), nullptr,
                      nr);
}

int register_rsrc_update(IoRingCtx* ctx, void* arg, unsigned size, bool files) {
  io_uring_rsrc_update2 up;
  if (size != sizeof(up)) return -EINVAL;
  if (core::copy_from_user(&up, arg, sizeof(up))) return -EFAULT;
  if (!up.nr || up.resv || up.resv2) return -EINVAL;
  std::uint32_t end;
  if (__builtin_add_overflow(up.offset, up.nr, &end)) return -EOVERFLOW;
  const void* tags = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(up.tags));
  if (files)
    return files_update(ctx, up.offset,
                        reinterpret_cast<const int*>(static_cast<std::uintptr_t>(up.data)), tags,
                        up.nr);
  return buffers_update(ctx, up.offset, up.data, tags, up.nr);
}

int register_rsrc(IoRingCtx* ctx, void* arg, unsigned size, bool files) {
  io_uring_rsrc_register rr{};
  if (size != sizeof(rr)) return -EINVAL;
  if (core::copy_from_user(&rr, arg, size)) return -EFAULT;
  if (!rr.nr || rr.resv2) return -EINVAL;
  if (rr.flags & ~IORING_RSRC_REGISTER_SPARSE) return -EINVAL;
  if ((rr.flags & IORING_RSRC_REGISTER_SPARSE) && rr.data) return -EINVAL;
  const void* data = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(rr.data));
  const void* tags = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(rr.tags));
  if (files) {
    if (!(rr.flags & IORING_RSRC_REGISTER_SPARSE) && !rr.data) return -EFAULT;
    return register_files(ctx, data, rr.nr, tags);
  }
  return register_buffers(ctx, data, rr.nr, tags);
}

void rsrc_drop_tags(IoRingCtx* ctx) {
  for (FileNode* n : ctx->files)
    if (n) n->tag = 0;
  for (BufNode* b : ctx->bufs)
    if (b) b->tag = 0;
}

// ---- IORING_OP_FILES_UPDATE (io_files_update_prep, io_files_update)
int files_update_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (req->flags & (kReqFixedFile | kReqBufferSelect)) return -EINVAL;
  if (sqe->rw_flags || sqe->splice_fd_in) return -EINVAL;
  RsrcUpdateData& up = req->rsrc_up;
  up.offset = static_cast<std::uint32_t>(sqe->off);
  up.nr = sqe->len;
  if (!up.nr) return -EINVAL;
  up.arg = sqe->addr;
  return 0;
}

namespace {

// io_files_update_with_index_alloc: each descriptor into a free slot, whose
// index is written back over it.
int files_update_alloc(IoKiocb* req, unsigned issue_flags) {
  IoRingCtx* ctx = req->ctx;
  RsrcUpdateData& up = req->rsrc_up;
  auto* fds = reinterpret_cast<int*>(static_cast<std::uintptr_t>(up.arg));
  const bool locked = issue_flags & kIssueLocked;
  {
    RingSubmitLock lock(ctx, locked);
    if (!ctx->files_registered) return -ENXIO;
  }
  unsigned done = 0;
  int ret = 0;
  for (; done < up.nr; ++done) {
    int fd;
    if (core::get_user(fd, &fds[done])) {
      ret = -EFAULT;
      break;
    }
    core::FileRef held;
    if (fd < 0 || ring_file_get(fd) || core::file_hold(fd, &held) < 0) {
      ret = -EBADF;
      break;
    }
    ret = fixed_fd_install(ctx, issue_flags, std::move(held), IORING_FILE_INDEX_ALLOC);
    if (ret < 0) break;
    if (core::put_user(ret, &fds[done])) {
      // __io_close_fixed: the slot goes again.
      RingSubmitLock lock(ctx, locked);
      file_slot_replace(ctx, static_cast<unsigned>(ret), nullptr);
      ret = -EFAULT;
      break;
    }
  }
  return done ? static_cast<int>(done) : ret;
}

}  // namespace

int files_update_issue(IoKiocb* req, unsigned issue_flags) {
  RsrcUpdateData& up = req->rsrc_up;
  int ret;
  if (up.offset == IORING_FILE_INDEX_ALLOC) {
    ret = files_update_alloc(req, issue_flags);
  } else {
    IoRingCtx* ctx = req->ctx;
    RingSubmitLock lock(ctx, issue_flags & kIssueLocked);
    std::uint32_t end;
    if (__builtin_add_overflow(up.offset, up.nr, &end))
      ret = -EOVERFLOW;
    else
      ret = files_update(ctx, up.offset,
                         reinterpret_cast<const int*>(static_cast<std::uintptr_t>(up.arg)), nullptr,
                         up.nr);
  }
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

FileNode* fixed_file_get(IoRingCtx* ctx, unsigned index, bool locked) {
  RingSubmitLock lock(ctx, locked);
  FileNode* n = nullptr;
  if (index < ctx->files.size()) n = ctx->files[index];
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
  return n;
}

int register_buffers(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags) {
  if (ctx->bufs_registered) return -EBUSY;
  if (!nr || nr > kMaxRegBuffers) return -EINVAL;
  const auto* iov = static_cast<const struct iovec*>(arg);
  ctx->bufs.assign(nr, nullptr);
  ctx->bufs_registered = true;
  for (unsigned i = 0; i < nr; ++i) {
    struct iovec v {};
    int ret = 0;
    if (iov) {
      ret = core::iovec_from_user(&iov[i], 1, &v);
      if (!ret) ret = validate_buf(v);  // before the tag is read
    }
    std::uint64_t tag = 0;
    if (!ret) ret = get_tag(tags, i, &tag);
    BufNode* b = nullptr;
    if (!ret) ret = make_buf(ctx, v, &b);
    if (!ret && tag && !b) ret = -EINVAL;
    if (ret) {
      for (BufNode* mb : ctx->bufs)
        if (mb) mb->tag = 0;
      drop_bufs(ctx);
      return ret;
    }
    if (b) b->tag = tag;
    ctx->bufs[i] = b;
  }
  return 0;
}

int unregister_buffers(IoRingCtx* ctx) {
  if (!ctx->bufs_registered) return -ENXIO;
  drop_bufs(ctx);
  return 0;
}

bool fixed_buf_exists(IoRingCtx* ctx, unsigned index, bool locked) {
  RingSubmitLock lock(ctx, locked);
  return index < ctx->bufs.size() && ctx->bufs[index];
}

namespace {

// io_find_buf_node: the request's node if it holds one, else the table's,
// which it then holds.
BufNode* find_buf_node(IoRingCtx* ctx, unsigned index, BufNode** node) REQUIRES(ctx->uring_lock) {
  if (node && *node) return *node;
  BufNode* n = index < ctx->bufs.size() ? ctx->bufs[index] : nullptr;
  if (n && node) {
    n->refs.fetch_add(1, std::memory_order_relaxed);
    *node = n;
  }
  return n;
}

}  // namespace

int fixed_buf_check(IoRingCtx* ctx, unsigned index, std::uint64_t addr, std::uint64_t len,
                    bool locked, BufNode** node) {
  RingSubmitLock lock(ctx, locked);
  int ret = -EFAULT;
  if (const BufNode* b = find_buf_node(ctx, index, node)) {
    std::uint64_t end;
    if (!__builtin_add_overflow(addr, len, &end) && addr >= b->ubuf && end <= b->ubuf + b->len)
      ret = 0;
  }
  return ret;
}

int fixed_buf_check_vec(IoRingCtx* ctx, unsigned index, const struct iovec* iov, int nr,
                        std::int64_t* total, bool locked, BufNode** node) {
  int ret = -EFAULT;
  std::uint64_t sum = 0;
  RingSubmitLock lock(ctx, locked);
  if (const BufNode* bn = find_buf_node(ctx, index, node)) {
    const BufNode& b = *bn;
    ret = 0;
    // io_estimate_bvec_size, then the bio_vec array's allocation (at most
    // kmalloc's 4 MiB), before any segment is looked at.
    std::uint64_t max_segs = 0;
    for (int i = 0; i < nr && !ret; ++i) {
      max_segs += (iov[i].iov_len >> 12) + 2;
      if (max_segs > INT_MAX) ret = -EOVERFLOW;
    }
    if (!ret && max_segs * 16 > (4u << 20)) ret = -ENOMEM;
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
  *total = static_cast<std::int64_t>(sum);
  return ret;
}

}  // namespace iostack::uring
