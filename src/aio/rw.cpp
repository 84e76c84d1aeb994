// aio_prep_rw, aio_setup_rw and rw_verify_area (fs/aio.c, lib/iov_iter.c,
// fs/read_write.c): every check io_submit makes on a read or write.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdint>
#include <new>

#include "aio/ops.hpp"
#include "aio/rw_target.hpp"
#include "core/eventfd_info.hpp"
#include "core/import_iovec.hpp"
#include "task/current.hpp"
#include "task/task_ioprio.hpp"

namespace iostack::aio {
namespace {

// Whether the file's operations have FOP_DONTCACHE: regular files of
// ext4, XFS and btrfs.
bool has_dontcache(int fd) {
  struct stat st;
  struct statfs sf;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ::fstatfs(fd, &sf) != 0) return false;
  return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
         sf.f_type == BTRFS_SUPER_MAGIC;
}

// kiocb_set_rw_flags().
int set_rw_flags(AioKiocb* req, std::uint32_t flags, bool write, const FileRef& f, int fd) {
  if (flags == 0) return 0;
  const bool bdev = f.bdev != nullptr;
  if ((flags & ~kRwfSupported) != 0) return -EOPNOTSUPP;
  if ((flags & kRwfAppend) && (flags & kRwfNoappend)) return -EINVAL;
  if (flags & kRwfAtomic) {
    if (!write) return -EOPNOTSUPP;
    if (bdev) return -EOPNOTSUPP;                   // iostack devices offer no atomic writes
    if (!(f.flags & O_DIRECT)) return -EOPNOTSUPP;  // FMODE_CAN_ATOMIC_WRITE needs O_DIRECT
  }
  // A directory has no FMODE_NOWAIT (nor anything else it could read).
  if ((flags & kRwfNowait) && (f.flags & O_DIRECTORY)) return -EOPNOTSUPP;
  if ((flags & kRwfDontcache) && (bdev || !has_dontcache(fd))) return -EOPNOTSUPP;
  req->rw_flags = flags;
  return 0;
}

// Files without O_LARGEFILE in their flags were not opened by open(2):
// pipes, sockets, eventfds and other anonymous inodes.
constexpr int kKernelOLargefile = 0100000;

// An eventfd has read_iter but no write_iter: AIO refuses to write it with
// -EINVAL. (A directory has no read_iter either: rw_issue_os finds that
// out from the read itself.)
bool lacks_write_iter(const FileRef& f, int fd) {
  if (f.bdev != nullptr || (f.flags & kKernelOLargefile)) return false;
  return core::is_eventfd(fd);
}

// aio_setup_rw(): import_ubuf() / __import_iovec(). The iovecs are copied,
// so the caller may reuse its array as soon as io_submit returns.
int import_buffers(AioKiocb* req, const struct iocb& cb, bool vectored) {
  void* buf = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cb.aio_buf));
  req->iov = req->inline_vecs;
  if (!vectored) {
    req->nr_segs = 1;
    const long len = core::import_ubuf(buf, cb.aio_nbytes, req->inline_vecs);
    return len < 0 ? static_cast<int>(len) : 0;
  }
  // __import_iovec takes the count as an unsigned int.
  const auto nr_segs = static_cast<unsigned>(cb.aio_nbytes);
  req->nr_segs = 0;
  if (nr_segs > static_cast<unsigned>(kUioFastIov) && nr_segs <= core::kUioMaxIov) {
    req->heap_vecs = new (std::nothrow) struct iovec[nr_segs];
    if (req->heap_vecs == nullptr) return -ENOMEM;
    req->iov = req->heap_vecs;
  }
  const long total = core::import_iovec(static_cast<const struct iovec*>(buf), nr_segs, req->iov);
  if (total < 0) return static_cast<int>(total);
  req->nr_segs = static_cast<int>(nr_segs);
  return 0;
}

}  // namespace

std::size_t iov_total(const AioKiocb* req) {
  std::size_t n = 0;
  for (int i = 0; i < req->nr_segs; ++i) n += req->iov[i].iov_len;
  return n;
}

int aio_rw(AioKiocb* req, const struct iocb& cb, const FileRef& f, bool write, bool vectored,
           AioWorkBatch* batch) {
  req->write = write;
  req->pos = cb.aio_offset;
  req->stream = false;
  req->rw_flags = 0;
  req->ioprio = 0;
  if (cb.aio_flags & IOCB_FLAG_IOPRIO) {
    if (int ret = task::ioprio_check_cap(task::current(), cb.aio_reqprio); ret != 0) return ret;
    req->ioprio = cb.aio_reqprio;
  }
  if (int ret = set_rw_flags(req, cb.aio_rw_flags, write, f, req->fd); ret != 0) return ret;
  req->rw_flags &= ~kRwfHipri;  // nobody polls for AIO completions

  if (write ? !f.writable() : !f.readable()) return -EBADF;
  if (write && lacks_write_iter(f, req->fd)) return -EINVAL;
  if (!write && (f.flags & O_DIRECTORY)) return -EINVAL;  // no read_iter
  if (int ret = import_buffers(req, cb, vectored); ret != 0) return ret;

  // rw_verify_area().
  const std::size_t count = iov_total(req);
  if (req->pos < 0) return -EINVAL;
  if (static_cast<std::int64_t>(static_cast<std::uint64_t>(req->pos) + count) < 0) return -EINVAL;

  if (f.bdev != nullptr) {
    req->bdev = f.bdev;
    f.bdev->get();
    req->bdev_ref = core::FileRef(f.bdev);
    rw_issue_bdev(req);
  } else {
    return rw_issue_os(req, f.flags, batch);
  }
  return 0;
}

}  // namespace iostack::aio
