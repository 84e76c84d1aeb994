// Runs a program for the compat tests and captures what it prints.
#pragma once

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

// The drop-ins cannot be loaded into sanitized programs, and sanitized
// drop-ins cannot be loaded into the clients: compat tests skip there.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace compat

#define COMPAT_SKIP_IF_SANITIZED()                                                              \
  do {                                                                                          \
    if (compat::kSanitized)                                                                     \
      GTEST_SKIP() << "sanitizer build: the drop-ins and clients mix sanitized and plain code"; \
  } while (0)
