// Counters of what a job's I/O engine did (see EngineStats).
#pragma once

#include <cstdint>

namespace iostack::job {

// What an engine did, counted where it does it: the system calls it made
// and the features of the commands it handed over. Not part of fio's
// output; the job's stats carry it for tests and IOSTACK_ENGINE_STATS.
struct EngineStats {
  std::uint64_t enter_calls = 0;      // io_uring_enter
  std::uint64_t sq_wakeups = 0;       // ... of them with IORING_ENTER_SQ_WAKEUP
  std::uint64_t fixed_buf_ios = 0;    // READ_FIXED / WRITE_FIXED SQEs
  std::uint64_t fixed_file_ios = 0;   // SQEs with IOSQE_FIXED_FILE
  std::uint64_t prio_ios = 0;         // commands given a cmdprio priority
  std::uint64_t submit_calls = 0;     // io_submit
  std::uint64_t getevents_calls = 0;  // io_getevents
  std::uint64_t user_reaped = 0;      // events read from the AIO ring in user space
  void add(const EngineStats& o) {
    enter_calls += o.enter_calls;
    sq_wakeups += o.sq_wakeups;
    fixed_buf_ios += o.fixed_buf_ios;
    fixed_file_ios += o.fixed_file_ios;
    prio_ios += o.prio_ios;
    submit_calls += o.submit_calls;
    getevents_calls += o.getevents_calls;
    user_reaped += o.user_reaped;
  }
};

}  // namespace iostack::job
