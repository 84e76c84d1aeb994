// Runs a program with extra environment variables and, optionally, with the
// kernel's AIO system calls refused (a seccomp filter answering EPERM, as
// restrictive container profiles can), capturing stdout and stderr.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace iostack::aio::testing {

struct ProgramResult {
  int exit_status = -1;  // -1 when it did not exit normally
  std::string output;
};

ProgramResult run_program(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          bool block_kernel_aio, const std::string& cwd = "");

// Where the drop-in libaio.so.1 was built (the build tree's lib/iostack), or "" if
// it was not.
std::string libaio_dir();
bool have_program(const std::string& name);

}  // namespace iostack::aio::testing
