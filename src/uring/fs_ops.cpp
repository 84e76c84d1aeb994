// File operations: FSYNC, SYNC_FILE_RANGE, FALLOCATE (io_uring/sync.c),
// FADVISE (advise.c), CLOSE (openclose.c) and STATX (statx.c).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "core/deferred_fput.hpp"
#include "core/fd_mode_cache.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "core/write_limit.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/ops.hpp"
#include "uring/path_file.hpp"

namespace iostack::uring {

namespace {

int done(IoKiocb* req, int ret) {
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// FSYNC, SYNC_FILE_RANGE, FALLOCATE and STATX set their result without
// marking the request failed: an error there does not break a link.
int done_keep_link(IoKiocb* req, int ret) {
  req_set_res(req, ret, 0);
  return kIouOk;
}

// The host call's -EBADF may mean the descriptor is not open, which the
// kernel finds before the op (io_assign_file) and which does break a link;
// fallocate's -EBADF of a file not open for writing is the op's own answer.
int done_keep_link_host(IoKiocb* req, int ret) {
  if (ret == -EBADF && file_refused(req)) return -EBADF;
  return done_keep_link(req, ret);
}

}  // namespace

// getname_flags (fs/namei.c): the path, copied into a new buffer at prep.
// -EFAULT, -ENOENT for an empty path unless `empty_ok`, -ENAMETOOLONG when
// no NUL comes within PATH_MAX bytes.
int getname(std::uint64_t uaddr, bool empty_ok, char** out) {
  char* buf = static_cast<char*>(std::malloc(PATH_MAX));
  if (!buf) return -ENOMEM;
  const long len = core::strncpy_from_user(buf, reinterpret_cast<const char*>(uaddr), PATH_MAX);
  int err = 0;
  if (len < 0)
    err = static_cast<int>(len);
  else if (len == 0 && !empty_ok)
    err = -ENOENT;
  else if (len == PATH_MAX)
    err = -ENAMETOOLONG;
  if (err) {
    std::free(buf);
    return err;
  }
  *out = buf;
  return 0;
}

// ---- FSYNC
int fsync_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->addr || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->sync.flags = sqe->fsync_flags;
  if (req->sync.flags & ~IORING_FSYNC_DATASYNC) return -EINVAL;
  req->sync.off = static_cast<std::int64_t>(sqe->off);
  req->sync.len = sqe->len;
  if (req->sync.off < 0) return -EINVAL;  // a range from a negative offset
  return 0;
}

int fsync_issue(IoKiocb* req, unsigned issue_flags) {
  if (req->bdev) {
    if (issue_flags & kIssueLocked)
      bdev_queue(req);
    else
      bdev_issue_now(req, false);
    return kIouIssueSkipComplete;
  }
  if (issue_flags & kIssueNonblock) return -EAGAIN;
  const int r =
      (req->sync.flags & IORING_FSYNC_DATASYNC) ? fdatasync(req->os_fd) : fsync(req->os_fd);
  int err = r < 0 ? -errno : 0;
  // vfs_fsync_range of an O_PATH file: no ->fsync (fuzz seed 1125548).
  if (err == -EBADF && is_fixed_path_file(req)) err = -EINVAL;
  return done_keep_link_host(req, err);
}

// ---- SYNC_FILE_RANGE
int sfr_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->addr || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->sync.off = static_cast<std::int64_t>(sqe->off);
  req->sync.len = sqe->len;
  req->sync.flags = sqe->sync_range_flags;
  return 0;
}

int sfr_issue(IoKiocb* req, unsigned issue_flags) {
  if (issue_flags & kIssueNonblock) return -EAGAIN;
  if (req->bdev) return done_keep_link(req, 0);  // nothing is cached above an iostack device
  const auto sync = [req](int fd) {
    return sync_file_range(fd, req->sync.off, req->sync.len, req->sync.flags) < 0 ? -errno : 0;
  };
  return done_keep_link_host(req, on_path_file(req, sync));
}

// ---- FALLOCATE
int fallocate_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->rw_flags || sqe->splice_fd_in) return -EINVAL;
  req->sync.off = static_cast<std::int64_t>(sqe->off);
  req->sync.len = static_cast<std::int64_t>(sqe->addr);
  req->sync.mode = static_cast<int>(sqe->len);
  return 0;
}

