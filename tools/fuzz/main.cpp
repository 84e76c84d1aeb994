// iostack-fuzz: randomized differential testing of io_uring and Linux AIO,
// the kernel against iostack.
//
//   iostack-fuzz uring|aio [--seeds N] [--start S] [--no-minimize] [--examples K]
//                [--quiet-ms MS] [--timeout-ms MS] [--time-limit SEC] [--tmpdir DIR]
//                [--allow CLASS]... [--allow-file FILE] [--verbose] [--jobs N]
//   iostack-fuzz uring|aio --show SEED [--verbose]      one seed: program and differences
//
// Exit status: 0 when every compared seed gave the kernel's answers (or a
// difference listed with --allow), 1 when some did not, 2 on bad usage.
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "aio_prog.hpp"
#include "campaign_impl.hpp"
#include "slices.hpp"
#include "uring_prog.hpp"

namespace fuzz {
namespace {

int usage(const char* msg) {
  std::fprintf(stderr, "iostack-fuzz: %s\n", msg);
  std::fprintf(
      stderr,
      "usage: iostack-fuzz uring|aio [--seeds N] [--start S] [--show SEED] [--no-minimize]\n"
      "       [--examples K] [--quiet-ms MS] [--timeout-ms MS] [--time-limit SEC]\n"
      "       [--tmpdir DIR] [--allow CLASS]... [--allow-file FILE] [--crashes-only]\n"
      "       [--verbose] [--jobs N]\n");
  return 2;
}

bool parse_u64(const char* s, std::uint64_t* v) {
  char* end;
  errno = 0;
  *v = std::strtoull(s, &end, 0);
  return errno == 0 && *s && !*end;
}

// Slices side by side load the cores, and some timing-dependent seeds then
// differ every time they are compared. A divergent seed is compared once
// more alone: one that then agrees, or finds the kernel unstable, is
// reported apart from the divergences (the seeds, not a count: only classes
// whose every seed is known). Crashes and hangs always count.
template <typename Prog>
std::vector<std::uint64_t> recheck_alone(const Campaign<Prog>& c, const Target<Prog>& t,
                                         const Options& o, Summary* s) {
  std::vector<std::uint64_t> load_only;
  for (auto it = s->by_class.begin(); it != s->by_class.end();) {
    const std::string& cls = it->first;
    bool keep = cls.rfind("iostack ", 0) == 0;  // a crash or a hang
    for (const std::string& a : o.allowed) keep = keep || cls.rfind(a, 0) == 0;
    std::vector<std::uint64_t>& seeds = s->class_seeds[cls];
    if (!keep && it->second == seeds.size()) {
      for (auto sd = seeds.begin(); sd != seeds.end();) {
        const Outcome oc = c.confirmed(t.generate(*sd));
        if (oc.kind == Outcome::kDivergent && oc.cls == cls) {
          ++sd;
          continue;
        }
        load_only.push_back(*sd);
        sd = seeds.erase(sd);
        it->second--;
        s->divergent--;
      }
    }
    if (it->second == 0) {
      s->class_seeds.erase(cls);
      it = s->by_class.erase(it);
    } else {
      ++it;
    }
  }
  return load_only;
}

template <typename Prog>
int run(const Target<Prog>& t, const Options& o, bool show, std::uint64_t show_seed) {
  Campaign<Prog> c{t, o};
  if (show) {
    c.show(t.generate(show_seed));
    return 0;
  }
  Summary s;
  bool slices_ok = true;
  if (o.jobs > 1) {
    slices_ok = run_in_slices(
        o.start, o.seeds, o.jobs,
        [&](std::uint64_t first, std::uint64_t count) {
          Options part = o;
          part.start = first;
          part.seeds = count;
          return Campaign<Prog>{t, part}.run_all();
        },
        &s);
  } else {
    s = c.run_all();
  }
  const std::vector<std::uint64_t> load_only =
      o.jobs > 1 && slices_ok ? recheck_alone(c, t, o, &s) : std::vector<std::uint64_t>{};
  std::printf(
      "%s: seeds=%llu identical=%llu kernel-unstable=%llu divergent=%llu allowed=%llu\n", t.name,
      static_cast<unsigned long long>(s.seeds), static_cast<unsigned long long>(s.identical),
      static_cast<unsigned long long>(s.unstable), static_cast<unsigned long long>(s.divergent),
      static_cast<unsigned long long>(s.allowed));
  for (const auto& [cls, n] : s.by_class) {
    std::string seeds;
    for (std::uint64_t sd : s.class_seeds.at(cls)) seeds += " " + std::to_string(sd);
    std::printf("  %6llu  %s  (seeds%s)\n", static_cast<unsigned long long>(n), cls.c_str(),
                seeds.c_str());
  }
  if (!load_only.empty()) {
    std::string seeds;
    for (std::uint64_t sd : load_only) seeds += " " + std::to_string(sd);
    std::printf("  %6zu  divergent beside other slices only, not alone  (seeds%s)\n",
                load_only.size(), seeds.c_str());
  }
  if (!slices_ok) return 1;
  if (!o.crashes_only) return s.divergent ? 1 : 0;
  for (const auto& [cls, n] : s.by_class)
    if (cls.rfind("iostack ", 0) == 0) return 1;  // "iostack crash(N)", "iostack timeout"
  return 0;
}

// Documented differences: "uring|aio<TAB>class prefix<TAB>reason" lines;
// '#' starts a comment.
bool read_allow_file(const char* path, const std::string& what, std::vector<std::string>* out) {
  std::FILE* f = std::fopen(path, "r");
  if (!f) {
    std::fprintf(stderr, "iostack-fuzz: %s: %s\n", path, std::strerror(errno));
    return false;
  }
  // Lines of any length (reasons with evidence run long).
  char* line = nullptr;
  std::size_t cap = 0;
  int n = 0;
  bool ok = true;
  while (getline(&line, &cap, f) >= 0) {
    ++n;
    const std::string l = line;
    if (l.empty() || l[0] == '#' || l[0] == '\n') continue;
    const auto t1 = l.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : l.find('\t', t1 + 1);
    if (t2 == std::string::npos) {
      std::fprintf(stderr, "iostack-fuzz: %s:%d: expected interface<TAB>class<TAB>reason\n", path,
                   n);
      ok = false;
      break;
    }
    if (l.substr(0, t1) == what) out->push_back(l.substr(t1 + 1, t2 - t1 - 1));
  }
  std::free(line);
  std::fclose(f);
  return ok;
}

bool kernel_has(const char* what) {
  if (std::strcmp(what, "uring") == 0) {
    io_uring_params p{};
    const long r = syscall(__NR_io_uring_setup, 2, &p);
    if (r < 0) return false;
    close(static_cast<int>(r));
    return true;
  }
  aio_context_t ctx = 0;
  if (syscall(__NR_io_setup, 1, &ctx) < 0) return false;
  syscall(__NR_io_destroy, ctx);
  return true;
}

}  // namespace
}  // namespace fuzz

