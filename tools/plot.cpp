// Charts from JSON reports.
#include "plot.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "svg_chart.hpp"

namespace iostack::tool {
namespace {

using json = nlohmann::ordered_json;

std::vector<double> numbers(const json& a) {
  std::vector<double> v;
  if (!a.is_array()) return v;
  for (const auto& x : a)
    if (x.is_number()) v.push_back(x.get<double>());
  return v;
}

bool any_nonzero(const std::vector<double>& v) {
  for (double x : v)
    if (x != 0) return true;
  return false;
}

std::string name_of(const PlotRun& r, const std::string& what) {
  return r.label.empty() ? what : r.label + ": " + what;
}

std::string job_name(const json& job) {
  return job.contains("jobname") && job["jobname"].is_string() ? job["jobname"].get<std::string>()
                                                               : "job";
}

const json& jobs_of(const json& report) {
  static const json kNone = json::array();
  return report.contains("jobs") && report["jobs"].is_array() ? report["jobs"] : kNone;
}

Chart cdf_chart(const std::vector<PlotRun>& runs) {
  Chart c{"Completion latency (clat) CDF",
          "completion latency (us, log scale)",
          "percentile (%)",
          true,
          {},
          100};
  for (const auto& r : runs)
    for (const auto& job : jobs_of(r.report))
      for (const char* d : {"read", "write"}) {
        ChartSeries s;
        s.label = name_of(r, job_name(job) + " " + d);
        if (job.contains("iostack_clat_cdf")) {
          const auto& cdf = job["iostack_clat_cdf"];
          if (!cdf.contains(d) || !cdf[d].is_array()) continue;
          for (const auto& p : cdf[d]) {
            if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) continue;
            s.x.push_back(p[1].get<double>() / 1000.0);
            s.y.push_back(p[0].get<double>());
          }
        } else {
          // fio's own report: its clat_ns percentiles ("50.000000": ns), a coarser CDF.
          const json* clat = nullptr;
          if (job.contains(d) && job[d].contains("clat_ns")) clat = &job[d]["clat_ns"];
          if (!clat || !clat->contains("percentile") || !(*clat)["percentile"].is_object() ||
              clat->value("N", 0) == 0)
            continue;
          for (const auto& [k, v] : (*clat)["percentile"].items()) {
            if (!v.is_number()) continue;
            s.x.push_back(v.get<double>() / 1000.0);
            s.y.push_back(std::atof(k.c_str()));
          }
        }
        if (!s.x.empty()) c.series.push_back(std::move(s));
      }
  return c;
}

// IOPS or bandwidth over time, a line per run, job and direction that moved data.
Chart rate_chart(const std::vector<PlotRun>& runs, bool bw) {
  Chart c{bw ? "Bandwidth over time" : "IOPS over time",
          "time (s)",
          bw ? "bandwidth (MiB/s)" : "IOPS (I/Os per second)",
          false,
          {}};
  for (const auto& r : runs)
    for (const auto& job : jobs_of(r.report)) {
      if (!job.contains("iostack_samples")) continue;
      const auto& s = job["iostack_samples"];
      std::vector<double> t = numbers(s.value("t_ms", json::array()));
      for (double& x : t) x /= 1000.0;
      for (const char* d : {"read", "write"}) {
        std::vector<double> y =
            numbers(s.value(std::string(d) + (bw ? "_bw_kib" : "_iops"), json::array()));
        if (!any_nonzero(y)) continue;
        if (bw)
          for (double& v : y) v /= 1024.0;
        c.series.push_back({name_of(r, job_name(job) + " " + d), t, y, false});
      }
    }
  return c;
}

// Requests in flight on each device (solid) and I/Os each job has in flight (dashed).
Chart inflight_chart(const std::vector<PlotRun>& runs) {
  Chart c{"Requests in flight over time", "time (s)", "requests in flight", false, {}};
  for (const auto& r : runs) {
    if (r.report.contains("disk_util") && r.report["disk_util"].is_array())
      for (const auto& d : r.report["disk_util"]) {
        if (!d.contains("iostack_samples")) continue;
        std::vector<double> t = numbers(d["iostack_samples"].value("t_ms", json::array()));
        for (double& x : t) x /= 1000.0;
        const std::string name = d.value("name", std::string("disk"));
        c.series.push_back({name_of(r, name + " in flight (device)"), t,
                            numbers(d["iostack_samples"].value("in_flight", json::array())),
                            false});
      }
    for (const auto& job : jobs_of(r.report)) {
      if (!job.contains("iostack_samples")) continue;
      const auto& s = job["iostack_samples"];
      std::vector<double> t = numbers(s.value("t_ms", json::array()));
      for (double& x : t) x /= 1000.0;
      std::vector<double> y = numbers(s.value("in_flight", json::array()));
      if (!any_nonzero(y)) continue;
      c.series.push_back({name_of(r, job_name(job) + " queue depth (job)"), t, y, true});
    }
  }
  return c;
}

}  // namespace

bool write_plots(const std::vector<PlotRun>& runs, const std::string& dir, std::string* err) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *err = dir + ": cannot create plot directory: " + std::strerror(errno);
    return false;
  }
  const std::pair<const char*, Chart> charts[] = {
      {"clat_cdf.svg", cdf_chart(runs)},
      {"iops.svg", rate_chart(runs, false)},
      {"bw.svg", rate_chart(runs, true)},
      {"inflight.svg", inflight_chart(runs)},
  };
  for (const auto& [file, chart] : charts) {
    const std::string path = dir + "/" + file;
    std::ofstream f(path);
    f << render_svg(chart);
    f.close();
    if (!f) {
      *err = path + ": cannot write chart";
      return false;
    }
  }
  return true;
}

}  // namespace iostack::tool
