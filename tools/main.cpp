// The iostack command: run fio-style jobs through iostack's block layer,
// and look at the devices and queues jobs use.
#include <CLI/CLI.hpp>

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
  auto* queue = app.add_subcommand("queue", "Show or set queue attributes: SPEC [ATTR [VALUE]]");
  queue->add_option("args", qargs, "SPEC [ATTR [VALUE]]")->expected(1, 3);

  auto* exec = app.add_subcommand(
      "exec",
      "Run a program on iostack's io_uring and AIO: [--uring|--aio|--all] [--stats] -- PROG "
      "[ARGS...]");
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
  return 1;
}