int main(int argc, char** argv) {
  using namespace fuzz;
  if (argc < 2) return usage("which interface? uring or aio");
  const std::string what = argv[1];
  if (what != "uring" && what != "aio") return usage(("unknown interface " + what).c_str());
  Options o;
  if (const char* t = std::getenv("TMPDIR")) o.tmpdir = t;
  bool show = false;
  std::uint64_t show_seed = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto num = [&](std::uint64_t* v) {
      if (i + 1 >= argc || !parse_u64(argv[i + 1], v)) return false;
      ++i;
      return true;
    };
    std::uint64_t v;
    if (a == "--seeds" && num(&v)) {
      o.seeds = v;
    } else if (a == "--start" && num(&v)) {
      o.start = v;
    } else if (a == "--show" && num(&v)) {
      show = true;
      show_seed = v;
    } else if (a == "--examples" && num(&v)) {
      o.examples = static_cast<unsigned>(v);
    } else if (a == "--quiet-ms" && num(&v)) {
      o.quiet_ms = static_cast<int>(v);
    } else if (a == "--timeout-ms" && num(&v)) {
      o.timeout_ms = static_cast<int>(v);
    } else if (a == "--time-limit" && num(&v)) {
      o.time_limit_s = static_cast<int>(v);
    } else if (a == "--tmpdir" && i + 1 < argc) {
      o.tmpdir = argv[++i];
    } else if (a == "--allow" && i + 1 < argc) {
      o.allowed.push_back(argv[++i]);
    } else if (a == "--allow-file" && i + 1 < argc) {
      if (!read_allow_file(argv[++i], what, &o.allowed)) return 2;
    } else if (a == "--jobs" && num(&v) && v >= 1 && v <= 64) {
      o.jobs = static_cast<unsigned>(v);
    } else if (a == "--no-minimize") {
      o.minimize = false;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--crashes-only") {
      o.crashes_only = true;
    } else {
      return usage(("bad argument " + a).c_str());
    }
  }
  if (!kernel_has(what.c_str())) {
    std::printf("iostack-fuzz: SKIP: the kernel refuses %s here (%s)\n", what.c_str(),
                std::strerror(errno));
    return 77;
  }
  if (what == "uring") {
    const Target<UringProgram> t{"io_uring",  uring_generate, uring_print,   uring_execute,
                                 uring_items, uring_without,  uring_classify};
    return run(t, o, show, show_seed);
  }
  const Target<AioProgram> t{"aio",     aio_generate, aio_print,   aio_execute,
                             aio_items, aio_without,  aio_classify};
  return run(t, o, show, show_seed);
}
