// What one job (or, with group_reporting, one group) measured: fio's
// struct thread_stat, and struct group_run_stats for the "Run status" lines.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "job/engine_stats.hpp"
#include "job/io_stat.hpp"
#include "job/lat_hist.hpp"
#include "job/types.hpp"

namespace iostack::job {

constexpr int kDepthMapNr = 7;  // FIO_IO_U_MAP_NR
constexpr int kLatNNr = 10, kLatUNr = 10, kLatMNr = 12;

// Completion latency of the I/Os of one priority (fio's clat_prio_stat),
// kept when commands carry different priorities (cmdprio, prio classes).
struct PrioStat {
  std::uint16_t ioprio = 0;
  IoStat clat;
  LatHist clat_hist;
};

struct DirStat {
  std::uint64_t io_bytes = 0;
  std::uint64_t total_io_u = 0;  // issued
  std::uint64_t short_io_u = 0;
  std::uint64_t drop_io_u = 0;
  std::uint64_t runtime_ms = 0;
  IoStat slat, clat, lat;
  IoStat bw;    // KiB/s per sample window
  IoStat iops;  // per sample window
  LatHist clat_hist;
  std::vector<PrioStat> prios;  // by ioprio value; reserved so adding rarely allocates
  void add_prio(std::uint16_t ioprio, std::uint64_t clat);
  // fio shows per-priority figures only when two or more have samples.
  bool show_prios() const;
};

// A job's running totals at one instant of the run (for plots over time):
// completed bytes and I/Os (read, write) and I/Os in flight.
struct JobSample {
  std::uint64_t t_ms = 0;  // since the run started
  std::uint64_t bytes[2] = {0, 0}, ios[2] = {0, 0};
  unsigned in_flight = 0;
};

struct ThreadStat {
  std::string name;
  std::string description;
  int groupid = 0;
  int members = 1;
  int error = 0;  // positive errno of the first failure
  std::string verror;
  int pid = 0;
  unsigned iodepth = 1;
  std::vector<std::pair<std::string, std::string>> job_options;

  DirStat dir[kRwDirs];
  std::uint64_t total_sync = 0;
  IoStat sync_lat;
  LatHist sync_hist;

  std::uint64_t io_u_map[kDepthMapNr] = {};
  std::uint64_t io_u_submit[kDepthMapNr] = {};
  std::uint64_t io_u_complete[kDepthMapNr] = {};
  std::uint64_t total_submit = 0, total_complete = 0;
  std::uint64_t lat_n[kLatNNr] = {}, lat_u[kLatUNr] = {}, lat_m[kLatMNr] = {};

  std::uint64_t usr_ms = 0, sys_ms = 0, ctx = 0, majf = 0, minf = 0;
  std::uint64_t total_run_time_ms = 0;  // job_runtime
  std::uint64_t elapsed_s = 0;

  std::string ioengine;
  EngineStats engine;              // what the I/O engine did (not in fio's output)
  std::vector<JobSample> samples;  // every sample_ms while the run lasted
  unsigned sample_ms = 0;

  // Adds another job's figures (fio's sum_thread_stats for group_reporting).
  void merge(const ThreadStat& o);
  // io_u_mark_depth / io_u_mark_submit / io_u_mark_complete.
  void mark_depth(unsigned cur_depth, unsigned nr);
  void mark_submit(unsigned nr);
  void mark_complete(unsigned nr);
  void mark_latency(std::uint64_t ns);
  std::uint64_t total_ios() const {
    return dir[kRead].total_io_u + dir[kWrite].total_io_u + dir[kTrim].total_io_u;
  }
};

// Percentages of a depth map (stat_calc_dist): tiny non-zero shares show as 0.1.
void calc_dist(const std::uint64_t* map, std::uint64_t total, double* out);
// Percentages of a latency map (stat_calc_lat): tiny non-zero shares show as 0.01.
void calc_lat(const std::uint64_t* map, int nr, std::uint64_t total, double* out);

struct GroupStat {
  int groupid = 0;
  std::uint64_t min_run[kRwDirs], max_run[kRwDirs];
  std::uint64_t min_bw[kRwDirs], max_bw[kRwDirs];  // bytes/s
  std::uint64_t io_bytes[kRwDirs], agg_bw[kRwDirs];
  GroupStat();
  void add(const ThreadStat& ts);
  void finish();
};

}  // namespace iostack::job
