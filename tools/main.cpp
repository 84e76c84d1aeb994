// The iostack command: run fio-style jobs through iostack's block layer,
// and look at the devices and queues jobs use.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"iostack: Linux's storage I/O path in user space"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "iostack-" IOSTACK_VERSION);

  auto* run = app.add_subcommand(
      "run",
      "Run jobs (fio job files and/or --option=value); no job: the built-in default.\n"
      "Tool options: --output-format=normal|json --output=FILE --trace=DIR "
      "--eta=auto|always|never --plot=DIR");
  run->prefix_command();
  run->set_help_flag();  // --help reaches cmd_run's own parser as a job option

  auto* replay = app.add_subcommand(
      "replay",
      "Replay block traces (blktrace, fio iolog v2/v3, MSR CSV) onto a device:\n"
      "TRACE... --filename=SPEC [--speed=N|--afap] [--iodepth=N] [--ioscheduler=S] ...");
  replay->prefix_command();
  replay->set_help_flag();

  auto* plot = app.add_subcommand(
      "plot", "Draw SVG charts from JSON reports: RESULT.json... --out=DIR (a line per run)");
  plot->prefix_command();
  plot->set_help_flag();

  std::vector<std::string> specs;
  auto* devices = app.add_subcommand("devices", "Create device SPECs and show them (lsblk-like)");
  devices->add_option("spec", specs, "device specs, e.g. ram:64M null:1G,irqmode=0");

  std::vector<std::string> qargs;
  auto* queue = app.add_subcommand(
      "queue", "Show or set queue attributes: SPEC [ATTR [VALUE]]; SPEC message MSG...");
  queue->add_option("args", qargs, "SPEC [ATTR [VALUE]] or SPEC message MSG...")->expected(1, -1);

  std::string log_path, replay_path, end_mark;
  std::uint64_t limit = UINT64_MAX;
  bool list = false;
  auto* replay_log = app.add_subcommand(
      "replay-log", "Replay a log-writes log onto a file or device, up to an entry or mark");
  replay_log->add_option("--log", log_path, "the log file a log-writes target wrote")->required();
  replay_log->add_option("--replay", replay_path, "the file or block device to write");
  replay_log->add_option("--limit", limit, "apply at most this many entries");
  replay_log->add_option("--end-mark", end_mark, "stop after the mark with this text");
  replay_log->add_flag("--list", list, "print the log's entries instead");

  std::string files_image, files_dir;
  auto* dir_files = app.add_subcommand(
      "dir-files", "Write the files of an `exec --map DIR/=SPEC` device image into a directory");
  dir_files->add_option("image", files_image, "the device image (a log replay, a crash state)")
      ->required();
  dir_files->add_option("dir", files_dir, "the directory to write (its files are replaced)")
      ->required();

  auto* exec = app.add_subcommand(
      "exec",
      "Run a program on iostack's io_uring and AIO: [--uring|--aio|--all] [--stats] -- PROG "
      "[ARGS...]");
  app.add_subcommand("crash",
                     "Check every crash state of a log-writes log: --log FILE --image PATH "
                     "[--dir DIR] [--size BYTES] [--subsets N] [--seed N] -- CHECK [ARGS...]");
  if (argc > 1 && std::string(argv[1]) == "crash")
    return iostack::tool::cmd_crash(std::vector<std::string>(argv + 2, argv + argc));
  // exec hands everything after it to cmd_exec untouched ("--" included).
  if (argc > 1 && std::string(argv[1]) == "exec")
    return iostack::tool::cmd_exec(std::vector<std::string>(argv + 2, argv + argc));
  (void)exec;

  CLI11_PARSE(app, argc, argv);
  if (run->parsed()) return iostack::tool::cmd_run(run->remaining());
  if (replay->parsed()) return iostack::tool::cmd_replay(replay->remaining());
  if (plot->parsed()) return iostack::tool::cmd_plot(plot->remaining());
  if (devices->parsed()) return iostack::tool::cmd_devices(specs);
  if (queue->parsed()) return iostack::tool::cmd_queue(qargs);
  if (dir_files->parsed()) return iostack::tool::cmd_dir_files(files_image, files_dir);
  if (replay_log->parsed())
    return iostack::tool::cmd_replay_log(log_path, replay_path, limit, end_mark, list);
  return 1;
}
