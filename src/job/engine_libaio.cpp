#include "job/engine_libaio.hpp"

#include <fcntl.h>

#include <cstring>
#include <thread>

#include "block/bdev_file.hpp"
#include "iostack/aio.h"
#include "job/types.hpp"

namespace iostack::job {

LibaioEngine::~LibaioEngine() {
  if (ctx_) iostack_io_destroy(ctx_);
  if (fd_ >= 0) block::bdev_file_close(fd_);
}

int LibaioEngine::init(const EngineSetup& s, std::string* err) {
  fd_ = block::bdev_file_open(s.disk, O_RDWR | O_CLOEXEC | (s.direct ? O_DIRECT : 0));
  if (fd_ < 0) {
    *err = std::string("cannot open the device: ") + std::strerror(-fd_);
    return fd_;
  }
  const int r = iostack_io_setup(s.nr_units, &ctx_);
  if (r < 0) {
    ctx_ = 0;
    *err = std::string("io_setup: ") + std::strerror(-r);
    return r;
  }
  iocbs_.resize(s.nr_units);
  units_.assign(s.nr_units, nullptr);
  pending_.reserve(s.nr_units);
  events_.resize(s.nr_units);
  return 0;
}

QueueResult LibaioEngine::queue(IoUnit* u) {
  struct iocb* cb = &iocbs_[u->index];
  std::memset(cb, 0, sizeof *cb);
  cb->aio_fildes = static_cast<std::uint32_t>(fd_);
  cb->aio_data = u->index;
  if (u->ddir == kSync) {
    cb->aio_lio_opcode = IOCB_CMD_FDSYNC;
  } else {
    cb->aio_lio_opcode = u->ddir == kWrite ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    cb->aio_buf = reinterpret_cast<std::uint64_t>(u->buf);
    cb->aio_nbytes = u->len;
    cb->aio_offset = static_cast<std::int64_t>(u->offset);
  }
  units_[u->index] = u;
  pending_.push_back(cb);
  return QueueResult::kQueued;
}

void LibaioEngine::fail_unsubmitted(std::size_t from, long err) {
  for (std::size_t i = from; i < pending_.size(); ++i) {
    IoUnit* u = units_[pending_[i]->aio_data];
    u->error = static_cast<int>(-err);
    failed_.push_back(u);
  }
}

void LibaioEngine::commit() {
  std::size_t done = 0;
  while (done < pending_.size()) {
    const long r =
        iostack_io_submit(ctx_, static_cast<long>(pending_.size() - done), pending_.data() + done);
    if (r > 0) {
      done += static_cast<std::size_t>(r);
    } else if (r == -EAGAIN || r == 0) {
      std::this_thread::yield();  // the ring is full for now; as fio retries
    } else {
      fail_unsubmitted(done, r);
      break;
    }
  }
  pending_.clear();
}

unsigned LibaioEngine::getevents(unsigned min, unsigned max, IoUnit** out) {
  unsigned n = 0;
  while (n < max && !failed_.empty()) {
    out[n++] = failed_.back();
    failed_.pop_back();
  }
  while (n < min || (n == 0 && min == 0)) {
    const long want_min = n >= min ? 0 : static_cast<long>(min - n);
    struct timespec zero {};
    const long r = iostack_io_getevents(ctx_, want_min, static_cast<long>(max - n), events_.data(),
                                        want_min ? nullptr : &zero);
    if (r == -EINTR) continue;
    if (r <= 0) break;
    for (long i = 0; i < r; ++i) {
      IoUnit* u = units_[events_[i].data];
      const long res = events_[i].res;
      if (res < 0)
        u->error = static_cast<int>(-res);
      else if (u->ddir != kSync && static_cast<std::uint64_t>(res) != u->len)
        u->error = EIO;
      out[n++] = u;
    }
    if (min == 0) break;
  }
  return n;
}

}  // namespace iostack::job
