// iostack replay: a captured workload (blktrace, fio iolog, MSR CSV) run
// again through iostack's block layer, one job per issuing process.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.hpp"
#include "job/read_iolog.hpp"
#include "job/trace_io.hpp"

namespace iostack::tool {
namespace {

constexpr const char* kUsage =
    "usage: iostack replay TRACE... --filename=SPEC [--speed=N|--afap] [--job-option=value ...]\n"
    "  Replays block traces onto device SPEC: blktrace binary files, record\n"
    "  versions 7 and 8 (a capture's NAME for NAME.blktrace.N, a file, a blkparse\n"
    "  -d dump, or a directory from iostack run --trace=DIR), fio iologs (v2, v3)\n"
    "  and MSR Cambridge CSV.\n"
    "  Each issuing process is a job of its own; offsets beyond the device wrap.\n"
    "replay options:\n"
    "  --speed=N        replay N times as fast as recorded (default 1)\n"
    "  --afap           as fast as possible, in order, up to iodepth in flight\n"
    "  --output-format=normal|json, --output=FILE, --trace=DIR, --eta=auto|always|never,\n"
    "  --plot=DIR       SVG charts of the replay into DIR\n"
    "job options (defaults): --ioengine=io_uring --iodepth=32 --direct=1; also\n"
    "  --ioscheduler=, --size=, --offset=, --replay_skip=, --write_iolog=FILE (what\n"
    "  the replay issued, as fio's iolog) and the other job options\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "iostack: replay: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int cmd_replay(const std::vector<std::string>& args) {
  ReportArgs rep;
  std::vector<std::string> job_args = {"--ioengine=io_uring", "--iodepth=32", "--direct=1"};
  std::vector<std::string> traces;
  job::ReplaySettings rs;
  bool have_filename = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* opt, std::string* out) {
      const std::string o = opt;
      if (a.rfind(o + "=", 0) == 0) {
        *out = a.substr(o.size() + 1);
        return 1;
      }
      if (a != o) return 0;
      if (i + 1 >= args.size()) return -1;
      *out = args[++i];
      return 1;
    };
    std::string v;
    int r;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--afap") {
      rs.no_stall = true;
      continue;
    }
    if ((r = value("--speed", &v))) {
      char* end = nullptr;
      rs.speed = r > 0 ? std::strtod(v.c_str(), &end) : 0;
      if (r < 0 || end == v.c_str() || *end || !(rs.speed > 0) || rs.speed > 1e9)
        return fail("--speed=" + v + ": expected a factor above 0, such as 2 or 0.5");
      continue;
    }
    if ((r = value("--output-format", &rep.format)) || (r = value("--output", &rep.output)) ||
        (r = value("--trace", &rep.trace_dir)) || (r = value("--eta", &rep.eta)) ||
        (r = value("--plot", &rep.plot_dir))) {
      if (r < 0) return fail(a + " needs a value");
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      if (a.rfind("--filename=", 0) == 0) have_filename = true;
      if (a.rfind("--name", 0) == 0 || a.rfind("--read_iolog", 0) == 0)
        return fail(a + ": replay makes its own jobs, one per process of the trace");
      job_args.push_back(a);
      continue;
    }
    traces.push_back(a);
  }
  if (rep.format != "normal" && rep.format != "json")
    return fail("--output-format=" + rep.format + ": expected normal or json");
  if (rep.eta != "auto" && rep.eta != "always" && rep.eta != "never")
    return fail("--eta=" + rep.eta + ": expected auto, always or never");
  if (traces.empty()) return fail("no TRACE given (see iostack replay --help)");
  if (!have_filename) return fail("--filename=SPEC is needed: the device to replay onto");

  std::string err;
  job::Trace trace;
  if (!job::read_traces(traces, &trace, &err)) return fail(err);

  // One job per issuing process, each on its own thread (task, io_context).
  job::JobFileSet set;
  if (!job::parse_job_args(job_args, &set, &err)) return fail(err);
  std::vector<job::JobDef> jobs;
  if (!job::build_replay_jobs(trace, rs, &set, &jobs, &err)) return fail(err);
  return run_jobs(jobs, set, rep);
}

}  // namespace iostack::tool
