// Thread ids and names for blktrace PROCESS notes (the kernel's task->pid and
// task->comm).
#pragma once

#include <array>
#include <cstdint>

#include "trace/blktrace_api.hpp"

namespace iostack::trace {

using Comm = std::array<char, kTaskCommLen>;

// The name of thread `tid` of this process, NUL-padded to 16 bytes. Falls back
// to the process-wide /proc/<tid>/comm, then to the decimal tid, so a PROCESS
// note always carries something blkparse can print.
Comm task_comm(std::int32_t tid);

}  // namespace iostack::trace
