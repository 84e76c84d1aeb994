// A scratch directory under /tmp for one test, removed with what it holds.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

namespace iostack::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/iostack-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  // Only by its maker: a forked child that exits leaves it to the parent.
  ~TempDir() {
    if (::getpid() == owner_) std::system(("rm -rf '" + path + "'").c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `data` to `name` in the directory; returns its path.
  std::string file(const std::string& name, const std::string& data) const {
    const std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }

 private:
  pid_t owner_ = ::getpid();
};

// A fresh directory for each call, all inside one that goes when the test
// program exits (for helpers that hand out paths rather than objects).
inline std::string scratch_dir() {
  static const TempDir root;
  static std::atomic<int> made{0};
  const std::string d = root.path + "/" + std::to_string(++made);
  ::mkdir(d.c_str(), 0755);
  return d;
}

}  // namespace iostack::test
