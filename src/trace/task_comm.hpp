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

// A simulation's stand-in for the calling thread's tid in blktrace records
// (-1: the real tid), so that a run in virtual time traces the same pids
// every time; its PROCESS note carries the thread's own name. Returns the
// previous value.
std::int32_t set_thread_trace_pid(std::int32_t pid);
// The pid the calling thread's records carry.
std::int32_t thread_trace_pid();

}  // namespace iostack::trace
