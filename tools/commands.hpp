// The iostack subcommands; each returns the process exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "job/job_builder.hpp"
#include "job/job_file.hpp"

namespace iostack::tool {

// iostack run [--output-format=normal|json] [--output=FILE] [--trace=DIR]
//             [--eta=auto|always|never] [--job-option=value ...] [JOBFILE ...]
int cmd_run(const std::vector<std::string>& args);
// How run and replay report: fio's normal or json format, where, and the
// blktrace directory and progress line of the run.
struct ReportArgs {
  std::string format = "normal";
  std::string output;
  std::string trace_dir;
  std::string eta = "auto";
  std::string plot_dir;  // --plot=DIR: SVG charts of the run
};
// Runs built jobs and prints the report (cmd_run's second half).
int run_jobs(const std::vector<job::JobDef>& jobs, const job::JobFileSet& set,
             const ReportArgs& ra);
// iostack replay TRACE... --filename=SPEC [--speed=N|--afap] [job options]
int cmd_replay(const std::vector<std::string>& args);
// iostack plot RESULT.json... --out=DIR
int cmd_plot(const std::vector<std::string>& args);
// iostack devices [SPEC ...]
int cmd_devices(const std::vector<std::string>& specs);
// iostack queue SPEC [ATTR [VALUE]] | SPEC message MSG...
int cmd_queue(const std::vector<std::string>& args);
// iostack replay-log --log FILE (--replay PATH [--limit N] [--end-mark M] | --list)
int cmd_replay_log(const std::string& log, const std::string& target, std::uint64_t limit,
                   const std::string& end_mark, bool list);
// iostack crash --log FILE --image PATH [--dir DIR] [--size B] [--subsets N] [--seed N] -- CHECK...
int cmd_crash(const std::vector<std::string>& args);
// iostack dir-files IMAGE DIR: the files of an `exec --map DIR/=SPEC` device image.
int cmd_dir_files(const std::string& image, const std::string& dir);
// iostack exec [--uring|--aio|--all] [--stats] -- PROG [ARGS...]; returns
// only when PROG cannot be started.
int cmd_exec(const std::vector<std::string>& args);

}  // namespace iostack::tool
