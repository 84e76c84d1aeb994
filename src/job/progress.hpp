// The live status line fio prints on a terminal:
//   Jobs: 1 (f=1): [m(1)][45.0%][r=480MiB/s,w=205MiB/s][r=123k,w=52.5k IOPS][eta 00m:03s]
// redrawn once a second with '\r'; nothing at all when disabled.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace iostack::job {

class Worker;

class Progress {
 public:
  Progress(bool enabled, const std::vector<std::unique_ptr<Worker>>& workers);
  // Redraws when a second has passed since the last line.
  void tick();
  // Clears the line so the report starts on a clean one.
  void finish();

 private:
  bool enabled_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  std::uint64_t start_ns_ = 0, last_ns_ = 0;
  std::uint64_t last_bytes_[2] = {0, 0}, last_ios_[2] = {0, 0};
  bool drawn_ = false;
};

}  // namespace iostack::job
