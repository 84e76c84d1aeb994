// ioengine=io_uring over iostack's io_uring, through the ring client.
#include "job/engine_uring.hpp"

#include <fcntl.h>

#include <cstring>
#include <thread>

#include "block/bdev_file.hpp"
#include "job/job_options.hpp"
#include "job/types.hpp"

namespace iostack::job {

UringEngine::~UringEngine() {
  if (ring_ok_) iostack_ring_queue_exit(&ring_);
  if (fd_ >= 0) block::bdev_file_close(fd_);
}

int UringEngine::init(const EngineSetup& s, std::string* err) {
  const JobOptions& o = *s.opts;
  fd_ = block::bdev_file_open(s.disk, O_RDWR | O_CLOEXEC | (s.direct ? O_DIRECT : 0));
  if (fd_ < 0) {
    *err = std::string("cannot open the device: ") + std::strerror(-fd_);
    return fd_;
  }
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  // hipri would ask for IORING_SETUP_IOPOLL; iostack's devices have no poll
  // queues, so (like a kernel device without them) it is left off.
  sqpoll_ = o.sqthread_poll;
  if (sqpoll_) {
    p.flags |= IORING_SETUP_SQPOLL;
    if (o.sqthread_poll_cpu >= 0) {
      p.flags |= IORING_SETUP_SQ_AFF;
      p.sq_thread_cpu = static_cast<unsigned>(o.sqthread_poll_cpu);
    }
  }
  const int r = iostack_ring_queue_init_params(s.nr_units, &ring_, &p);
  if (r < 0) {
    *err = std::string("io_uring_setup") + (sqpoll_ ? " (sqthread_poll)" : "") + ": " +
           std::strerror(-r);
    return r;
  }
  ring_ok_ = true;
  units_.assign(s.nr_units, nullptr);

  // fio_ioring_queue_init: the I/O units' buffers, one registered buffer
  // per unit, so buf_index is the unit's index.
  if (o.fixedbufs) {
    std::vector<struct iovec> iov = s.bufs;
    const int rr = iostack_io_uring_register(ring_.ring_fd, IORING_REGISTER_BUFFERS, iov.data(),
                                             static_cast<unsigned>(iov.size()));
    if (rr < 0) {
      *err = std::string("fixedbufs: IORING_REGISTER_BUFFERS: ") + std::strerror(-rr);
      return rr;
    }
    fixedbufs_ = true;
  }
  // fio_ioring_register_files; sqthread_poll implies registerfiles.
  if (o.registerfiles || sqpoll_) {
    int fds[1] = {fd_};
    const int rr = iostack_io_uring_register(ring_.ring_fd, IORING_REGISTER_FILES, fds, 1);
    if (rr < 0) {
      *err = std::string("registerfiles: IORING_REGISTER_FILES: ") + std::strerror(-rr);
      return rr;
    }
    fixed_file_ = true;
  }
  ioprio_ = s.ioprio;
  cmdprio_.init(o, s.seed);
  return 0;
}

QueueResult UringEngine::queue(IoUnit* u) {
  // With SQPOLL the thread consumes SQEs on its own time: wait for a free
  // slot (there always is one without SQPOLL, where submit consumes them all).
  io_uring_sqe* sqe;
  while (!(sqe = io_uring_get_sqe(&ring_))) std::this_thread::yield();
  const int fd = fixed_file_ ? 0 : fd_;  // index in the registered file table
  if (u->ddir == kSync) {
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
  } else {
    std::uint8_t op = u->ddir == kWrite ? IORING_OP_WRITE : IORING_OP_READ;
    if (fixedbufs_) op = u->ddir == kWrite ? IORING_OP_WRITE_FIXED : IORING_OP_READ_FIXED;
    io_uring_prep_rw(op, sqe, fd, u->buf, u->len, u->offset);
    if (fixedbufs_) {
      sqe->buf_index = static_cast<std::uint16_t>(u->index);
      ++stats_.fixed_buf_ios;
    }
    // The job's priority on every read and write, as fio does: an SQPOLL
    // thread submits with its own context, not the job's.
    sqe->ioprio = ioprio_;
    std::uint16_t prio;
    if (cmdprio_.active() && cmdprio_.pick(u->ddir, u->len, &prio)) {
      sqe->ioprio = prio;
      ++stats_.prio_ios;
    }
  }
  if (fixed_file_) {
    sqe->flags |= IOSQE_FIXED_FILE;
    ++stats_.fixed_file_ios;
  }
  io_uring_sqe_set_data64(sqe, u->index);
  u->ioprio = sqe->ioprio;
  units_[u->index] = u;
  ++to_submit_;
  return QueueResult::kQueued;
}

void UringEngine::count_enters(const iostack_ring_counters& before) {
  iostack_ring_counters now;
  iostack_ring_thread_counters(&now);
  stats_.enter_calls += now.enters - before.enters;
  stats_.sq_wakeups += now.sq_wakeups - before.sq_wakeups;
}

void UringEngine::commit() {
  if (!to_submit_) return;
  iostack_ring_counters before;
  iostack_ring_thread_counters(&before);
  // With SQPOLL the thread submits and the client enters only to wake it;
  // without, enter until the engine took every SQE or refused one for good.
  for (;;) {
    const int r = iostack_ring_submit(&ring_);
    if (sqpoll_ || !io_uring_sq_ready(&ring_)) break;
    if (r <= 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) break;
  }
  to_submit_ = 0;
  count_enters(before);
}

unsigned UringEngine::getevents(unsigned min, unsigned max, IoUnit** out) {
  iostack_ring_counters before;
  iostack_ring_thread_counters(&before);
  unsigned n = 0;
  for (;;) {
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (n >= max) break;
      IoUnit* u = units_[cqe->user_data];
      if (cqe->res < 0)
        u->error = -cqe->res;
      else if (u->ddir != kSync && static_cast<std::uint32_t>(cqe->res) != u->len)
        u->error = EIO;
      out[n++] = u;
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    if (n >= min) break;
    if (sqpoll_) {
      // fio_ioring_getevents: with a polling thread the CQ ring is polled,
      // not waited on. Yield so that the thread (or the device) may run.
      std::this_thread::yield();
      continue;
    }
    const int r = iostack_ring_get_cqe(&ring_, &cqe, 0, min - n, nullptr);
    if (r < 0 && r != -EINTR && r != -EAGAIN) break;
  }
  count_enters(before);
  return n;
}

}  // namespace iostack::job
