// Thread names for blktrace PROCESS notes.
#include "trace/task_comm.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "core/process.hpp"

namespace iostack::trace {
namespace {

bool read_comm_file(const char* path, Comm* out) {
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  char buf[64] = {};
  const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
  std::fclose(f);
  if (!ok) return false;
  buf[std::strcspn(buf, "\n")] = '\0';
  out->fill('\0');
  const std::size_t n = std::min(std::strlen(buf), out->size() - 1);
  std::memcpy(out->data(), buf, n);
  return true;
}

thread_local std::int32_t tl_trace_pid = -1;

}  // namespace

std::int32_t set_thread_trace_pid(std::int32_t pid) {
  const std::int32_t old = tl_trace_pid;
  tl_trace_pid = pid;
  return old;
}

std::int32_t thread_trace_pid() { return tl_trace_pid >= 0 ? tl_trace_pid : core::current_tid(); }

Comm task_comm(std::int32_t tid) {
  Comm comm{};
  if (tid == core::current_tid() || (tl_trace_pid >= 0 && tid == tl_trace_pid)) {
    // PR_GET_NAME writes at most 16 bytes including the terminating NUL.
    if (prctl(PR_GET_NAME, comm.data(), 0, 0, 0) == 0) return comm;
  }
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  if (read_comm_file(path, &comm)) return comm;
  std::snprintf(path, sizeof(path), "/proc/%d/comm", tid);
  if (read_comm_file(path, &comm)) return comm;
  comm.fill('\0');
  std::snprintf(comm.data(), comm.size(), "%d", tid);
  return comm;
}

}  // namespace iostack::trace
