// Seed slices in child processes, their output and summaries gathered.
#include "slices.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace fuzz {
namespace {

// A summary as lines: "S seeds identical unstable divergent allowed", then
// "C count<TAB>class<TAB>seed seed ..." per class.
std::string encode(const Summary& s) {
  std::string out = "S " + std::to_string(s.seeds) + " " + std::to_string(s.identical) + " " +
                    std::to_string(s.unstable) + " " + std::to_string(s.divergent) + " " +
                    std::to_string(s.allowed) + "\n";
  for (const auto& [cls, n] : s.by_class) {
    out += "C " + std::to_string(n) + "\t" + cls + "\t";
    for (std::uint64_t sd : s.class_seeds.at(cls)) out += std::to_string(sd) + " ";
    out += "\n";
  }
  return out;
}

bool decode_into(const std::string& text, Summary* m) {
  std::size_t pos = 0;
  bool header = false;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    unsigned long long v[5];
    if (std::sscanf(line.c_str(), "S %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4]) == 5) {
      m->seeds += v[0];
      m->identical += v[1];
      m->unstable += v[2];
      m->divergent += v[3];
      m->allowed += v[4];
      header = true;
      continue;
    }
    const std::size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    if (line.rfind("C ", 0) != 0 || t2 == std::string::npos) return false;
    const std::string cls = line.substr(t1 + 1, t2 - t1 - 1);
    m->by_class[cls] += std::stoull(line.substr(2, t1 - 2));
    auto& seeds = m->class_seeds[cls];
    const char* p = line.c_str() + t2 + 1;
    for (char* next;; p = next) {
      const unsigned long long sd = std::strtoull(p, &next, 10);
      if (next == p) break;
      if (seeds.size() < 8) seeds.push_back(sd);
    }
  }
  return header;
}

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  for (off_t off = 0;;) {
    const ssize_t n = pread(fd, buf, sizeof(buf), off);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
}

struct Child {
  pid_t pid = -1;
  int out = -1;      // what the slice printed
  int summary = -1;  // its encoded summary
  std::uint64_t first = 0;
};

}  // namespace

bool run_in_slices(std::uint64_t start, std::uint64_t seeds, unsigned jobs,
                   const std::function<Summary(std::uint64_t first, std::uint64_t count)>& slice,
                   Summary* merged) {
  std::vector<Child> kids;
  std::fflush(stdout);
  for (unsigned j = 0; j < jobs; ++j) {
    const std::uint64_t first = start + seeds * j / jobs;
    const std::uint64_t count = start + seeds * (j + 1) / jobs - first;
    if (count == 0) continue;
    Child c;
    c.first = first;
    c.out = memfd_create("iostack-fuzz-out", MFD_CLOEXEC);
    c.summary = memfd_create("iostack-fuzz-summary", MFD_CLOEXEC);
    if (c.out < 0 || c.summary < 0) {
      std::perror("iostack-fuzz: memfd_create");
      return false;
    }
    c.pid = fork();
    if (c.pid < 0) {
      std::perror("iostack-fuzz: fork");
      return false;
    }
    if (c.pid == 0) {
      dup2(c.out, STDOUT_FILENO);
      const std::string s = encode(slice(first, count));
      std::fflush(stdout);
      _exit(write(c.summary, s.data(), s.size()) == static_cast<ssize_t>(s.size()) ? 0 : 1);
    }
    kids.push_back(c);
  }
  bool ok = true;
  for (Child& c : kids) {
    int st = 0;
    while (waitpid(c.pid, &st, 0) < 0 && errno == EINTR) {
    }
    const std::string out = read_all(c.out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !decode_into(read_all(c.summary), merged)) {
      std::fprintf(stderr, "iostack-fuzz: the slice from seed %" PRIu64 " did not finish\n",
                   c.first);
      ok = false;
    }
    close(c.out);
    close(c.summary);
  }
  return ok;
}

}  // namespace fuzz
