// --output-format=json in fio's layout.
#include "report_json.hpp"

#include <fmt/format.h>

#include <ctime>

#include "job/lat_hist.hpp"

namespace iostack::tool {
namespace {

using json = nlohmann::ordered_json;
using job::IoStat;

json lat_obj(const IoStat& s) {
  json o;
  o["min"] = s.min_or_zero();
  o["max"] = s.max;
  o["mean"] = s.mean;
  o["stddev"] = s.stddev();
  o["N"] = s.samples;
  return o;
}

json percentiles(const job::LatHist& h, std::uint64_t n) {
  json p = json::object();
  const auto& pl = job::default_percentiles();
  const auto v = h.percentiles(pl, n);
  for (std::size_t i = 0; i < pl.size(); ++i) p[fmt::format("{:f}", pl[i])] = v[i];
  return p;
}

json ddir_obj(const job::ThreadStat& ts, const job::GroupStat* gs, int d) {
  const job::DirStat& s = ts.dir[d];
  json o;
  const std::uint64_t run = s.runtime_ms;
  const std::uint64_t bw_bytes = run ? s.io_bytes * 1000 / run : 0;
  o["io_bytes"] = s.io_bytes;
  o["io_kbytes"] = s.io_bytes / 1024;
  o["bw_bytes"] = bw_bytes;
  o["bw"] = bw_bytes / 1024;
  o["iops"] = run ? static_cast<double>(s.total_io_u) * 1000.0 / static_cast<double>(run) : 0.0;
  o["runtime"] = run;
  o["total_ios"] = s.total_io_u;
  o["short_ios"] = s.short_io_u;
  o["drop_ios"] = s.drop_io_u;
  o["slat_ns"] = lat_obj(s.slat);
  json clat = lat_obj(s.clat);
  if (s.clat.samples) clat["percentile"] = percentiles(s.clat_hist, s.clat.samples);
  o["clat_ns"] = clat;
  o["lat_ns"] = lat_obj(s.lat);
  if (s.show_prios()) {
    // fio's "prios": completion latency per class/level with samples.
    json prios = json::array();
    for (const job::PrioStat& p : s.prios) {
      if (!p.clat.samples) continue;
      json e;
      e["prioclass"] = p.ioprio >> 13;
      e["prio"] = p.ioprio & 7;
      json c = lat_obj(p.clat);
      c["percentile"] = percentiles(p.clat_hist, p.clat.samples);
      e["clat_ns"] = c;
      prios.push_back(e);
    }
    o["prios"] = prios;
  }
  double agg = 0;
  if (s.bw.samples) {
    agg = 100.0;
    if (gs && gs->agg_bw[d] > 1024)
      agg = std::min(100.0, s.bw.mean * 100.0 / (static_cast<double>(gs->agg_bw[d]) / 1024.0));
  }
  o["bw_min"] = s.bw.min_or_zero();
  o["bw_max"] = s.bw.max;
  o["bw_agg"] = agg;
  o["bw_mean"] = s.bw.mean;
  o["bw_dev"] = s.bw.stddev();
  o["bw_samples"] = s.bw.samples;
  o["iops_min"] = s.iops.min_or_zero();
  o["iops_max"] = s.iops.max;
  o["iops_mean"] = s.iops.mean;
  o["iops_stddev"] = s.iops.stddev();
  o["iops_samples"] = s.iops.samples;
  return o;
}

json dist(const std::uint64_t* map, std::uint64_t total, bool depth) {
  double v[job::kDepthMapNr];
  job::calc_dist(map, total, v);
  static const char* const kDepth[] = {"1", "2", "4", "8", "16", "32", ">=64"};
  static const char* const kBatch[] = {"0", "4", "8", "16", "32", "64", ">=64"};
  json o;
  for (int i = 0; i < job::kDepthMapNr; ++i) o[depth ? kDepth[i] : kBatch[i]] = v[i];
  return o;
}

json lat_dist(const std::uint64_t* map, int nr, std::uint64_t total) {
  static const char* const kR[] = {"2",   "4",   "10",  "20",   "50",   "100",
                                   "250", "500", "750", "1000", "2000", ">=2000"};
  double v[job::kLatMNr];
  job::calc_lat(map, nr, total, v);
  json o;
  for (int i = 0; i < nr; ++i) o[kR[i]] = v[i];
  return o;
}

// iostack's samples over time (not in fio's output): rates per interval
// from the sampled totals, for `iostack plot`.
json job_samples(const job::ThreadStat& ts) {
  json o;
  o["interval_ms"] = ts.sample_ms;
  json t = json::array(), bw[2] = {json::array(), json::array()},
       iops[2] = {json::array(), json::array()}, depth = json::array();
  for (std::size_t i = 1; i < ts.samples.size(); ++i) {
    const job::JobSample &a = ts.samples[i - 1], &b = ts.samples[i];
    const std::uint64_t span = b.t_ms - a.t_ms;
    if (!span) continue;
    t.push_back(b.t_ms);
    for (int d = 0; d < 2; ++d) {
      // A ramp's end resets the totals: that interval counts from zero.
      const std::uint64_t db = b.bytes[d] >= a.bytes[d] ? b.bytes[d] - a.bytes[d] : b.bytes[d];
      const std::uint64_t di = b.ios[d] >= a.ios[d] ? b.ios[d] - a.ios[d] : b.ios[d];
      bw[d].push_back(static_cast<double>(db) * 1000.0 / static_cast<double>(span) / 1024.0);
      iops[d].push_back(static_cast<double>(di) * 1000.0 / static_cast<double>(span));
    }
    depth.push_back(b.in_flight);
  }
  o["t_ms"] = t;
  o["read_bw_kib"] = bw[0];
  o["write_bw_kib"] = bw[1];
  o["read_iops"] = iops[0];
  o["write_iops"] = iops[1];
  o["in_flight"] = depth;
  return o;
}

// Completion latency CDF from the histogram: [percent, ns] pairs.
json clat_cdf(const job::DirStat& ds) {
  static const std::vector<double> pcts = [] {
    std::vector<double> p;
    for (int i = 1; i <= 99; ++i) p.push_back(i);
    for (double x : {99.5, 99.9, 99.95, 99.99, 100.0}) p.push_back(x);
    return p;
  }();
  json a = json::array();
  const auto v = ds.clat_hist.percentiles(pcts, ds.clat.samples);
  for (std::size_t i = 0; i < pcts.size() && i < v.size(); ++i) a.push_back({pcts[i], v[i]});
  return a;
}

json job_obj(const job::ThreadStat& ts, const job::RunResult& r) {
  const job::GroupStat* gs = nullptr;
  for (const auto& g : r.groups)
    if (g.groupid == ts.groupid) gs = &g;
  json o;
  o["jobname"] = ts.name;
  o["groupid"] = ts.groupid;
  o["job_start"] = r.start_unix_ms;
  o["error"] = ts.error;
  o["eta"] = 0;
  o["elapsed"] = ts.elapsed_s;
  json opts = json::object();
  for (const auto& [k, v] : ts.job_options) opts[k] = v;
  o["job options"] = opts;
  o["read"] = ddir_obj(ts, gs, job::kRead);
  o["write"] = ddir_obj(ts, gs, job::kWrite);
  o["trim"] = ddir_obj(ts, gs, job::kTrim);
  json sync;
  sync["total_ios"] = ts.total_sync;
  sync["lat_ns"] = lat_obj(ts.sync_lat);
  o["sync"] = sync;
  o["job_runtime"] = ts.total_run_time_ms;
  const double run = static_cast<double>(ts.total_run_time_ms);
  o["usr_cpu"] = run ? static_cast<double>(ts.usr_ms) * 100.0 / run : 0.0;
  o["sys_cpu"] = run ? static_cast<double>(ts.sys_ms) * 100.0 / run : 0.0;
  o["ctx"] = ts.ctx;
  o["majf"] = ts.majf;
  o["minf"] = ts.minf;
  o["iodepth_level"] = dist(ts.io_u_map, ts.total_ios() + ts.total_sync, true);
  o["iodepth_submit"] = dist(ts.io_u_submit, ts.total_submit, false);
  o["iodepth_complete"] = dist(ts.io_u_complete, ts.total_complete, false);
  const std::uint64_t total = ts.total_ios();
  o["latency_ns"] = lat_dist(ts.lat_n, job::kLatNNr, total);
  o["latency_us"] = lat_dist(ts.lat_u, job::kLatUNr, total);
  o["latency_ms"] = lat_dist(ts.lat_m, job::kLatMNr, total);
  o["latency_depth"] = ts.iodepth;
  o["latency_target"] = 0;
  o["latency_percentile"] = 100.0;
  o["latency_window"] = 0;
  if (ts.error) o["verror"] = ts.verror;
  if (!ts.samples.empty()) o["iostack_samples"] = job_samples(ts);
  json cdf = json::object();
  for (int d = job::kRead; d <= job::kWrite; ++d)
    if (ts.dir[d].clat.samples) cdf[d == job::kRead ? "read" : "write"] = clat_cdf(ts.dir[d]);
  if (!cdf.empty()) o["iostack_clat_cdf"] = cdf;
  return o;
}

}  // namespace

json report_json(const job::RunResult& r) {
  json root;
  root["fio version"] = "iostack-" IOSTACK_VERSION;
  const std::time_t secs = static_cast<std::time_t>(r.start_unix_ms / 1000);
  root["timestamp"] = secs;
  root["timestamp_ms"] = r.start_unix_ms;
  char tbuf[64];
  ctime_r(&secs, tbuf);
  std::string t = tbuf;
  if (!t.empty() && t.back() == '\n') t.pop_back();
  root["time"] = t;
  if (!r.global_options.empty()) {
    json g = json::object();
    for (const auto& [k, v] : r.global_options) g[k] = v;
    root["global options"] = g;
  }
  json jobs = json::array();
  for (const auto& ts : r.jobs) jobs.push_back(job_obj(ts, r));
  root["jobs"] = jobs;
  json disks = json::array();
  for (const auto& d : r.disks) {
    json o;
    o["name"] = d.name;
    o["read_ios"] = d.stats.read.ios;
    o["write_ios"] = d.stats.write.ios;
    o["read_sectors"] = d.stats.read.sectors;
    o["write_sectors"] = d.stats.write.sectors;
    o["read_merges"] = d.stats.read.merges;
    o["write_merges"] = d.stats.write.merges;
    o["read_ticks"] = d.stats.read.ticks_ms;
    o["write_ticks"] = d.stats.write.ticks_ms;
    o["in_queue"] = d.stats.time_in_queue_ms;
    o["util"] = d.util();
    o["flush_ios"] = d.stats.flush.ios;
    o["splits"] = d.splits;
    if (!d.device_counters.empty()) {
      json dc = json::object();
      for (const auto& [k, v] : d.device_counters) dc[k] = v;
      o["device"] = dc;
    }
    if (!d.samples.empty()) {
      json t = json::array(), inf = json::array(), iops = json::array();
      for (std::size_t i = 1; i < d.samples.size(); ++i) {
        const job::DiskSample &a = d.samples[i - 1], &b = d.samples[i];
        if (b.t_ms == a.t_ms) continue;
        t.push_back(b.t_ms);
        inf.push_back(b.in_flight);
        iops.push_back(static_cast<double>(b.ios - a.ios) * 1000.0 /
                       static_cast<double>(b.t_ms - a.t_ms));
      }
      o["iostack_samples"] = {{"t_ms", t}, {"in_flight", inf}, {"iops", iops}};
    }
    disks.push_back(o);
  }
  root["disk_util"] = disks;
  if (r.virtual_clock)
    root["iostack_clock"] = {
        {"clock", "virtual"}, {"virtual_ns", r.virtual_ns}, {"real_ns", r.real_ns}};
  return root;
}

}  // namespace iostack::tool
