// Direct descriptors (io_uring/filetable.c): slot allocation within the
// range IORING_REGISTER_FILE_ALLOC_RANGE sets, and installing a descriptor
// made by an op into a slot.
#include "uring/filetable.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/fd_high.hpp"
#include "core/held_file.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"
#include "uring/submit_lock.hpp"

namespace iostack::uring {

namespace {

// io_file_bitmap_get: the first free slot from the hint to the end of the
// range, then from the start of the range.
int alloc_slot(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  if (!ctx->files_registered) return -ENFILE;
  const std::uint32_t nr = static_cast<std::uint32_t>(ctx->files.size());
  std::uint32_t start = ctx->file_alloc_start;
  std::uint32_t end = ctx->file_alloc_end ? ctx->file_alloc_end : nr;
  if (end > nr) end = nr;
  std::uint32_t hint = ctx->file_alloc_hint;
  if (hint < start || hint >= end) hint = start;
  for (std::uint32_t i = hint; i < end; ++i)
    if (!ctx->files[i]) return static_cast<int>(i);
  for (std::uint32_t i = start; i < hint; ++i)
    if (!ctx->files[i]) return static_cast<int>(i);
  return -ENFILE;
}

}  // namespace

int fixed_fd_install(IoRingCtx* ctx, unsigned issue_flags, int fd, std::uint32_t file_slot) {
  // Moved high: a direct descriptor takes no number of the program's (a
  // SOCKET into a slot took the lowest free one, fuzz seed 196020).
  return fixed_fd_install(ctx, issue_flags, core::held_file_adopt(core::move_high(fd)), file_slot);
}

int fixed_fd_install(IoRingCtx* ctx, unsigned issue_flags, core::FileRef held,
                     std::uint32_t file_slot) {
  const bool alloc = file_slot == IORING_FILE_INDEX_ALLOC;
  int ret = 0;
  {
    RingSubmitLock lock(ctx, issue_flags & kIssueLocked);
    std::uint32_t slot = file_slot - 1;
    if (alloc) {
      ret = alloc_slot(ctx);
      if (ret >= 0) slot = static_cast<std::uint32_t>(ret);
    }
    if (ret >= 0) {
      if (!ctx->files_registered)
        ret = -ENXIO;
      else if (slot >= ctx->files.size())
        ret = -EINVAL;
    }
    if (ret >= 0) {
      auto* n = new FileNode;
      n->fd = core::held_fd(held);
      n->held = std::move(held);
      n->bdev_ref = block::bdev_file_get(n->fd);
      n->bdev = block::bdev_of(n->bdev_ref);
      file_slot_replace(ctx, slot, n);
      ret = alloc ? static_cast<int>(slot) : 0;
    }
  }
  return ret;
}

void file_slot_replace(IoRingCtx* ctx, unsigned slot, FileNode* n) {
  if (FileNode* old = ctx->files[slot]) {
    ctx->files[slot] = nullptr;
    ctx->file_alloc_hint = slot;
    file_node_put(old);
  }
  if (n) {
    ctx->files[slot] = n;
    ctx->file_alloc_hint = slot + 1;
  }
}

int register_file_alloc_range(IoRingCtx* ctx, void* arg) {
  io_uring_file_index_range range;
  if (core::copy_from_user(&range, arg, sizeof(range))) return -EFAULT;
  std::uint32_t end;  // 32 bits, as the kernel adds them
  if (__builtin_add_overflow(range.off, range.len, &end)) return -EOVERFLOW;
  if (range.resv || end > ctx->files.size()) return -EINVAL;
  ctx->file_alloc_start = range.off;
  ctx->file_alloc_end = end;
  ctx->file_alloc_hint = range.off;
  return 0;
}

// ---- IORING_OP_FIXED_FD_INSTALL (io_uring/openclose.c): a direct
// descriptor becomes a regular one of the process.
int fixed_fd_install_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->off || sqe->addr || sqe->len || sqe->buf_index || sqe->splice_fd_in || sqe->addr3)
    return -EINVAL;
  if (!(req->flags & kReqFixedFile)) return -EBADF;
  const unsigned flags = sqe->rw_flags;     // install_fd_flags
  constexpr unsigned kNoCloexec = 1u << 0;  // IORING_FIXED_FD_NO_CLOEXEC
  if (flags & ~kNoCloexec) return -EINVAL;
  // The descriptor goes to the task's own table: not under a personality.
  if (req->creds) return -EPERM;
  req->install.o_flags = (flags & kNoCloexec) ? 0 : O_CLOEXEC;
  return 0;
}

int fixed_fd_install_issue(IoKiocb* req, unsigned) {
  const int fd = fcntl(req->os_fd, req->install.o_flags ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
  const int ret = fd < 0 ? -errno : fd;
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
