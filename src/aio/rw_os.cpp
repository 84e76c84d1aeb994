// Reads and writes of OS files, with the kernel's AIO semantics: buffered
// I/O completes inside io_submit; O_DIRECT I/O is asynchronous, carried by
// a worker that makes the blocking call.
#include <fcntl.h>
#include <sys/uio.h>

#include <cerrno>

#include "aio/complete.hpp"
#include "aio/rw_target.hpp"

namespace iostack::aio {
namespace {

// One preadv2/pwritev2: bytes moved or -errno (-EINTR included, which the
// kernel also reports in the event when a signal cuts an AIO short).
long os_rw(AioKiocb* req) {
  const int flags = static_cast<int>(req->rw_flags);
  for (;;) {
    const off_t off = req->stream ? -1 : static_cast<off_t>(req->pos);
    const ssize_t r = req->write ? ::pwritev2(req->fd, req->iov, req->nr_segs, off, flags)
                                 : ::preadv2(req->fd, req->iov, req->nr_segs, off, flags);
    if (r >= 0) return r;
    if (errno == ESPIPE && !req->stream) {
      // A pipe or socket: the kernel ignores the offset of stream files.
      req->stream = true;
      continue;
    }
    return -errno;
  }
}

void rw_work(AioWork* w) {
  auto* req = static_cast<AioKiocb*>(w->owner);
  aio_complete_rw(req, os_rw(req));
}

void punt(AioKiocb* req, AioWorkBatch* batch) {
  req->work.fn = rw_work;
  req->work.owner = req;
  batch->add(&req->work);
}

}  // namespace

void rw_issue_os(AioKiocb* req, int file_flags, AioWorkBatch* batch) {
  if ((file_flags & O_DIRECT) && !(req->rw_flags & kRwfNowait)) {
    // Direct I/O is the kernel's one truly asynchronous case: the bio is
    // queued and io_submit returns. Here a worker waits for it instead.
    punt(req, batch);
    return;
  }
  // Buffered I/O (and anything under RWF_NOWAIT) runs inside the kernel's
  // io_submit, in submission order, blocking the caller when it has to:
  // later iocbs of the batch see the effects of earlier ones. Same here.
  aio_complete_rw(req, os_rw(req));
}

}  // namespace iostack::aio
