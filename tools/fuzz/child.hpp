// Running one side of a comparison in a child process with a time limit.
#pragma once

#include <functional>
#include <string>

namespace fuzz {

struct RunResult {
  enum Status { kOk, kCrash, kTimeout } status = kOk;
  int signal = 0;  // kCrash: the signal, or 128 + exit status for a bad exit
  std::string log;
};

// Forks; the child makes a fresh directory under `base`, runs body(dir)
// and sends back what it returns. The parent waits at most timeout_ms,
// then kills the child, and removes the directory.
RunResult run_in_child(const std::string& base, const std::function<std::string(const std::string&)>& body,
                       int timeout_ms);

}  // namespace fuzz
