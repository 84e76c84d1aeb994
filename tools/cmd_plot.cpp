// iostack plot RESULT.json... --out=DIR: charts from saved JSON reports
// (iostack run --output-format=json), one line per run when comparing.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "plot.hpp"

namespace iostack::tool {
namespace {

constexpr const char* kUsage =
    "usage: iostack plot RESULT.json... --out=DIR\n"
    "  Draws clat_cdf.svg, iops.svg, bw.svg and inflight.svg into DIR from JSON\n"
    "  reports of iostack run/replay --output-format=json; with several reports,\n"
    "  each chart has a line per report (named after its file).\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "iostack: %s\n", msg.c_str());
  return 1;
}

// A run's label: the file name without directory and .json.
std::string label_of(const std::string& path) {
  std::string s =
      path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (s.size() > 5 && s.compare(s.size() - 5, 5, ".json") == 0) s.resize(s.size() - 5);
  return s;
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  std::string out;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--out") {
      if (i + 1 >= args.size()) return fail("--out needs a directory");
      out = args[++i];
    } else if (a.rfind("--out=", 0) == 0) {
      out = a.substr(6);
    } else if (a.rfind("--", 0) == 0) {
      return fail(a + ": unknown option (see iostack plot --help)");
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return fail("no RESULT.json given (see iostack plot --help)");
  if (out.empty()) return fail("--out=DIR is needed: where the charts go");
  std::vector<PlotRun> runs;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) return fail(f + ": cannot open");
    PlotRun r;
    r.report = nlohmann::ordered_json::parse(in, nullptr, false);
    if (r.report.is_discarded() || !r.report.is_object() || !r.report.contains("jobs"))
      return fail(f + ": not a JSON report of iostack run --output-format=json");
    if (files.size() > 1) r.label = label_of(f);
    runs.push_back(std::move(r));
  }
  std::string err;
  if (!write_plots(runs, out, &err)) return fail(err);
  return 0;
}

}  // namespace iostack::tool
