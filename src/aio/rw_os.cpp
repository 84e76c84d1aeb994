// Reads and writes of OS files. The submitter first tries the I/O with
// RWF_NOWAIT (a page-cache hit completes inline, as it would inside the
// kernel's io_submit); what would block -- O_DIRECT device I/O, cache misses,
// writes that must wait -- goes to a worker that makes the blocking call.
#include <fcntl.h>
#include <sys/uio.h>

#include <cerrno>

#include "aio/complete.hpp"
#include "aio/rw_target.hpp"

namespace iostack::aio {
namespace {

// One preadv2/pwritev2 of what is left of the request.
long os_rw_once(AioKiocb* req, std::uint32_t flags) {
  for (;;) {
    const off_t off = req->stream ? -1 : static_cast<off_t>(req->pos + req->done);
    const ssize_t r = req->write ? ::pwritev2(req->fd, req->iov, req->nr_segs, off, static_cast<int>(flags))
                                 : ::preadv2(req->fd, req->iov, req->nr_segs, off, static_cast<int>(flags));
    if (r >= 0) return r;
    if (errno == ESPIPE && !req->stream) {
      // A pipe or socket: the kernel ignores the offset of stream files.
      req->stream = true;
      continue;
    }
    if (errno == EINTR) continue;
    return -errno;
  }
}

// Drops the first `n` bytes of req->iov.
void iov_advance(AioKiocb* req, std::size_t n) {
  while (n > 0 && req->nr_segs > 0) {
    if (n < req->iov[0].iov_len) {
      req->iov[0].iov_base = static_cast<char*>(req->iov[0].iov_base) + n;
      req->iov[0].iov_len -= n;
      return;
    }
    n -= req->iov[0].iov_len;
    ++req->iov;
    --req->nr_segs;
  }
}

void finish(AioKiocb* req, long r) {
  long res;
  if (r < 0) {
    res = req->done > 0 ? req->done : r;
  } else {
    res = req->done + r;
  }
  aio_complete_rw(req, res);
}

void rw_work(AioWork* w) {
  auto* req = static_cast<AioKiocb*>(w->owner);
  finish(req, os_rw_once(req, req->rw_flags));
}

void punt(AioKiocb* req, AioWorkBatch* batch) {
  req->work.fn = rw_work;
  req->work.owner = req;
  batch->add(&req->work);
}

}  // namespace

void rw_issue_os(AioKiocb* req, int file_flags, AioWorkBatch* batch) {
  if (req->rw_flags & kRwfNowait) {
    // The caller asked not to wait: the answer, -EAGAIN included, is final.
    finish(req, os_rw_once(req, req->rw_flags));
    return;
  }
  if (file_flags & O_DIRECT) {
    // Direct I/O waits for the device even under RWF_NOWAIT.
    punt(req, batch);
    return;
  }
  const std::size_t total = iov_total(req);
  const long r = os_rw_once(req, req->rw_flags | kRwfNowait);
  if (r == -EAGAIN || r == -EOPNOTSUPP) {
    punt(req, batch);
    return;
  }
  if (r > 0 && static_cast<std::size_t>(r) < total && !req->stream) {
    // Part was cached: the rest may need the disk.
    req->done = r;
    iov_advance(req, static_cast<std::size_t>(r));
    punt(req, batch);
    return;
  }
  finish(req, r);
}

}  // namespace iostack::aio
