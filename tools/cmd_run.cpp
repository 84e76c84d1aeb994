// iostack run: fio's command line. Job files and --option=value job options
// may be mixed: options before the first --name are defaults for every job
// (job files override them), --name=X starts a job of its own. With no job
// at all the built-in default runs.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "job/default_job.hpp"
#include "job/job_builder.hpp"
#include "job/job_file.hpp"
#include "job/report_text.hpp"
#include "job/runner.hpp"
#include "plot.hpp"
#include "report_json.hpp"

namespace iostack::tool {
namespace {

struct RunArgs {
  std::string format = "normal";
  std::string output;
  std::string trace_dir;
  std::string eta = "auto";
  std::string plot_dir;
  std::string clock;  // --clock: overrides clock= of the job files
  std::vector<std::string> job_args;
  std::vector<std::string> files;
  bool help = false;
};

constexpr const char* kUsage =
    "usage: iostack run [TOOL OPTIONS] [--job-option=value ...] [JOBFILE ...]\n"
    "  Runs fio-style jobs through iostack; with no job, the built-in default\n"
    "  (examples/default.fio). Job options before the first --name=JOB are\n"
    "  defaults for every job; job files override them, as in fio.\n"
    "tool options:\n"
    "  --output-format=normal|json   fio's normal or JSON report\n"
    "  --output=FILE                 write the report to FILE\n"
    "  --trace=DIR                   blktrace of every device into DIR (blkparse -D DIR)\n"
    "  --eta=auto|always|never       live progress line (auto: on a terminal)\n"
    "  --plot=DIR                    SVG charts of the run into DIR (see iostack plot)\n"
    "  --clock=real|virtual          run on the real clock, or in virtual time: repeatable,\n"
    "                                as fast as the CPU allows (ioengine=bio or psync-style)\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "iostack: %s\n", msg.c_str());
  return 1;
}

// Splits tool options from job options and files; false with *err.
bool parse_args(const std::vector<std::string>& args, RunArgs* ra, std::string* err) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value_of = [&](const std::string& opt, std::string* out) {
      if (a == opt) {
        if (i + 1 >= args.size()) {
          *err = opt + " needs a value";
          return -1;
        }
        *out = args[++i];
        return 1;
      }
      if (a.rfind(opt + "=", 0) == 0) {
        *out = a.substr(opt.size() + 1);
        return 1;
      }
      return 0;
    };
    int r;
    if ((r = value_of("--output-format", &ra->format)) || (r = value_of("--output", &ra->output)) ||
        (r = value_of("--trace", &ra->trace_dir)) || (r = value_of("--eta", &ra->eta)) ||
        (r = value_of("--plot", &ra->plot_dir)) || (r = value_of("--clock", &ra->clock))) {
      if (r < 0) return false;
      continue;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      ra->help = true;
      return true;
    }
    if (a.rfind("--", 0) == 0)
      ra->job_args.push_back(a);
    else
      ra->files.push_back(a);
  }
  if (ra->format != "normal" && ra->format != "json") {
    *err = "--output-format=" + ra->format + ": expected normal or json";
    return false;
  }
  if (!ra->clock.empty() && ra->clock != "real" && ra->clock != "virtual") {
    *err = "--clock=" + ra->clock + ": expected real or virtual";
    return false;
  }
  if (ra->eta != "auto" && ra->eta != "always" && ra->eta != "never") {
    *err = "--eta=" + ra->eta + ": expected auto, always or never";
    return false;
  }
  return true;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  RunArgs ra;
  std::string err;
  if (!parse_args(args, &ra, &err)) return fail(err);
  if (ra.help) return 0;

  job::JobFileSet set;
  if (!job::parse_job_args(ra.job_args, &set, &err)) return fail(err);
  for (const auto& f : ra.files)
    if (!job::parse_job_file(f, &set, &err)) return fail(err);
  if (set.jobs.empty()) {
    if (!ra.files.empty()) return fail("no jobs defined in " + ra.files.front());
    if (!job::parse_job_text(job::default_job_text(), job::kDefaultJobName, &set, &err))
      return fail(err);
  }
  std::vector<job::JobDef> jobs;
  if (!job::build_jobs(set, &jobs, &err)) return fail(err);
  if (!ra.clock.empty())
    for (auto& j : jobs) j.opts.virtual_clock = ra.clock == "virtual";

  ReportArgs rep{ra.format, ra.output, ra.trace_dir, ra.eta, ra.plot_dir};
  return run_jobs(jobs, set, rep);
}

int run_jobs(const std::vector<job::JobDef>& jobs, const job::JobFileSet& set,
             const ReportArgs& ra) {
  std::string err;
  job::Runner runner;
  if (!runner.prepare(jobs, &err)) return fail(err);

  // --plot's directory, made before anything runs so that a bad one stops here.
  if (!ra.plot_dir.empty() && ::mkdir(ra.plot_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail("--plot " + ra.plot_dir + ": cannot create directory: " + std::strerror(errno));
  // Where the report goes: stdout, or --output (opened before anything runs).
  FILE* out = stdout;
  if (!ra.output.empty()) {
    out = std::fopen(ra.output.c_str(), "w");
    if (!out) return fail("--output " + ra.output + ": cannot open for writing");
  }
  const bool normal = ra.format == "normal";
  job::RunOptions ro;
  ro.trace_dir = ra.trace_dir;
  // Samples over time for plots and the JSON report: every log_avg_msec
  // (the finest any job asks for), else every 100 ms.
  unsigned avg = 0;
  for (const auto& j : jobs)
    if (j.opts.log_avg_msec && (!avg || j.opts.log_avg_msec < avg)) avg = j.opts.log_avg_msec;
  if (avg) ro.sample_ms = avg;
  ro.progress = ra.eta == "always" ||
                (ra.eta == "auto" && normal && isatty(STDOUT_FILENO) && ra.output.empty());
  if (normal) {
    std::fputs(job::format_banner(jobs).c_str(), out);
    ro.on_start = [out](int n) {
      std::fprintf(out, "iostack-%s\nStarting %d thread%s\n", IOSTACK_VERSION, n,
                   n == 1 ? "" : "s");
      std::fflush(out);
    };
  }
  job::RunResult result;
  if (!runner.run(ro, &result, &err)) return fail(err);
  for (const auto& e : set.defaults) result.global_options.emplace_back(e.key, e.value);
  for (const auto& e : set.global_opts) result.global_options.emplace_back(e.key, e.value);

  if (normal) {
    std::fputs("\n", out);
    std::fputs(job::format_report(result).c_str(), out);
  } else {
    std::fputs((report_json(result).dump(2) + "\n").c_str(), out);
  }
  if (out != stdout) std::fclose(out);
  std::fflush(stdout);
  if (!ra.plot_dir.empty() && !write_plots({{"", report_json(result)}}, ra.plot_dir, &err))
    return fail(err);
  for (const auto& ts : result.jobs)
    if (ts.error)
      std::fprintf(stderr, "iostack: job '%s': err=%d (%s)\n", ts.name.c_str(), ts.error,
                   ts.verror.c_str());
  return result.failed() ? 1 : 0;
}

}  // namespace iostack::tool
