// Path operations (io_uring/fs.c): RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT,
// LINKAT; and FTRUNCATE (truncate.c). Paths are copied at prep; the calls
// may block on the file system, so they always run on io-wq.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/uaccess.hpp"
#include "core/write_limit.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"
#include "uring/path_file.hpp"

namespace iostack::uring {

namespace {

// The path ops, MADVISE and FTRUNCATE set their result without failing the
// request (io_renameat .. io_linkat, io_madvise, io_ftruncate): an error
// there does not break a link (fuzz seeds 374 and 620 of the extended
// generator).
int done(IoKiocb* req, int r) {
  const int ret = r < 0 ? -errno : 0;
  req_set_res(req, ret, 0);
  return kIouOk;
}

void reset(IoKiocb* req) {
  req->fs = FsPathData{};
  req->fs.oldpath = nullptr;
  req->fs.newpath = nullptr;
}

// Both names, the second only when the first was good (as the kernel
// copies them); the request owns what was copied either way.
int two_names(IoKiocb* req, std::uint64_t oldf, bool old_empty_ok, std::uint64_t newf) {
  req->flags |= kReqCleanup;
  if (int ret = getname(oldf, old_empty_ok, &req->fs.oldpath)) return ret;
  return getname(newf, false, &req->fs.newpath);
}

}  // namespace

void fs_cleanup(IoKiocb* req) {
  std::free(req->fs.oldpath);
  std::free(req->fs.newpath);
  req->fs.oldpath = nullptr;
  req->fs.newpath = nullptr;
}

// ---- RENAMEAT
int renameat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  reset(req);
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->fs.old_dfd = sqe->fd;
  req->fs.new_dfd = static_cast<int>(sqe->len);
  req->fs.flags = static_cast<int>(sqe->rename_flags);
  if (int ret = two_names(req, sqe->addr, false, sqe->addr2)) return ret;
  req->flags |= kReqForceAsync;
  return 0;
}

int renameat_issue(IoKiocb* req, unsigned) {
  const FsPathData& f = req->fs;
  return done(
      req, renameat2(f.old_dfd, f.oldpath, f.new_dfd, f.newpath, static_cast<unsigned>(f.flags)));
}

// ---- UNLINKAT
int unlinkat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  reset(req);
  if (sqe->off || sqe->len || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->fs.old_dfd = sqe->fd;
  req->fs.flags = static_cast<int>(sqe->unlink_flags);
  if (req->fs.flags & ~AT_REMOVEDIR) return -EINVAL;
  req->flags |= kReqCleanup;
  if (int ret = getname(sqe->addr, false, &req->fs.oldpath)) return ret;
  req->flags |= kReqForceAsync;
  return 0;
}

int unlinkat_issue(IoKiocb* req, unsigned) {
  return done(req, unlinkat(req->fs.old_dfd, req->fs.oldpath, req->fs.flags));
}

// ---- MKDIRAT
int mkdirat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  reset(req);
  if (sqe->off || sqe->rw_flags || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->fs.old_dfd = sqe->fd;
  req->fs.mode = sqe->len;
  req->flags |= kReqCleanup;
  if (int ret = getname(sqe->addr, false, &req->fs.oldpath)) return ret;
  req->flags |= kReqForceAsync;
  return 0;
}

int mkdirat_issue(IoKiocb* req, unsigned) {
  return done(req, mkdirat(req->fs.old_dfd, req->fs.oldpath, req->fs.mode));
}

// ---- SYMLINKAT
int symlinkat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  reset(req);
  if (sqe->len || sqe->rw_flags || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->fs.new_dfd = sqe->fd;
  if (int ret = two_names(req, sqe->addr, false, sqe->addr2)) return ret;
  req->flags |= kReqForceAsync;
  return 0;
}

int symlinkat_issue(IoKiocb* req, unsigned) {
  return done(req, symlinkat(req->fs.oldpath, req->fs.new_dfd, req->fs.newpath));
}

// ---- LINKAT
int linkat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  reset(req);
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  req->fs.old_dfd = sqe->fd;
  req->fs.new_dfd = static_cast<int>(sqe->len);
  req->fs.flags = static_cast<int>(sqe->hardlink_flags);
  // getname_uflags: AT_EMPTY_PATH allows an empty old name.
  if (int ret = two_names(req, sqe->addr, req->fs.flags & AT_EMPTY_PATH, sqe->addr2)) return ret;
  req->flags |= kReqForceAsync;
  return 0;
}

int linkat_issue(IoKiocb* req, unsigned) {
  const FsPathData& f = req->fs;
  return done(req, linkat(f.old_dfd, f.oldpath, f.new_dfd, f.newpath, f.flags));
}

// ---- MADVISE (io_uring/advise.c)
int madvise_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->madvise.addr = sqe->addr;
  req->madvise.len = sqe->len;
  req->madvise.advice = static_cast<int>(sqe->fadvise_advice);
  req->flags |= kReqForceAsync;
  return 0;
}

int madvise_issue(IoKiocb* req, unsigned) {
  const MadviseData& m = req->madvise;
  return done(req, ::madvise(reinterpret_cast<void*>(m.addr), m.len, m.advice));
}

// ---- FTRUNCATE (io_uring/truncate.c)
int ftruncate_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->rw_flags || sqe->addr || sqe->len || sqe->buf_index || sqe->splice_fd_in || sqe->addr3)
    return -EINVAL;
  req->sync.len = static_cast<std::int64_t>(sqe->off);
  req->flags |= kReqForceAsync;
  return 0;
}

int ftruncate_issue(IoKiocb* req, unsigned) {
  if (req->bdev) {
    errno = EINVAL;
    return done(req, -1);
  }
  if (req->sync.len >= 0) {
    if (const int err = core::size_limit_check(req->os_fd, req->sync.len)) {
      req_set_res(req, err, 0);
      return kIouOk;
    }
  }
  // A descriptor that names nothing failed io_assign_file on the worker,
  // which does break the link.
  if (file_refused(req)) return -EBADF;
  const auto truncate = [req](int fd) { return ftruncate(fd, req->sync.len) < 0 ? -errno : 0; };
  req_set_res(req, on_path_file(req, truncate), 0);
  return kIouOk;
}

}  // namespace iostack::uring
