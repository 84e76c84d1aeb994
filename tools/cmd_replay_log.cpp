// iostack replay-log: what the kernel's companion tool replay-log does for
// dm-log-writes logs, for the logs a log-writes target writes: list the
// entries, or apply them to a file or device up to an entry count or mark.
#include <cstdio>

#include "commands.hpp"
#include "dev/log_format.hpp"
#include "dev/log_replay.hpp"

namespace iostack::tool {

int cmd_replay_log(const std::string& log, const std::string& target, std::uint64_t limit,
                   const std::string& end_mark, bool list) {
  std::string err;
  if (list) {
    std::vector<dev::LogEntry> entries;
    std::uint32_t sectorsize;
    if (!dev::read_log(log, &entries, &sectorsize, &err)) {
      std::fprintf(stderr, "iostack replay-log: %s\n", err.c_str());
      return 1;
    }
    std::printf("# %zu entries, sector size %u; index flags sector sectors [mark]\n",
                entries.size(), sectorsize);
    for (const auto& e : entries) std::printf("%s\n", dev::describe(e).c_str());
    return 0;
  }
  if (target.empty()) {
    std::fputs("iostack replay-log: --replay PATH (or --list) is required\n", stderr);
    return 1;
  }
  dev::ReplayLimit lim;
  lim.max_entries = limit;
  lim.end_mark = end_mark;
  const std::int64_t n = dev::replay_log_to_path(log, target, lim, &err);
  if (n < 0) {
    std::fprintf(stderr, "iostack replay-log: %s\n", err.c_str());
    return 1;
  }
  std::printf("replayed %lld entries onto %s\n", static_cast<long long>(n), target.c_str());
  return 0;
}

}  // namespace iostack::tool
