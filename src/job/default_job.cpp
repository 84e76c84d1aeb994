// The built-in default job.
#include "job/default_job.hpp"

namespace iostack::job {

const char* default_job_text() {
  // Group 0: mixed random I/O, the classic OLTP-like load. Group 1: a
  // sequential writer whose 32-bio batches are plugged and merged.
  return R"([global]
filename=ram:256M
ioscheduler=mq-deadline
ioengine=bio
bs=4k
iodepth=32

[randrw]
rw=randrw
rwmixread=70
runtime=2
time_based

[seqwrite]
stonewall
rw=write
size=256M
iodepth_batch_submit=32
iodepth_batch_complete_min=32
)";
}

}  // namespace iostack::job
