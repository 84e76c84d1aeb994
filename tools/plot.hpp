// The charts of iostack plot and --plot=DIR, drawn from JSON reports
// (report_json's iostack_samples and iostack_clat_cdf): completion latency
// CDF, IOPS, bandwidth, and in-flight requests over time. With several
// reports, every chart has a line per run (and job and direction).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace iostack::tool {

struct PlotRun {
  std::string label;  // empty for a single run
  nlohmann::ordered_json report;
};

// Writes clat_cdf.svg, iops.svg, bw.svg and inflight.svg into `dir`
// (created if missing). False with one line in *err.
bool write_plots(const std::vector<PlotRun>& runs, const std::string& dir, std::string* err);

}  // namespace iostack::tool
