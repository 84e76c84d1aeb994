// iostack crash: runs a checker on every crash state of a log-writes record
// (dev/crash_states.hpp), as CrashMonkey does: the state is written to an
// image file, the command runs with IOSTACK_CRASH_IMAGE naming it (and
// IOSTACK_CRASH_STATE describing it); exit status 0 means consistent.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "commands.hpp"
#include "dev/crash_states.hpp"
#include "dev/log_replay.hpp"
#include "map/mapfs_format.hpp"

namespace iostack::tool {
namespace {

constexpr const char* kUsage =
    "usage: iostack crash --log FILE --image PATH [--dir DIR] [--size BYTES] [--subsets N] "
    "[--seed N] -- CHECK [ARGS...]\n"
    "  Builds each crash state of a log-writes log in PATH and runs CHECK on it\n"
    "  (IOSTACK_CRASH_IMAGE=PATH); exit 0 means consistent. --dir: the image is of a\n"
    "  directory mapped by `iostack exec --map DIR/=SPEC`; its files are written to DIR\n"
    "  (IOSTACK_CRASH_DIR) first. Exit status: 0 all consistent, 2 some inconsistent,\n"
    "  1 on errors.\n";

bool parse_u64(const std::string& s, std::uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 10);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

int fail(const std::string& why) {
  std::fprintf(stderr, "iostack crash: %s\n", why.c_str());
  return 1;
}

// Runs the checker; its exit status, or 128 + signal.
int run_check(const std::vector<std::string>& cmd, const std::string& image, const std::string& dir,
              const std::string& state) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    setenv("IOSTACK_CRASH_IMAGE", image.c_str(), 1);
    setenv("IOSTACK_CRASH_STATE", state.c_str(), 1);
    if (!dir.empty()) setenv("IOSTACK_CRASH_DIR", dir.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "iostack crash: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

int cmd_crash(const std::vector<std::string>& args) {
  std::string log, image, dir;
  std::uint64_t size = 0, subsets = 4, seed = 1;
  std::vector<std::string> check;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      check.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= args.size()) return fail(a + ": expected a value\n" + kUsage);
    const std::string& v = args[++i];
    if (a == "--log") {
      log = v;
    } else if (a == "--image") {
      image = v;
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--size" || a == "--subsets" || a == "--seed") {
      std::uint64_t n;
      if (!parse_u64(v, &n)) return fail(a + ": expected an unsigned number, got \"" + v + "\"");
      (a == "--size" ? size : a == "--subsets" ? subsets : seed) = n;
    } else {
      return fail("unknown option " + a + "\n" + kUsage);
    }
  }
  if (log.empty() || image.empty() || check.empty())
    return fail(std::string("--log, --image and a CHECK command are required\n") + kUsage);
  std::vector<dev::LogEntry> entries;
  std::uint32_t sectorsize;
  std::string err;
  if (!dev::read_log(log, &entries, &sectorsize, &err)) return fail(err);
  if (!size)
    for (const auto& e : entries) size = std::max(size, (e.sector + e.nr_sectors) << 9);
  const auto states = dev::crash_states(entries, static_cast<unsigned>(subsets), seed);
  std::printf("iostack crash: %zu crash states from %zu log entries\n", states.size(),
              entries.size());
  std::size_t bad = 0;
  for (const auto& s : states) {
    const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) < 0) {
      if (fd >= 0) ::close(fd);
      return fail(image + ": " + std::strerror(errno));
    }
    const int r = dev::apply_crash_state(entries, s, dev::replay_write_to_fd(fd));
    ::close(fd);
    if (r < 0) return fail(image + ": " + std::strerror(-r));
    const std::string what = dev::describe(entries, s);
    // A directory that does not mount is inconsistent without a check.
    std::string why;
    const bool mounted = dir.empty() || map::fs_extract_image(image, dir, &why);
    const int st = mounted ? run_check(check, image, dir, what) : -1;
    if (st != 0) {
      ++bad;
      if (mounted)
        std::printf("inconsistent: %s: exit status %d\n", what.c_str(), st);
      else
        std::printf("inconsistent: %s: %s\n", what.c_str(), why.c_str());
      for (std::uint64_t i : s.extra) std::printf("  %s\n", dev::describe(entries[i]).c_str());
    }
  }
  std::printf("checked %zu crash states: %zu inconsistent\n", states.size(), bad);
  return bad ? 2 : 0;
}

}  // namespace iostack::tool

namespace iostack::tool {

int cmd_dir_files(const std::string& image, const std::string& dir) {
  std::string err;
  if (map::fs_extract_image(image, dir, &err)) return 0;
  std::fprintf(stderr, "iostack dir-files: %s\n", err.c_str());
  return 1;
}

}  // namespace iostack::tool
