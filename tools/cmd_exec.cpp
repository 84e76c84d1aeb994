// iostack exec: runs an unmodified program on iostack's io_uring and AIO.
// The drop-in liburing and libaio and the interposer are preloaded into
// it (LD_PRELOAD, which its children inherit), and the interposer catches
// the io_uring and AIO system calls the program makes itself.
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "dropin_dir.hpp"

namespace iostack::tool {
namespace {

constexpr const char* kUsage =
    "usage: iostack exec [--uring|--aio|--all] [--stats] [--workers] [--map PATH=SPEC]...\n"
    "                    [--image PATH=FILE]...\n"
    "                    [--powercut=WHEN] -- PROG [ARGS...]\n"
    "  --uring   serve io_uring with iostack; AIO goes to the kernel\n"
    "  --aio     serve Linux AIO with iostack; io_uring goes to the kernel\n"
    "  --all     serve both\n"
    "  (default: the families the kernel refuses here; both where it refuses none)\n"
    "  --stats   print what iostack did when each process exits (on stderr)\n"
    "  --workers do O_DIRECT file I/O with iostack's own threads, never through the\n"
    "            kernel's AIO or io_uring where they are allowed (slower; fanotify and\n"
    "            inotify then see each read and write, as with the kernel's io_uring)\n"
    "  --map PATH=SPEC   the program's file PATH is the device SPEC (e.g. wcache:ram:64M),\n"
    "            reached through a page cache model; PATH exists (empty) from the start\n"
    "  --map DIR/=SPEC   the files the program (and its children) make in DIR live on\n"
    "            SPEC, a small file system whose names are durable after fsync of DIR\n"
    "  --image PATH=FILE after the run (or the power cut) FILE gets the durable contents\n"
    "            of mapped PATH, cut at its durable size (DIR/=OUTDIR: the durable files)\n"
    "  --powercut=WHEN   cut the power of the mapped devices and SIGKILL the program:\n"
    "            writes=N (after N block writes), calls=N (after the program's Nth\n"
    "            write call), fsync=N (at the Nth fsync), ms=N, or\n"
    "            random[,seed=S][,writes=R|calls=R] (after 1..R of them, drawn from S)\n";

// Prepends `value` to the list in environment variable `name`.
void prepend_env(const char* name, const std::string& value, const char* sep) {
  const char* old = std::getenv(name);
  const std::string v = old && *old ? value + sep + old : value;
  setenv(name, v.c_str(), 1);
}

bool exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// "PATH=VALUE" with PATH made absolute (its directory resolved, as the
// program's own opens will name it). "DIR/=VALUE" names a directory, made
// if missing, and keeps its trailing slash.
bool split_path_value(const std::string& s, std::pair<std::string, std::string>* out) {
  const std::size_t eq = s.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == s.size()) return false;
  std::string path = s.substr(0, eq);
  if (path.back() == '/') {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/") return false;
    if (mkdir(path.c_str(), 0755) < 0 && errno != EEXIST) return false;
    char* real = realpath(path.c_str(), nullptr);
    if (!real) return false;
    out->first = std::string(real) + "/";
    out->second = s.substr(eq + 1);
    std::free(real);
    return true;
  }
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  char* real = realpath(dir.c_str(), nullptr);
  if (!real || base.empty()) {
    std::free(real);
    return false;
  }
  out->first = std::string(real) + (std::strcmp(real, "/") == 0 ? "" : "/") + base;
  out->second = s.substr(eq + 1);
  std::free(real);
  return true;
}

// Whether the kernel (and any seccomp filter above this process, which the
// program inherits) answers io_uring_setup / io_setup here.
bool kernel_serves_uring() {
  io_uring_params p{};
  const long fd = syscall(SYS_io_uring_setup, 1, &p);
  if (fd < 0) return false;
  close(static_cast<int>(fd));
  return true;
}
bool kernel_serves_aio() {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) != 0) return false;
  syscall(SYS_io_destroy, ctx);
  return true;
}

