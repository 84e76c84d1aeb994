// fio's normal text report.
#include "job/report_text.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <ctime>

#include "job/num2str.hpp"

namespace iostack::job {
namespace {

constexpr int kSigFigs = 4;

std::string bs_str(std::uint32_t v) { return num2str(v, kSigFigs, 1, true, N2S::kByte); }

// Scales ns to usec or msec when the values are large, as display_lat does.
const char* scale(std::uint64_t* min, std::uint64_t* max, double* mean, double* dev) {
  if (*min > 2000000 && *max > 99999999ull && *dev > 1000000.0) {
    *min /= 1000000;
    *max /= 1000000;
    *mean /= 1e6;
    *dev /= 1e6;
    return "(msec)";
  }
  if (*min > 2000 && *max > 99999 && *dev > 1000.0) {
    *min /= 1000;
    *max /= 1000;
    *mean /= 1e3;
    *dev /= 1e3;
    return "(usec)";
  }
  return "(nsec)";
}

void display_lat(std::string& o, const char* name, const IoStat& s) {
  if (!s.samples) return;
  std::uint64_t mn = s.min, mx = s.max;
  double mean = s.mean, dev = s.stddev();
  const char* base = scale(&mn, &mx, &mean, &dev);
  o += fmt::format("    {} {}: min={}, max={}, avg={:5.02f}, stdev={:5.02f}\n", name, base,
                   num2str(mn, 6, 1, false, N2S::kNone), num2str(mx, 6, 1, false, N2S::kNone), mean,
                   dev);
}

void show_percentiles(std::string& o, const LatHist& h, std::uint64_t samples, const char* pre) {
  const auto& pl = default_percentiles();
  auto vals = h.percentiles(pl, samples);
  std::uint64_t mn = ~0ull, mx = 0;
  for (auto v : vals) mn = std::min(mn, v), mx = std::max(mx, v);
  int scale_down = 0;
  std::uint64_t divisor = 1;
  const char* unit = "nsec";
  if (mn > 2000000 && mx > 99999999ull)
    scale_down = 2, divisor = 1000000, unit = "msec";
  else if (mn > 2000 && mx > 99999)
    scale_down = 1, divisor = 1000, unit = "usec";
  o += fmt::format("    {} percentiles ({}):\n     |", pre, unit);
  const int width = std::max(
      5, static_cast<int>(
             std::log10(static_cast<double>(std::max<std::uint64_t>(mx / divisor, 1))) + 1));
  const int precision = 2;
  const int per_line = (80 - 7) / (precision + 10 + width);
  for (std::size_t j = 0; j < pl.size(); ++j) {
    if (j && j % per_line == 0) o += "     |";
    std::uint64_t v = vals[j];
    for (int i = 0; i < scale_down; ++i) v = (v + 999) / 1000;
    const bool last = j + 1 == pl.size();
    o += fmt::format(" {:5.2f}th=[{:{}}]{}", pl[j], v, width, last ? '\n' : ',');
    if (last) break;
    if (j % per_line == static_cast<std::size_t>(per_line - 1)) o += "\n";
  }
}

void show_ddir(std::string& o, const ThreadStat& ts, const GroupStat& gs, int d) {
  const DirStat& s = ts.dir[d];
  if (!s.runtime_ms) return;
  const std::uint64_t bw = s.io_bytes * 1000 / s.runtime_ms;
  const std::uint64_t iops = 1000 * s.total_io_u / s.runtime_ms;
  o += fmt::format("  {}: IOPS={}, BW={} ({})({}/{}msec)\n", ddir_name(d),
                   num2str(iops, kSigFigs, 1, false, N2S::kNone),
                   num2str(bw, kSigFigs, 1, true, N2S::kBytePerSec),
                   num2str(bw, kSigFigs, 1, false, N2S::kBytePerSec),
                   num2str(s.io_bytes, kSigFigs, 1, true, N2S::kByte), s.runtime_ms);
  display_lat(o, "slat", s.slat);
  display_lat(o, "clat", s.clat);
  display_lat(o, " lat", s.lat);
  const bool prios = s.show_prios();
  for (const PrioStat& p : s.prios)
    if (prios && p.clat.samples)
      display_lat(o, fmt::format("clat prio {}/{}", p.ioprio >> 13, p.ioprio & 7).c_str(), p.clat);
  if (s.clat.samples) show_percentiles(o, s.clat_hist, s.clat.samples, "clat");
  for (const PrioStat& p : s.prios) {
    if (!prios || !p.clat.samples) continue;
    const double share = 100.0 * static_cast<double>(p.clat.samples) /
                         static_cast<double>(std::max<std::uint64_t>(s.clat.samples, 1));
    show_percentiles(
        o, p.clat_hist, p.clat.samples,
        fmt::format("clat prio {}/{} ({:.2f}% of IOs)", p.ioprio >> 13, p.ioprio & 7, share)
            .c_str());
  }
  if (s.bw.samples) {
    double mean = s.bw.mean, dev = s.bw.stddev();
    std::uint64_t mn = s.bw.min, mx = s.bw.max;
    const char* unit = "KiB";
    double per = 100.0;
    if (gs.agg_bw[d] > 1024) per = std::min(100.0, mean * 100.0 / (gs.agg_bw[d] / 1024.0));
    if (mean > 1024.0 * 1024.0) {
      mn /= 1024;
      mx /= 1024;
      mean /= 1024;
      dev /= 1024;
      unit = "MiB";
    }
    o += fmt::format(
        "   bw ({:>5}/s): min={:5}, max={:5}, per={:3.2f}%, avg={:5.02f}, stdev={:5.02f}, "
        "samples={}\n",
        unit, mn, mx, per, mean, dev, s.bw.samples);
  }
  if (s.iops.samples)
    o += fmt::format(
        "   iops        : min={:5}, max={:5}, avg={:5.02f}, stdev={:5.02f}, samples={}\n",
        s.iops.min, s.iops.max, s.iops.mean, s.iops.stddev(), s.iops.samples);
}

void show_lat_line(std::string& o, const double* v, int nr, const char* const* ranges,
                   const char* unit) {
  int line = 0;
  bool new_line = true, shown = false;
  for (int i = 0; i < nr; ++i) {
    if (v[i] <= 0.0) continue;
    shown = true;
    if (new_line) {
      if (line) o += "\n";
      o += fmt::format("  lat ({})   : ", unit);
      new_line = false;
      line = 0;
    }
    if (line) o += ", ";
    o += fmt::format("{}{:3.2f}%", ranges[i], v[i]);
    if (++line == 5) new_line = true;
  }
  if (shown) o += "\n";
}

void show_latencies(std::string& o, const ThreadStat& ts) {
  static const char* const kR[] = {
      "2=", "4=", "10=", "20=", "50=", "100=", "250=", "500=", "750=", "1000=", "2000=", ">=2000="};
  const std::uint64_t total = ts.total_ios();
  double n[kLatNNr], u[kLatUNr], m[kLatMNr];
  calc_lat(ts.lat_n, kLatNNr, total, n);
  calc_lat(ts.lat_u, kLatUNr, total, u);
  calc_lat(ts.lat_m, kLatMNr, total, m);
  show_lat_line(o, n, kLatNNr, kR, "nsec");
  show_lat_line(o, u, kLatUNr, kR, "usec");
  show_lat_line(o, m, kLatMNr, kR, "msec");
}

std::string depth_line(const char* label, const std::uint64_t* map, std::uint64_t total,
                       bool depth) {
  double v[kDepthMapNr];
  calc_dist(map, total, v);
  if (depth)
    return fmt::format(
        "{}1={:3.1f}%, 2={:3.1f}%, 4={:3.1f}%, 8={:3.1f}%, 16={:3.1f}%, "
        "32={:3.1f}%, >=64={:3.1f}%\n",
        label, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
  return fmt::format(
      "{}0={:3.1f}%, 4={:3.1f}%, 8={:3.1f}%, 16={:3.1f}%, 32={:3.1f}%, "
      "64={:3.1f}%, >=64={:3.1f}%\n",
      label, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
}

void show_thread(std::string& o, const ThreadStat& ts, const GroupStat& gs) {
  std::time_t now = std::time(nullptr);
  char tbuf[64];
  ctime_r(&now, tbuf);
  if (!ts.error)
    o += fmt::format("{}: (groupid={}, jobs={}): err={:2}: pid={}: {}", ts.name, ts.groupid,
                     ts.members, ts.error, ts.pid, tbuf);
  else
    o += fmt::format("{}: (groupid={}, jobs={}): err={:2} ({}): pid={}: {}", ts.name, ts.groupid,
                     ts.members, ts.error, ts.verror, ts.pid, tbuf);
  if (!ts.description.empty()) o += fmt::format("  Description  : [{}]\n", ts.description);
  for (int d = 0; d < kRwDirs; ++d)
    if (ts.dir[d].io_bytes) show_ddir(o, ts, gs, d);
  show_latencies(o, ts);
  if (ts.sync_lat.samples) {
    o += "  fsync/fdatasync/sync_file_range/syncfs:\n";
    display_lat(o, "sync", ts.sync_lat);
    show_percentiles(o, ts.sync_hist, ts.sync_lat.samples, "sync");
  }
  const double run = static_cast<double>(ts.total_run_time_ms);
  o +=
      fmt::format("  cpu          : usr={:3.2f}%, sys={:3.2f}%, ctx={}, majf={}, minf={}\n",
                  run ? static_cast<double>(ts.usr_ms) * 100 / run : 0.0,
                  run ? static_cast<double>(ts.sys_ms) * 100 / run : 0.0, ts.ctx, ts.majf, ts.minf);
  o += depth_line("  IO depths    : ", ts.io_u_map, ts.total_ios() + ts.total_sync, true);
  o += depth_line("     submit    : ", ts.io_u_submit, ts.total_submit, false);
  o += depth_line("     complete  : ", ts.io_u_complete, ts.total_complete, false);
  o += fmt::format("     issued rwts: total={},{},{},{} short={},{},{},0 dropped={},{},{},0\n",
                   ts.dir[0].total_io_u, ts.dir[1].total_io_u, ts.dir[2].total_io_u, ts.total_sync,
                   ts.dir[0].short_io_u, ts.dir[1].short_io_u, ts.dir[2].short_io_u,
                   ts.dir[0].drop_io_u, ts.dir[1].drop_io_u, ts.dir[2].drop_io_u);
  o += fmt::format("     latency   : target=0, window=0, percentile=100.00%, depth={}\n",
                   ts.iodepth);
}

void show_group(std::string& o, const GroupStat& g) {
  static const char* const kNames[] = {"   READ", "  WRITE", "   TRIM"};
  o += fmt::format("\nRun status group {} (all jobs):\n", g.groupid);
  for (int d = 0; d < kRwDirs; ++d) {
    if (!g.max_run[d]) continue;
    auto n2 = [](std::uint64_t v, bool p2, N2S u) { return num2str(v, kSigFigs, 1, p2, u); };
    o += fmt::format(
        "{}: bw={} ({}), {}-{} ({}-{}), io={} ({}), run={}-{}msec\n", kNames[d],
        n2(g.agg_bw[d], true, N2S::kBytePerSec), n2(g.agg_bw[d], false, N2S::kBytePerSec),
        n2(g.min_bw[d], true, N2S::kBytePerSec), n2(g.max_bw[d], true, N2S::kBytePerSec),
        n2(g.min_bw[d], false, N2S::kBytePerSec), n2(g.max_bw[d], false, N2S::kBytePerSec),
        n2(g.io_bytes[d], true, N2S::kByte), n2(g.io_bytes[d], false, N2S::kByte), g.min_run[d],
        g.max_run[d]);
  }
}

}  // namespace

std::string format_banner(const std::vector<JobDef>& jobs) {
  std::string o;
  for (const JobDef& j : jobs) {
    const JobOptions& p = j.opts;
    o += fmt::format(
        "{}: (g={}): rw={}, bs=(R) {}-{}, (W) {}-{}, (T) {}-{}, ioengine={}, iodepth={}\n", p.name,
        j.groupid, p.rw, bs_str(p.min_bs[0]), bs_str(p.max_bs[0]), bs_str(p.min_bs[1]),
        bs_str(p.max_bs[1]), bs_str(p.min_bs[2]), bs_str(p.max_bs[2]), p.ioengine, p.iodepth);
    if (p.numjobs > 1) o += "...\n";
  }
  return o;
}

std::string format_report(const RunResult& r) {
  std::string o;
  for (const ThreadStat& ts : r.jobs) {
    const GroupStat* gs = &r.groups.front();
    for (const auto& g : r.groups)
      if (g.groupid == ts.groupid) gs = &g;
    show_thread(o, ts, *gs);
  }
  for (const auto& g : r.groups) show_group(o, g);
  if (!r.disks.empty()) o += "\nDisk stats (read/write):\n";
  for (const DiskReport& d : r.disks) {
    const auto& s = d.stats;
    o += fmt::format(
        "  {}: ios={}/{}, sectors={}/{}, merge={}/{}, ticks={}/{}, in_queue={}, util={:3.2f}%",
        d.name, s.read.ios, s.write.ios, s.read.sectors, s.write.sectors, s.read.merges,
        s.write.merges, s.read.ticks_ms, s.write.ticks_ms, s.time_in_queue_ms, d.util());
    if (s.flush.ios) o += fmt::format(", flushes={}", s.flush.ios);
    if (d.splits) o += fmt::format(", splits={}", d.splits);
    o += "\n";
    if (!d.device_counters.empty()) {
      o += "    device:";
      for (const auto& [k, v] : d.device_counters) {
        // Counts print whole (1376930, not 1.37693e+06); ratios as %g.
        if (v == static_cast<double>(static_cast<std::int64_t>(v)) && v < 9.0e15 && v > -9.0e15)
          o += fmt::format(" {}={}", k, static_cast<std::int64_t>(v));
        else
          o += fmt::format(" {}={:g}", k, v);
      }
      o += "\n";
    }
  }
  if (r.virtual_clock)
    o += fmt::format("\nVirtual clock: {:.6f}s of virtual time in {:.3f}s of real time\n",
                     static_cast<double>(r.virtual_ns) / 1e9, static_cast<double>(r.real_ns) / 1e9);
  return o;
}

}  // namespace iostack::job