int fallocate_issue(IoKiocb* req, unsigned issue_flags) {
  if (issue_flags & kIssueNonblock) return -EAGAIN;
  if (req->bdev) return done_keep_link(req, -EOPNOTSUPP);
  if (!(req->sync.mode & FALLOC_FL_KEEP_SIZE) && req->sync.off >= 0 && req->sync.len > 0 &&
      req->sync.len <= INT64_MAX - req->sync.off) {
    if (const int err = core::size_limit_check(req->os_fd, req->sync.off + req->sync.len))
      return done_keep_link(req, err);
  }
  const auto alloc = [req](int fd) {
    return fallocate(fd, req->sync.mode, req->sync.off, req->sync.len) < 0 ? -errno : 0;
  };
  return done_keep_link_host(req, on_path_file(req, alloc));
}

// ---- FADVISE
namespace {
// Only the hints that only set a mode never block.
bool fadvise_is_cheap(int advice) {
  return advice == POSIX_FADV_NORMAL || advice == POSIX_FADV_RANDOM ||
         advice == POSIX_FADV_SEQUENTIAL;
}
}  // namespace

int fadvise_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->fadvise.off = static_cast<std::int64_t>(sqe->off);
  req->fadvise.len = static_cast<std::int64_t>(sqe->addr);
  if (!req->fadvise.len) req->fadvise.len = sqe->len;
  req->fadvise.advice = static_cast<int>(sqe->fadvise_advice);
  // io_fadvise_force_async: the others go straight to io-wq, whose worker
  // looks for their file (a CLOSE later in the batch comes first).
  if (!fadvise_is_cheap(req->fadvise.advice)) req->flags |= kReqForceAsync;
  return 0;
}

int fadvise_issue(IoKiocb* req, unsigned issue_flags) {
  const int advice = req->fadvise.advice;
  if (!fadvise_is_cheap(advice) && (issue_flags & kIssueNonblock)) return -EAGAIN;
  if (req->bdev) return done(req, advice >= 0 && advice <= POSIX_FADV_NOREUSE ? 0 : -EINVAL);
  const auto advise = [req, advice](int fd) {
    return -posix_fadvise(fd, req->fadvise.off, req->fadvise.len, advice);
  };
  return done(req, on_path_file(req, advise));
}

// ---- CLOSE
int close_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->off || sqe->addr || sqe->len || sqe->rw_flags || sqe->buf_index) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->close.fd = sqe->fd;
  req->close.file_slot = sqe->file_index;
  if (req->close.file_slot && req->close.fd) return -EINVAL;
  return 0;
}

// Takes uring_lock unless issue_flags say the caller holds it: conditional
// locking, which the analysis cannot follow.
int close_issue(IoKiocb* req, unsigned issue_flags) NO_THREAD_SAFETY_ANALYSIS {
  if (req->close.file_slot) {
    const unsigned slot = req->close.file_slot - 1;
    IoRingCtx* ctx = req->ctx;
    const bool locked = issue_flags & kIssueLocked;
    if (!locked) ctx->uring_lock.lock();
    int ret = -ENXIO;
    if (ctx->files_registered) {
      ret = -EINVAL;
      if (slot < ctx->files.size()) {
        ret = -EBADF;
        if (ctx->files[slot]) {
          file_slot_replace(ctx, slot, nullptr);
          ret = 0;
        }
      }
    }
    if (!locked) ctx->uring_lock.unlock();
    return done(req, ret);
  }
  const int fd = req->close.fd;
  // An io_uring cannot be closed through itself.
  if (is_ring_fd(fd)) return done(req, -EBADF);
  return done(req, core::close_fd_deferred(fd));
}

// ---- STATX
int statx_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->statx.dfd = sqe->fd;
  req->statx.mask = sqe->len;
  req->statx.flags = static_cast<int>(sqe->statx_flags);
  req->statx.buf = sqe->addr2;
  req->statx.path = nullptr;
  if (int ret = getname(sqe->addr, req->statx.flags & AT_EMPTY_PATH, &req->statx.path)) return ret;
  req->flags |= kReqCleanup | kReqForceAsync;  // the kernel always runs statx on io-wq
  return 0;
}

int statx_issue(IoKiocb* req, unsigned) {
  // The system call itself: glibc's wrapper declares the buffer non-null,
  // and a program's null buffer is the kernel's -EFAULT (after the lookup).
  const long r = syscall(SYS_statx, req->statx.dfd, req->statx.path, req->statx.flags,
                         req->statx.mask, reinterpret_cast<struct statx*>(req->statx.buf));
  return done_keep_link(req, r < 0 ? -errno : 0);
}

}  // namespace iostack::uring
