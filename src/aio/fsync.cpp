// IOCB_CMD_FSYNC / FDSYNC (fs/aio.c aio_fsync): always asynchronous, as the
// kernel hands them to a workqueue.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "aio/complete.hpp"
#include "aio/ops.hpp"
#include "core/held_file.hpp"

namespace iostack::aio {
namespace {

void fsync_work(AioWork* w) {
  auto* req = static_cast<AioKiocb*>(w->owner);
  const int r = req->opcode == IOCB_CMD_FDSYNC ? ::fdatasync(req->fd) : ::fsync(req->fd);
  const long res = r < 0 ? -errno : 0;
  req->held_file.reset();
  req->fd = -1;
  aio_wq_completing();
  aio_complete_rw(req, res);
}

void bdev_flush_end_io(void* priv, long res) {
  aio_complete_rw(static_cast<AioKiocb*>(priv), res < 0 ? res : 0);
}

// Whether the file has an fsync method: regular files, directories and
// block devices do; pipes, sockets, character devices and anonymous inodes
// (eventfd, epoll, ...) do not.
bool has_fsync(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode);
}

}  // namespace

int aio_fsync(AioKiocb* req, const struct iocb& cb, const FileRef& f, bool datasync,
              AioWorkBatch* batch) {
  if (cb.aio_buf || cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags) return -EINVAL;
  if (f.bdev != nullptr) {
    block::BdevIo& io = req->bdev_io;
    io.reset(bdev_flush_end_io, req);
    f.bdev->get();
    req->bdev_ref = core::FileRef(f.bdev);
    if (int r = block::bdev_flush(f.bdev, &io); r < 0) aio_complete_rw(req, r);
    return 0;
  }
  if (!has_fsync(req->fd)) return -EINVAL;
  if (!req->held_file && core::file_hold(req->fd, &req->held_file) < 0) {
    // No descriptor to spare: sync here, blocking the submitter.
    const int r = datasync ? ::fdatasync(req->fd) : ::fsync(req->fd);
    aio_complete_rw(req, r < 0 ? -errno : 0);
    return 0;
  }
  req->fd = core::held_fd(req->held_file);
  req->work.fn = fsync_work;
  req->work.owner = req;
  req->work.quick = false;
  req->work.submitter = 0;
  batch->add(&req->work);
  return 0;
}

}  // namespace iostack::aio
