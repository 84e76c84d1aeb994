// ioengine=libaio: Linux AIO through iostack's io_setup/io_submit/
// io_getevents (include/iostack/aio.h) on a descriptor of the device, as
// fio's libaio engine drives the kernel's: queue prepares an iocb, commit
// submits the batch, getevents reaps. userspace_reap reads completions
// straight from the context's ring when the job reaps with a minimum of 0;
// cmdprio puts a priority in the iocb (IOCB_FLAG_IOPRIO).
#pragma once

#include <linux/aio_abi.h>

#include <string>
#include <vector>

#include "job/cmdprio.hpp"
#include "job/engine.hpp"

namespace iostack::job {

class LibaioEngine final : public Engine {
 public:
  ~LibaioEngine() override;
  const char* name() const override { return "libaio"; }
  bool sync() const override { return false; }
  int init(const EngineSetup& s, std::string* err) override;
  QueueResult queue(IoUnit* u) override;
  void commit() override;
  unsigned getevents(unsigned min, unsigned max, IoUnit** out) override;

 private:
  void fail_unsubmitted(std::size_t from, long err);
  long user_getevents(long max, struct io_event* events);
  void complete_event(const struct io_event& ev, IoUnit** out, unsigned* n);

  int fd_ = -1;
  aio_context_t ctx_ = 0;
  std::vector<struct iocb> iocbs_;  // one per I/O unit
  std::vector<IoUnit*> units_;
  std::vector<struct iocb*> pending_;
  std::vector<struct io_event> events_;
  std::vector<IoUnit*> failed_;  // refused by io_submit: reported as completions
  bool userspace_reap_ = false;
  bool batch_min_zero_ = false;  // iodepth_batch_complete_min=0 (fio's actual_min)
  CmdPrio cmdprio_;
};

}  // namespace iostack::job
