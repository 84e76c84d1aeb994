#include "trace/task_comm.hpp"

#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace iostack::trace {
namespace {

// Bumped in a forked child so that every thread_local tid is re-read there.
std::atomic<unsigned> g_fork_epoch{1};

void on_fork_child() { g_fork_epoch.fetch_add(1, std::memory_order_relaxed); }

const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, on_fork_child);
  return true;
}();

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

}  // namespace

std::int32_t current_tid() {
  thread_local unsigned epoch = 0;
  thread_local std::int32_t tid = 0;
  const unsigned now = g_fork_epoch.load(std::memory_order_relaxed);
  if (epoch != now) {
    tid = static_cast<std::int32_t>(gettid());
    epoch = now;
  }
  return tid;
}

Comm task_comm(std::int32_t tid) {
  (void)g_atfork_registered;
  Comm comm{};
  if (tid == current_tid()) {
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
