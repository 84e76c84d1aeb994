// The request budget of a context (fs/aio.c: kioctx.reqs_available and
// struct kioctx_cpu): nr_events - 1 slots, handed to CPUs in batches of
// req_batch, so a single CPU can run dry while others still hold slots --
// io_submit's -EAGAIN point is exactly the kernel's.
#pragma once

#include <memory>

#include "core/mutex.hpp"

namespace iostack::aio {

class ReqsAvailable {
 public:
  void init(unsigned ring_nr_events, unsigned possible_cpus);
  // __get_reqs_available(): one slot for the calling CPU, refilling its
  // cache from the global pool a batch at a time.
  bool get(unsigned cpu);
  // put_reqs_available(): gives `nr` slots back through `cpu`'s cache.
  void put(unsigned cpu, unsigned nr);
  unsigned batch() const { return batch_; }
  unsigned ncpus() const { return ncpus_; }

 private:
  core::Mutex lock_;
  unsigned global_ GUARDED_BY(lock_) = 0;
  unsigned batch_ = 1;
  unsigned ncpus_ = 1;
  std::unique_ptr<unsigned[]> percpu_ GUARDED_BY(lock_);
};

// The CPU the caller runs on, as an index below `ncpus`.
unsigned current_cpu(unsigned ncpus);
// num_possible_cpus(): from /sys/devices/system/cpu/possible.
unsigned possible_cpus();

}  // namespace iostack::aio
