// ioengine=io_uring: iostack's io_uring driven the way fio's io_uring engine
// drives the kernel's, through the project's one ring client (iostack/ring.h,
// liburing's library half, with <liburing.h>'s inline SQE and CQE helpers):
// queue fills an SQE, commit submits, getevents reaps CQEs.
// fio's engine options: fixedbufs (registered buffers, READ_FIXED and
// WRITE_FIXED), registerfiles (IOSQE_FIXED_FILE), sqthread_poll[_cpu]
// (SQPOLL: submitting enters only to wake a sleeping thread, getevents polls
// the CQ ring) and cmdprio (a priority in the SQE).
#pragma once

#include <string>
#include <vector>

#include "iostack/ring.h"
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
  // Adds the ring client's enters since `before` to the engine's counters.
  void count_enters(const iostack_ring_counters& before);

  int fd_ = -1;
  io_uring ring_{};
  bool ring_ok_ = false;
  unsigned to_submit_ = 0;  // SQEs filled since the last commit
  std::vector<IoUnit*> units_;
  bool fixedbufs_ = false, fixed_file_ = false, sqpoll_ = false;
  std::uint16_t ioprio_ = 0;
  CmdPrio cmdprio_;
};

}  // namespace iostack::job
