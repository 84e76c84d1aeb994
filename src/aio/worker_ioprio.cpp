// Setting an AIO worker's own I/O priority for the request it runs.
#include "aio/worker_ioprio.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include "task/ioprio.hpp"

namespace iostack::aio {
namespace {

thread_local int t_ioprio = -1;  // unknown until the first request

}  // namespace

void worker_set_ioprio(std::uint16_t ioprio) {
  if (t_ioprio == ioprio) return;
  // who 0: the calling thread. A refusal (an RT priority the process may no
  // longer take) leaves the thread as it was; the I/O still happens.
  if (::syscall(SYS_ioprio_set, task::kWhoProcess, 0, ioprio) == 0) {
    t_ioprio = ioprio;
  } else {
    t_ioprio = -1;
  }
}

}  // namespace iostack::aio
