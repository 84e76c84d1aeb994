// Per-job and per-group statistics.
#include "job/thread_stat.hpp"

#include <algorithm>
#include <limits>

namespace iostack::job {

void DirStat::add_prio(std::uint16_t ioprio, std::uint64_t clat) {
  auto it = std::lower_bound(prios.begin(), prios.end(), ioprio,
                             [](const PrioStat& x, std::uint16_t v) { return x.ioprio < v; });
  if (it == prios.end() || it->ioprio != ioprio) {
    PrioStat p;
    p.ioprio = ioprio;
    it = prios.insert(it, p);
  }
  it->clat.add(clat);
  it->clat_hist.add(clat);
}

bool DirStat::show_prios() const {
  int n = 0;
  for (const PrioStat& p : prios) n += p.clat.samples > 0;
  return n >= 2;
}

void ThreadStat::merge(const ThreadStat& o) {
  // Clones are sampled at the same instants: their totals add up.
  for (std::size_t i = 0; i < samples.size() && i < o.samples.size(); ++i) {
    for (int d = 0; d < 2; ++d) {
      samples[i].bytes[d] += o.samples[i].bytes[d];
      samples[i].ios[d] += o.samples[i].ios[d];
    }
    samples[i].in_flight += o.samples[i].in_flight;
  }
  for (int d = 0; d < kRwDirs; ++d) {
    DirStat& a = dir[d];
    const DirStat& b = o.dir[d];
    a.io_bytes += b.io_bytes;
    a.total_io_u += b.total_io_u;
    a.short_io_u += b.short_io_u;
    a.drop_io_u += b.drop_io_u;
    a.runtime_ms = std::max(a.runtime_ms, b.runtime_ms);
    a.slat.merge(b.slat);
    a.clat.merge(b.clat);
    a.lat.merge(b.lat);
    a.bw.merge(b.bw);
    a.iops.merge(b.iops);
    a.clat_hist.merge(b.clat_hist);
    for (const PrioStat& pb : b.prios) {
      auto it = std::lower_bound(a.prios.begin(), a.prios.end(), pb.ioprio,
                                 [](const PrioStat& x, std::uint16_t v) { return x.ioprio < v; });
      if (it == a.prios.end() || it->ioprio != pb.ioprio) {
        a.prios.insert(it, pb);
      } else {
        it->clat.merge(pb.clat);
        it->clat_hist.merge(pb.clat_hist);
      }
    }
  }
  total_sync += o.total_sync;
  engine.add(o.engine);
  sync_lat.merge(o.sync_lat);
  sync_hist.merge(o.sync_hist);
  for (int i = 0; i < kDepthMapNr; ++i) {
    io_u_map[i] += o.io_u_map[i];
    io_u_submit[i] += o.io_u_submit[i];
    io_u_complete[i] += o.io_u_complete[i];
  }
  total_submit += o.total_submit;
  total_complete += o.total_complete;
  for (int i = 0; i < kLatNNr; ++i) lat_n[i] += o.lat_n[i];
  for (int i = 0; i < kLatUNr; ++i) lat_u[i] += o.lat_u[i];
  for (int i = 0; i < kLatMNr; ++i) lat_m[i] += o.lat_m[i];
  usr_ms += o.usr_ms;
  sys_ms += o.sys_ms;
  ctx += o.ctx;
  majf += o.majf;
  minf += o.minf;
  total_run_time_ms += o.total_run_time_ms;
  elapsed_s = std::max(elapsed_s, o.elapsed_s);
  if (!error && o.error) {
    error = o.error;
    verror = o.verror;
  }
  members += o.members;
}

void ThreadStat::mark_depth(unsigned d, unsigned nr) {
  int idx;
  if (d >= 64)
    idx = 6;
  else if (d >= 32)
    idx = 5;
  else if (d >= 16)
    idx = 4;
  else if (d >= 8)
    idx = 3;
  else if (d >= 4)
    idx = 2;
  else if (d >= 2)
    idx = 1;
  else
    idx = 0;
  io_u_map[idx] += nr;
}

namespace {
// Buckets 0, 1-4, 5-8, 9-16, 17-32, 33-64, more (__io_u_mark_map).
int map_index(unsigned nr) {
  if (nr == 0) return 0;
  if (nr <= 4) return 1;
  if (nr <= 8) return 2;
  if (nr <= 16) return 3;
  if (nr <= 32) return 4;
  if (nr <= 64) return 5;
  return 6;
}
// The upper bounds of fio's latency ranges: 2, 4, 10, ... 1000 (and 2000).
int range_index(std::uint64_t v, int nr) {
  static const std::uint64_t kBounds[] = {2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000};
  for (int i = 0; i < nr - 1; ++i)
    if (v < kBounds[i]) return i;
  return nr - 1;
}
}  // namespace

void ThreadStat::mark_submit(unsigned nr) {
  ++io_u_submit[map_index(nr)];
  ++total_submit;
}

void ThreadStat::mark_complete(unsigned nr) {
  ++io_u_complete[map_index(nr)];
  ++total_complete;
}

void ThreadStat::mark_latency(std::uint64_t ns) {
  if (ns < 1000)
    ++lat_n[range_index(ns, kLatNNr)];
  else if (ns < 1000000)
    ++lat_u[range_index(ns / 1000, kLatUNr)];
  else
    ++lat_m[range_index(ns / 1000000, kLatMNr)];
}

void calc_dist(const std::uint64_t* map, std::uint64_t total, double* out) {
  for (int i = 0; i < kDepthMapNr; ++i) {
    out[i] = total ? 100.0 * static_cast<double>(map[i]) / static_cast<double>(total) : 0.0;
    if (out[i] < 0.1 && map[i]) out[i] = 0.1;
  }
}

void calc_lat(const std::uint64_t* map, int nr, std::uint64_t total, double* out) {
  for (int i = 0; i < nr; ++i) {
    out[i] = total ? 100.0 * static_cast<double>(map[i]) / static_cast<double>(total) : 0.0;
    if (out[i] < 0.01 && map[i]) out[i] = 0.01;
  }
}

GroupStat::GroupStat() {
  for (int d = 0; d < kRwDirs; ++d) {
    min_run[d] = std::numeric_limits<std::uint64_t>::max();
    max_run[d] = 0;
    min_bw[d] = std::numeric_limits<std::uint64_t>::max();
    max_bw[d] = 0;
    io_bytes[d] = 0;
    agg_bw[d] = 0;
  }
}

void GroupStat::add(const ThreadStat& ts) {
  for (int d = 0; d < kRwDirs; ++d) {
    const std::uint64_t run = ts.dir[d].runtime_ms;
    if (!run) continue;
    min_run[d] = std::min(min_run[d], run);
    max_run[d] = std::max(max_run[d], run);
    const std::uint64_t bw = ts.dir[d].io_bytes * 1000 / run;
    min_bw[d] = std::min(min_bw[d], bw);
    max_bw[d] = std::max(max_bw[d], bw);
    io_bytes[d] += ts.dir[d].io_bytes;
  }
}

void GroupStat::finish() {
  for (int d = 0; d < kRwDirs; ++d) {
    if (!max_run[d]) {
      min_run[d] = min_bw[d] = 0;
      continue;
    }
    agg_bw[d] = io_bytes[d] * 1000 / max_run[d];
  }
}

}  // namespace iostack::job
