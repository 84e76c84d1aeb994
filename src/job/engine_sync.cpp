// ioengine=psync/sync/pvsync/pvsync2 on an iostack device.
#include "job/engine_sync.hpp"

#include <fcntl.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "job/types.hpp"
#include "job/virtual_time.hpp"

namespace iostack::job {

SyncEngine::~SyncEngine() {
  if (fd_ >= 0) block::bdev_file_close(fd_);
}

int SyncEngine::init(const EngineSetup& s, std::string* err) {
  fd_ = block::bdev_file_open(s.disk, O_RDWR | O_CLOEXEC | (s.direct ? O_DIRECT : 0));
  if (fd_ < 0) {
    *err = std::string("cannot open the device: ") + std::strerror(-fd_);
    return fd_;
  }
  file_ref_ = block::bdev_file_get(fd_);
  file_ = block::bdev_of(file_ref_);
  vt_ = s.vt;
  vt_id_ = s.vt_id;
  return 0;
}

void SyncEngine::end(void* priv, long res) {
  auto* self = static_cast<SyncEngine*>(priv);
  // Read before the store: once the waiter sees it, the engine may be gone.
  VirtualTime* const vt = self->vt_;
  const int vt_id = self->vt_id_;
  self->res_ = res;
  self->done_.store(1, std::memory_order_release);
  if (vt)
    vt->wake(vt_id);
  else
    self->done_.notify_one();
}

long SyncEngine::wait_result() {
  while (vt_ && done_.load(std::memory_order_acquire) == 0)
    if (!vt_->block(vt_id_)) return -EIO;  // nothing left that could complete it
  while (done_.load(std::memory_order_acquire) == 0) done_.wait(0, std::memory_order_acquire);
  return res_;
}

QueueResult SyncEngine::queue(IoUnit* u) {
  done_.store(0, std::memory_order_relaxed);
  io_.end = end;
  io_.priv = this;
  int r;
  if (u->ddir == kSync) {
    r = block::bdev_flush(file_, &io_);
  } else {
    struct iovec iov {
      u->buf, u->len
    };
    r = block::bdev_rw(file_, &io_, u->ddir == kWrite, &iov, 1,
                       static_cast<std::int64_t>(u->offset), 0, 0);
  }
  long res = r < 0 ? r : wait_result();
  if (res < 0)
    u->error = static_cast<int>(-res);
  else if (u->ddir != kSync && static_cast<std::uint64_t>(res) != u->len)
    u->error = EIO;
  return QueueResult::kCompleted;
}

}  // namespace iostack::job
