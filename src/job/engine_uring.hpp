// ioengine=io_uring: iostack's io_uring (include/iostack/uring.h) driven the
// way fio's io_uring engine drives the kernel's, on raw rings: queue fills
// an SQE, commit publishes the tail and enters, getevents reaps CQEs.
// fio's engine options: fixedbufs (registered buffers, READ_FIXED and
// WRITE_FIXED), registerfiles (IOSQE_FIXED_FILE), sqthread_poll[_cpu]
// (SQPOLL: commit enters only to wake a sleeping thread, getevents polls the
// CQ ring) and cmdprio (a priority in the SQE).
#pragma once

#include <linux/io_uring.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "job/cmdprio.hpp"
#include "job/engine.hpp"

namespace iostack::job {

class UringEngine final : public Engine {
 public:
  ~UringEngine() override;
  const char* name() const override { return "io_uring"; }
  bool sync() const override { return false; }
  int init(const EngineSetup& s, std::string* err) override;
  QueueResult queue(IoUnit* u) override;
  void commit() override;
  unsigned getevents(unsigned min, unsigned max, IoUnit** out) override;

 private:
  int fd_ = -1;
  int ring_fd_ = -1;
  void* sq_ptr_ = nullptr;
  void* cq_ptr_ = nullptr;
  std::size_t sq_len_ = 0, cq_len_ = 0, sqes_len_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_mask_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned* sq_flags_ = nullptr;
  unsigned sq_entries_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned* cq_mask_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned local_tail_ = 0;  // SQEs filled but not yet published
  unsigned to_submit_ = 0;
  std::vector<IoUnit*> units_;
  bool fixedbufs_ = false, fixed_file_ = false, sqpoll_ = false;
  std::uint16_t ioprio_ = 0;
  CmdPrio cmdprio_;
};

}  // namespace iostack::job
