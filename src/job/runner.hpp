// Runs a set of jobs the way fio does: every job (times numjobs) on its own
// thread, jobs after a stonewall only once all earlier ones have ended,
// then the per-job, per-group and per-device results.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "block/elevator.hpp"
#include "job/job_builder.hpp"
#include "job/thread_stat.hpp"
#include "trace/diskstats.hpp"

namespace iostack::job {

// A device at one instant of the run: requests in flight and I/Os completed.
struct DiskSample {
  std::uint64_t t_ms = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t ios = 0;  // reads + writes completed so far
};

struct DiskReport {
  std::string name;
  trace::DiskStats stats;
  std::uint64_t splits = 0;  // bios split to fit the queue limits
  std::uint64_t run_ms = 0;  // the span the counters cover, for util
  // A simulated disk's internal counters (seeks, GC, ...), name and value.
  std::vector<std::pair<std::string, double>> device_counters;
  // The scheduler's counters per priority class (RT, BE, IDLE) when it
  // keeps them (mq-deadline does: its debugfs files).
  bool has_prio_stats = false;
  block::ElvPrioStats prio_stats[block::kElvPrioClasses];
  std::vector<DiskSample> samples;  // every sample_ms while the run lasted
  double util() const;
};

struct RunResult {
  std::vector<ThreadStat> jobs;  // one per clone, or per group with group_reporting
  std::vector<GroupStat> groups;
  std::vector<DiskReport> disks;
  std::vector<std::pair<std::string, std::string>> global_options;
  std::uint64_t start_unix_ms = 0;
  int nr_threads = 0;
  // clock=virtual: the virtual time the run took, and the real time that
  // took (the one figure that differs between repeated runs).
  bool virtual_clock = false;
  std::uint64_t virtual_ns = 0;
  std::uint64_t real_ns = 0;
  bool failed() const;
};

struct RunOptions {
  std::string trace_dir;  // blktrace of every device when set
  bool progress = false;  // a live status line on stdout
  // Every sample_ms the runner thread reads each job's and device's
  // counters (already kept for the progress line and diskstats), so the
  // I/O path does no extra work; 0: no samples.
  unsigned sample_ms = 100;
  // Called once devices and threads are ready, before any I/O (for the
  // "Starting N threads" banner).
  std::function<void(int nr_threads)> on_start;
};

class Runner {
 public:
  Runner();
  ~Runner();
  // Creates devices, checks everything and sets up every job; nothing runs.
  bool prepare(const std::vector<JobDef>& jobs, std::string* err);
  // Runs the prepared jobs. False with *err only when something outside the
  // jobs fails (e.g. the trace directory); job errors are in the result.
  bool run(const RunOptions& ro, RunResult* out, std::string* err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iostack::job
