// Runs a program for the compat tests and captures what it prints.
#pragma once

#include "../common/sanitized.hpp"

#include <string>
#include <vector>

namespace compat {

struct RunResult {
  int status = -1;     // exit status, or 128 + signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (searched in PATH) with `env` ("NAME=value") added to or
// replacing this process's environment; gives up after `timeout_s`.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
              int timeout_s = 120);

// Path of `name` in PATH, or empty.
std::string which(const std::string& name);

}  // namespace compat
