// Reads and writes of iostack block devices: straight into the block layer
// (blkdev_direct_IO), completing from the device's end_io.
#include "aio/complete.hpp"
#include "aio/rw_target.hpp"

namespace iostack::aio {
namespace {

// RWF_APPEND and RWF_NOAPPEND matter to a file's data (BdevInode).
constexpr std::uint32_t kBdevRwFlags =
    kRwfDsync | kRwfSync | kRwfNowait | kRwfAppend | kRwfNoappend;

void bdev_end_io(void* priv, long res) { aio_complete_rw(static_cast<AioKiocb*>(priv), res); }

}  // namespace

void rw_issue_bdev(AioKiocb* req) {
  block::BdevIo& io = req->bdev_io;
  io.reset(bdev_end_io, req);
  const int r = block::bdev_rw(req->bdev, &io, req->write, req->iov, req->nr_segs, req->pos,
                               req->rw_flags & kBdevRwFlags, req->ioprio);
  // Nothing submitted: the error is the I/O's result, as when read_iter
  // fails before queueing anything.
  if (r < 0) aio_complete_rw(req, r);
}

}  // namespace iostack::aio
