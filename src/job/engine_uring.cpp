// ioengine=io_uring over iostack's io_uring.
#include "job/engine_uring.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <cstring>
#include <thread>

#include "block/bdev_file.hpp"
#include "iostack/uring.h"
#include "job/job_options.hpp"
#include "job/types.hpp"

namespace iostack::job {
namespace {

template <typename T>
T* at(void* base, unsigned off) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + off);
}

unsigned load_acquire(const unsigned* p) {
  return std::atomic_ref<const unsigned>(*p).load(std::memory_order_acquire);
}
void store_release(unsigned* p, unsigned v) {
  std::atomic_ref<unsigned>(*p).store(v, std::memory_order_release);
}

}  // namespace

UringEngine::~UringEngine() {
  if (sqes_) iostack_io_uring_munmap(sqes_, sqes_len_);
  if (cq_ptr_ && cq_ptr_ != sq_ptr_) iostack_io_uring_munmap(cq_ptr_, cq_len_);
  if (sq_ptr_) iostack_io_uring_munmap(sq_ptr_, sq_len_);
  if (ring_fd_ >= 0) iostack_io_uring_close(ring_fd_);
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
  ring_fd_ = iostack_io_uring_setup(s.nr_units, &p);
  if (ring_fd_ < 0) {
    *err = std::string("io_uring_setup") + (sqpoll_ ? " (sqthread_poll)" : "") + ": " +
           std::strerror(-ring_fd_);
    return ring_fd_;
  }
  sq_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
  if (single) sq_len_ = cq_len_ = std::max(sq_len_, cq_len_);
  sq_ptr_ = iostack_io_uring_mmap(ring_fd_, IORING_OFF_SQ_RING, sq_len_);
  cq_ptr_ = single ? sq_ptr_ : iostack_io_uring_mmap(ring_fd_, IORING_OFF_CQ_RING, cq_len_);
  sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = iostack_io_uring_mmap(ring_fd_, IORING_OFF_SQES, sqes_len_);
  for (void* m : {sq_ptr_, cq_ptr_, sqes}) {
    if (IOSTACK_URING_IS_ERR(m)) {
      const int e = static_cast<int>(-reinterpret_cast<long>(m));
      sq_ptr_ = cq_ptr_ = nullptr;
      *err = std::string("mapping the rings: ") + std::strerror(e);
      return -e;
    }
  }
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  sq_head_ = at<unsigned>(sq_ptr_, p.sq_off.head);
  sq_tail_ = at<unsigned>(sq_ptr_, p.sq_off.tail);
  sq_mask_ = at<unsigned>(sq_ptr_, p.sq_off.ring_mask);
  sq_array_ = at<unsigned>(sq_ptr_, p.sq_off.array);
  sq_flags_ = at<unsigned>(sq_ptr_, p.sq_off.flags);
  sq_entries_ = p.sq_entries;
  cq_head_ = at<unsigned>(cq_ptr_, p.cq_off.head);
  cq_tail_ = at<unsigned>(cq_ptr_, p.cq_off.tail);
  cq_mask_ = at<unsigned>(cq_ptr_, p.cq_off.ring_mask);
  cqes_ = at<io_uring_cqe>(cq_ptr_, p.cq_off.cqes);
  local_tail_ = *sq_tail_;
  units_.assign(s.nr_units, nullptr);

  // fio_ioring_queue_init: the I/O units' buffers, one registered buffer
  // per unit, so buf_index is the unit's index.
  if (o.fixedbufs) {
    std::vector<struct iovec> iov = s.bufs;
    const int r = iostack_io_uring_register(ring_fd_, IORING_REGISTER_BUFFERS, iov.data(),
                                            static_cast<unsigned>(iov.size()));
    if (r < 0) {
      *err = std::string("fixedbufs: IORING_REGISTER_BUFFERS: ") + std::strerror(-r);
      return r;
    }
    fixedbufs_ = true;
  }
  // fio_ioring_register_files; sqthread_poll implies registerfiles.
  if (o.registerfiles || sqpoll_) {
    int fds[1] = {fd_};
    const int r = iostack_io_uring_register(ring_fd_, IORING_REGISTER_FILES, fds, 1);
    if (r < 0) {
      *err = std::string("registerfiles: IORING_REGISTER_FILES: ") + std::strerror(-r);
      return r;
    }
    fixed_file_ = true;
  }
  ioprio_ = s.ioprio;
  cmdprio_.init(o, s.seed);
  return 0;
}