// Without a flag: iostack takes the families the kernel refuses and leaves
// the kernel the rest (iostack's own O_DIRECT I/O then runs on them too);
// where the kernel refuses nothing, iostack serves both, to be studied.
std::string default_serve() {
  const bool uring = kernel_serves_uring();
  const bool aio = kernel_serves_aio();
  if (uring == aio) return "all";
  return uring ? "aio" : "uring";
}

}  // namespace

int cmd_exec(const std::vector<std::string>& args) {
  std::string serve;
  bool stats = false;
  std::vector<std::pair<std::string, std::string>> maps;  // absolute path, spec
  std::vector<std::pair<std::string, std::string>> images;
  std::string powercut;
  bool workers = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--uring" || a == "--aio" || a == "--all") {
      serve = a.substr(2);
    } else if (a == "--stats") {
      stats = true;
    } else if (a == "--workers") {
      workers = true;
    } else if (a == "--map" || a == "--image" || a.rfind("--map=", 0) == 0 ||
               a.rfind("--image=", 0) == 0) {
      const bool is_map = a.rfind("--map", 0) == 0;
      const std::size_t eq = a.find('=');
      std::string v;
      if (eq != std::string::npos) {
        v = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        v = args[++i];
      }
      std::pair<std::string, std::string> pv;
      if (!split_path_value(v, &pv)) {
        std::fprintf(stderr, "iostack exec: %s: expected PATH=%s, got '%s'\n",
                     is_map ? "--map" : "--image", is_map ? "SPEC" : "FILE", v.c_str());
        return 2;
      }
      (is_map ? maps : images).push_back(pv);
    } else if (a.rfind("--powercut=", 0) == 0) {
      powercut = a.substr(11);
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "iostack exec: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      break;  // the program, without a "--" before it
    }
  }
  if (i >= args.size()) {
    std::fprintf(stderr, "iostack exec: no program to run\n%s", kUsage);
    return 2;
  }

  if (serve.empty()) serve = default_serve();
  const std::string dir = dropin_dir();
  const std::string shim = dir + "/libiostack_preload.so";
  const std::string uring = dir + "/liburing.so.2";
  const std::string aio = dir + "/libaio.so.1";
  if (dir.empty() || !exists(shim)) {
    std::fprintf(stderr, "iostack exec: iostack's drop-in libraries are not installed (%s)\n",
                 dir.empty() ? "no directory found" : shim.c_str());
    return 127;
  }
  // The drop-ins are preloaded, not put on the library path: a program
  // linked to the system's liburing or libaio gets ours by soname, and
  // a family left to the kernel keeps the system's library.
  std::string preload = shim;
  if (serve != "aio" && exists(uring)) preload += " " + uring;
  if (serve != "uring" && exists(aio)) preload += " " + aio;
  prepend_env("LD_PRELOAD", preload, " ");
  setenv("IOSTACK_EXEC_SERVE", serve.c_str(), 1);
  if (stats) setenv("IOSTACK_STATS", "1", 1);
  if (workers) setenv("IOSTACK_EXEC_WORKERS", "1", 1);
  if (!maps.empty()) {
    std::string env;
    for (const auto& [path, spec] : maps) {
      std::string image;
      for (const auto& [p, f] : images)
        if (p == path) image = f;
      env += path + "\t" + spec + "\t" + image + "\n";
      // The path exists on the real file system too, for the program's
      // stat() and access() of it.
      if (path.back() == '/') continue;
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) close(fd);
    }
    setenv("IOSTACK_EXEC_MAP", env.c_str(), 1);
  } else if (!images.empty() || !powercut.empty()) {
    std::fprintf(stderr, "iostack exec: --image and --powercut need --map\n");
    return 2;
  }
  if (!powercut.empty()) setenv("IOSTACK_EXEC_POWERCUT", powercut.c_str(), 1);

  std::vector<char*> argv;
  for (std::size_t k = i; k < args.size(); ++k) argv.push_back(const_cast<char*>(args[k].c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  const int err = errno;
  std::fprintf(stderr, "iostack exec: %s: %s\n", argv[0], std::strerror(err));
  return err == ENOENT ? 127 : 126;
}

}  // namespace iostack::tool
