// Shared vocabulary of the job layer: data directions as fio numbers them
// (enum fio_ddir: read, write, trim, then sync) and where an option came from.
#pragma once

#include <cstdint>
#include <string>

namespace iostack::job {

enum Ddir : int { kRead = 0, kWrite = 1, kTrim = 2, kSync = 3 };
constexpr int kRwDirs = 3;  // DDIR_RWDIR_CNT: the directions that move data

inline const char* ddir_name(int d) {
  static const char* const names[] = {"read", "write", "trim", "sync"};
  return names[d];
}

// Where a value was written: "job.fio:12" or "command line".
struct SrcLoc {
  std::string file;  // empty for the command line and built-in defaults
  int line = 0;
  std::string str() const {
    if (file.empty()) return "command line";
    return file + ":" + std::to_string(line);
  }
};

}  // namespace iostack::job