QueueResult UringEngine::queue(IoUnit* u) {
  // With SQPOLL the thread consumes SQEs on its own time: wait for the slot
  // to be free (it always is without SQPOLL, where enter consumes them all).
  while (local_tail_ - load_acquire(sq_head_) >= sq_entries_) std::this_thread::yield();
  const unsigned idx = local_tail_ & *sq_mask_;
  io_uring_sqe* sqe = &sqes_[idx];
  std::memset(sqe, 0, sizeof *sqe);
  if (fixed_file_) {
    sqe->fd = 0;  // index in the registered file table
    sqe->flags = IOSQE_FIXED_FILE;
    ++stats_.fixed_file_ios;
  } else {
    sqe->fd = fd_;
  }
  sqe->user_data = u->index;
  if (u->ddir == kSync) {
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fsync_flags = IORING_FSYNC_DATASYNC;
  } else {
    if (fixedbufs_) {
      sqe->opcode = u->ddir == kWrite ? IORING_OP_WRITE_FIXED : IORING_OP_READ_FIXED;
      sqe->buf_index = static_cast<std::uint16_t>(u->index);
      ++stats_.fixed_buf_ios;
    } else {
      sqe->opcode = u->ddir == kWrite ? IORING_OP_WRITE : IORING_OP_READ;
    }
    sqe->addr = reinterpret_cast<std::uint64_t>(u->buf);
    sqe->len = u->len;
    sqe->off = u->offset;
    // The job's priority on every read and write, as fio does: an SQPOLL
    // thread submits with its own context, not the job's.
    sqe->ioprio = ioprio_;
    std::uint16_t prio;
    if (cmdprio_.active() && cmdprio_.pick(u->ddir, u->len, &prio)) {
      sqe->ioprio = prio;
      ++stats_.prio_ios;
    }
  }
  u->ioprio = sqe->ioprio;
  sq_array_[idx] = idx;
  units_[u->index] = u;
  ++local_tail_;
  ++to_submit_;
  return QueueResult::kQueued;
}

void UringEngine::commit() {
  if (!to_submit_) return;
  if (sqpoll_) {
    // The thread submits; enter only to wake it once it has gone idle. The
    // tail store and the flags load are both seq_cst so they cannot pass
    // each other (liburing's sq_ring_needs_enter uses a full barrier),
    // pairing with the thread's seq_cst flag set and tail load.
    std::atomic_ref<unsigned>(*sq_tail_).store(local_tail_, std::memory_order_seq_cst);
    if (std::atomic_ref<unsigned>(*sq_flags_).load(std::memory_order_seq_cst) &
        IORING_SQ_NEED_WAKEUP) {
      ++stats_.enter_calls;
      ++stats_.sq_wakeups;
      iostack_io_uring_enter(ring_fd_, to_submit_, 0, IORING_ENTER_SQ_WAKEUP, nullptr, 0);
    }
    to_submit_ = 0;
    return;
  }
  store_release(sq_tail_, local_tail_);
  while (to_submit_) {
    ++stats_.enter_calls;
    const int r = iostack_io_uring_enter(ring_fd_, to_submit_, 0, 0, nullptr, 0);
    if (r > 0)
      to_submit_ -= static_cast<unsigned>(r);
    else if (r != -EAGAIN && r != -EBUSY && r != -EINTR)
      break;
  }
  to_submit_ = 0;
}

unsigned UringEngine::getevents(unsigned min, unsigned max, IoUnit** out) {
  unsigned n = 0;
  for (;;) {
    unsigned head = *cq_head_;
    const unsigned tail = load_acquire(cq_tail_);
    while (head != tail && n < max) {
      const io_uring_cqe& cqe = cqes_[head & *cq_mask_];
      IoUnit* u = units_[cqe.user_data];
      if (cqe.res < 0)
        u->error = -cqe.res;
      else if (u->ddir != kSync && static_cast<std::uint32_t>(cqe.res) != u->len)
        u->error = EIO;
      out[n++] = u;
      ++head;
    }
    store_release(cq_head_, head);
    if (n >= min) return n;
    if (sqpoll_) {
      // fio_ioring_getevents: with a polling thread the CQ ring is polled,
      // not waited on. Yield so that the thread (or the device) may run.
      std::this_thread::yield();
      continue;
    }
    ++stats_.enter_calls;
    const int r = iostack_io_uring_enter(ring_fd_, 0, min - n, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (r < 0 && r != -EINTR && r != -EAGAIN) return n;
  }
}

}  // namespace iostack::job
