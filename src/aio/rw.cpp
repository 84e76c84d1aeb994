// aio_prep_rw, aio_setup_rw and rw_verify_area (fs/aio.c, lib/iov_iter.c,
// fs/read_write.c): every check io_submit makes on a read or write.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>

#include "aio/ops.hpp"
#include "aio/rw_target.hpp"
#include "task/current.hpp"
#include "task/task_ioprio.hpp"

namespace iostack::aio {
namespace {

bool access_ok(std::uint64_t addr, std::uint64_t size) {
  const std::uint64_t end = addr + size;
  return end >= addr && end <= kUserPtrMax + 1 && addr <= kUserPtrMax;
}

// kiocb_set_rw_flags().
int set_rw_flags(AioKiocb* req, std::uint32_t flags, bool write, bool bdev) {
  if (flags == 0) return 0;
  if ((flags & ~kRwfSupported) != 0) return -EOPNOTSUPP;
  if ((flags & kRwfAppend) && (flags & kRwfNoappend)) return -EINVAL;
  if (flags & kRwfAtomic) {
    if (!write) return -EOPNOTSUPP;
    if (bdev) return -EOPNOTSUPP;  // iostack devices offer no atomic writes
  }
  if ((flags & kRwfDontcache) && bdev) return -EOPNOTSUPP;
  req->rw_flags = flags;
  return 0;
}

// import_ubuf() / __import_iovec(): the user's buffer(s), copied so the
// caller may reuse its iovec array as soon as io_submit returns.
int import_buffers(AioKiocb* req, const struct iocb& cb, bool vectored) {
  if (!vectored) {
    std::size_t len = cb.aio_nbytes;
    if (len > kMaxRwCount) len = kMaxRwCount;
    if (!access_ok(cb.aio_buf, len)) return -EFAULT;
    req->inline_vecs[0].iov_base = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cb.aio_buf));
    req->inline_vecs[0].iov_len = len;
    req->iov = req->inline_vecs;
    req->nr_segs = 1;
    return 0;
  }
  const std::uint64_t nr_segs = cb.aio_nbytes;
  if (nr_segs > static_cast<std::uint64_t>(kUioMaxIov)) return -EINVAL;
  req->nr_segs = static_cast<int>(nr_segs);
  req->iov = req->inline_vecs;
  if (nr_segs == 0) return 0;
  if (cb.aio_buf == 0 || !access_ok(cb.aio_buf, nr_segs * sizeof(struct iovec))) return -EFAULT;
  if (nr_segs > static_cast<std::uint64_t>(kUioFastIov)) {
    req->heap_vecs = new (std::nothrow) struct iovec[nr_segs];
    if (req->heap_vecs == nullptr) return -ENOMEM;
    req->iov = req->heap_vecs;
  }
  std::memcpy(req->iov, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(cb.aio_buf)),
              nr_segs * sizeof(struct iovec));
  for (std::uint64_t i = 0; i < nr_segs; ++i) {
    if (static_cast<std::int64_t>(req->iov[i].iov_len) < 0) return -EINVAL;
  }
  std::size_t total = 0;
  for (std::uint64_t i = 0; i < nr_segs; ++i) {
    std::size_t len = req->iov[i].iov_len;
    if (!access_ok(reinterpret_cast<std::uintptr_t>(req->iov[i].iov_base), len)) return -EFAULT;
    if (len > kMaxRwCount - total) {
      len = kMaxRwCount - total;
      req->iov[i].iov_len = len;
    }
    total += len;
  }
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
  if (int ret = set_rw_flags(req, cb.aio_rw_flags, write, f.bdev != nullptr); ret != 0) return ret;
  req->rw_flags &= ~kRwfHipri;  // nobody polls for AIO completions

  if (write ? !f.writable() : !f.readable()) return -EBADF;
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
    rw_issue_os(req, f.flags, batch);
  }
  return 0;
}

}  // namespace iostack::aio
