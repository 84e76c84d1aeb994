// ioengine=libaio over iostack's AIO.
#include "job/engine_libaio.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>

#include "block/bdev_file.hpp"
#include "iostack/aio.h"
#include "job/job_options.hpp"
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
  userspace_reap_ = s.opts->userspace_reap;
  batch_min_zero_ = s.opts->iodepth_batch_complete_min == 0;
  cmdprio_.init(*s.opts, s.seed);
  return 0;
}

QueueResult LibaioEngine::queue(IoUnit* u) {
  struct iocb* cb = &iocbs_[u->index];
  std::memset(cb, 0, sizeof *cb);
  cb->aio_fildes = static_cast<std::uint32_t>(fd_);
  cb->aio_data = u->index;
  u->ioprio = 0;
  if (u->ddir == kSync) {
    cb->aio_lio_opcode = IOCB_CMD_FDSYNC;
  } else {
    cb->aio_lio_opcode = u->ddir == kWrite ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    cb->aio_buf = reinterpret_cast<std::uint64_t>(u->buf);
    cb->aio_nbytes = u->len;
    cb->aio_offset = static_cast<std::int64_t>(u->offset);
    // fio_libaio_cmdprio_prep: the priority in aio_reqprio, flagged.
    std::uint16_t prio;
    if (cmdprio_.active() && cmdprio_.pick(u->ddir, u->len, &prio)) {
      cb->aio_reqprio = static_cast<std::int16_t>(prio);
      cb->aio_flags |= IOCB_FLAG_IOPRIO;
      u->ioprio = prio;
      ++stats_.prio_ios;
    }
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
    ++stats_.submit_calls;
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

// user_io_getevents: take up to `max` events between the ring's head and
// tail, then publish the new head. The ring is usable only when it is one
// this code understands: the magic, no incompatible features, and a header
// of the size it knows (fs/aio.c sets all three at io_setup).
long LibaioEngine::user_getevents(long max, struct io_event* events) {
  auto* ring = reinterpret_cast<iostack_aio_ring*>(static_cast<std::uintptr_t>(ctx_));
  if (ring->magic != IOSTACK_AIO_RING_MAGIC ||
      ring->incompat_features != IOSTACK_AIO_RING_INCOMPAT_FEATURES ||
      ring->header_length != sizeof(iostack_aio_ring))
    return -ENOSYS;
  auto* ring_events = reinterpret_cast<struct io_event*>(ring + 1);
  const unsigned nr = ring->nr;
  // The head is ours to move (the kernel only reads it); the tail is the
  // completions': acquire it so the events it covers are visible.
  unsigned head = std::atomic_ref<unsigned>(ring->head).load(std::memory_order_relaxed);
  const unsigned tail = std::atomic_ref<unsigned>(ring->tail).load(std::memory_order_acquire);
  long n = 0;
  while (n < max && head != tail) {
    events[n++] = ring_events[head];
    head = (head + 1) % nr;
  }
  // Release: the slots are read before the completion side may reuse them.
  if (n) std::atomic_ref<unsigned>(ring->head).store(head, std::memory_order_release);
  return n;
}

void LibaioEngine::complete_event(const struct io_event& ev, IoUnit** out, unsigned* n) {
  IoUnit* u = units_[ev.data];
  const long res = ev.res;
  if (res < 0)
    u->error = static_cast<int>(-res);
  else if (u->ddir != kSync && static_cast<std::uint64_t>(res) != u->len)
    u->error = EIO;
  out[(*n)++] = u;
}

unsigned LibaioEngine::getevents(unsigned min, unsigned max, IoUnit** out) {
  unsigned n = 0;
  while (n < max && !failed_.empty()) {
    out[n++] = failed_.back();
    failed_.pop_back();
  }
  if (n >= min && n > 0) return n;
  // fio_libaio_getevents: the wait asks for `min` unless the job reaps with
  // iodepth_batch_complete_min=0; only then may userspace_reap poll the ring.
  unsigned actual_min = batch_min_zero_ ? 0 : min - n;
  for (;;) {
    long r;
    if (userspace_reap_ && actual_min == 0) {
      r = user_getevents(static_cast<long>(max - n), events_.data());
      if (r >= 0) stats_.user_reaped += static_cast<std::uint64_t>(r);
    } else {
      r = -ENOSYS;
    }
    if (r == -ENOSYS) {
      struct timespec zero {};
      ++stats_.getevents_calls;
      r = iostack_io_getevents(ctx_, static_cast<long>(actual_min), static_cast<long>(max - n),
                               events_.data(), actual_min ? nullptr : &zero);
    }
    if (r > 0) {
      for (long i = 0; i < r; ++i) complete_event(events_[i], out, &n);
      actual_min -= std::min(static_cast<unsigned>(r), actual_min);
    } else if (r == 0 || r == -EAGAIN) {
      if (min == 0) break;        // a poll that found nothing
      std::this_thread::yield();  // polling for `min`: let the completions run
    } else if (r != -EINTR) {
      break;
    }
    if (n >= min && (n > 0 || min == 0)) break;
  }
  return n;
}

}  // namespace iostack::job
