// The threads of the calling process, as /proc/self/task lists them: how
// many there are, and which of them iostack started for itself (named
// "iostack-aio-*").
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace iostack::aio::testing {

inline std::vector<pid_t> process_threads() {
  std::vector<pid_t> tids;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') tids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    }
    ::closedir(d);
  }
  return tids;
}

inline std::string thread_comm(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

// Threads whose name starts with `prefix` ("iostack-aio-wq": the workers).
inline std::vector<pid_t> threads_named(const std::string& prefix) {
  std::vector<pid_t> out;
  for (pid_t t : process_threads()) {
    if (thread_comm(t).rfind(prefix, 0) == 0) out.push_back(t);
  }
  return out;
}

// The SigBlk mask of a thread of this process, bit n-1 for signal n.
inline unsigned long long thread_blocked_signals(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("SigBlk:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 16);
  }
  return 0;
}

}  // namespace iostack::aio::testing
