// A scratch directory under /tmp for one test, removed with what it holds.
#pragma once

#include <stdlib.h>

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
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `data` to `name` in the directory; returns its path.
  std::string file(const std::string& name, const std::string& data) const {
    const std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
};

}  // namespace iostack::test
