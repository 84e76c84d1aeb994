// fio's log files (struct io_log, iolog.h/iolog.c and the add_*_sample
// paths of stat.c): write_lat_log, write_bw_log, write_iops_log and
// write_hist_log, line for line in fio's format so that fio's own tools
// (fio_generate_plots, fiologparser.py, fiologparser_hist.py) read them:
//   time (ms), value, ddir, bs[, offset], prio
// Latencies are in ns, bandwidth in KiB/s, IOPS per second (or 1 per I/O).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "job/lat_hist.hpp"
#include "job/types.hpp"

namespace iostack::job {

struct JobOptions;

// One value log; with avg_msec, samples are averaged per direction over
// windows of that length (fio's avg_window) and logged once per window.
class IoLog {
 public:
  IoLog(std::string path, unsigned avg_msec, bool log_offset, bool log_prio, bool log_max);
  // add_log_sample: `t_ms` is the job's elapsed time.
  void add(std::uint64_t t_ms, std::uint64_t val, int ddir, std::uint64_t bs, std::uint64_t offset,
           std::uint16_t ioprio);
  // finalize_logs: what is left in the averaging windows.
  void finish(std::uint64_t t_ms);
  bool write(std::string* err) const;
  bool create(std::string* err) const;
  unsigned avg_msec() const { return avg_msec_; }
  const std::string& path() const { return path_; }

 private:
  struct Sample {
    std::uint64_t t_ms, val, bs, offset;
    std::uint16_t ioprio;
    std::uint8_t ddir;
  };
  struct Window {
    std::uint64_t samples = 0, max = 0;
    double mean = 0;
  };
  void push(std::uint64_t t_ms, std::uint64_t val, int ddir, std::uint64_t bs, std::uint64_t offset,
            std::uint16_t ioprio);
  void flush_window(int ddir, std::uint64_t t_ms);

  std::string path_;
  unsigned avg_msec_;
  bool log_offset_, log_prio_, log_max_;
  std::vector<Sample> samples_;
  Window win_[kRwDirs];
  std::uint64_t avg_last_[kRwDirs] = {0, 0, 0};
};

// write_hist_log: every log_hist_msec, the completion latency histogram's
// counts since the previous line (fio's clat_hist log).
class HistLog {
 public:
  HistLog(std::string path, unsigned hist_msec, unsigned coarseness);
  void add(std::uint64_t t_ms, int ddir, std::uint64_t bs, const LatHist& now);
  // The job's statistics start again (end of ramp_time): so do the counts.
  void restart() {
    for (auto& b : before_) std::fill(b.begin(), b.end(), 0);
  }
  bool write(std::string* err) const;
  bool create(std::string* err) const;

 private:
  struct Line {
    std::uint64_t t_ms, bs;
    int ddir;
    std::vector<std::uint64_t> counts;  // kPlatNr >> coarseness sums
  };
  std::string path_;
  unsigned hist_msec_, stride_;
  std::uint64_t last_[kRwDirs] = {0, 0, 0};
  bool started_[kRwDirs] = {false, false, false};
  std::vector<std::uint64_t> before_[kRwDirs];  // the histogram at the last line
  std::vector<Line> lines_;
};

// The logs one job thread keeps (job number `num`, 1-based, as fio numbers
// its threads); null members are logs not asked for.
struct JobLogs {
  std::unique_ptr<IoLog> lat, slat, clat, bw, iops;
  std::unique_ptr<HistLog> hist;
  std::uint64_t min_bs[kRwDirs] = {0, 0, 0}, max_bs[kRwDirs] = {0, 0, 0};
  // Windowed bw/iops (log_avg_msec > 0): counters at the last sample.
  std::uint64_t win_t_ms = 0;
  std::uint64_t win_bytes[2] = {0, 0}, win_ios[2] = {0, 0};

  // Null when the job asks for no log.
  static std::unique_ptr<JobLogs> make(const JobOptions& o, int num);
  void slat_sample(std::uint64_t t_ms, std::uint64_t ns, int ddir, std::uint64_t bs,
                   std::uint64_t offset, std::uint16_t prio);
  void complete_sample(std::uint64_t t_ms, std::uint64_t lat_ns, std::uint64_t clat_ns, int ddir,
                       std::uint64_t bs, std::uint64_t offset, std::uint16_t prio,
                       const LatHist& clat_hist);
  // Windowed bw/iops from the job's running totals (calc_log_samples).
  void tick(std::uint64_t t_ms, const std::uint64_t bytes[2], const std::uint64_t ios[2],
            bool force);
  void finish(std::uint64_t t_ms);
  // Creates every file now, so that a path that cannot be written stops
  // the job before it runs rather than after.
  bool create(std::string* err) const;
  bool write(std::string* err) const;
};

// fio's log file name: prefix_type.N.log (per_job_logs) or prefix_type.log.
std::string log_file_name(const std::string& prefix, const char* type, int num, bool per_job);

}  // namespace iostack::job
