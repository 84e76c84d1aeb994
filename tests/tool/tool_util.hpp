// Runs the built iostack binary and captures its exit status and output.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/temp_dir.hpp"

namespace iostack::tool::test {

struct Result {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string temp_dir() { return iostack::test::scratch_dir(); }

inline std::string example(const std::string& name) {
  return std::string(IOSTACK_SOURCE_DIR) + "/examples/" + name;
}

// `args` is pasted into a shell command line after the binary.
inline Result run(const std::string& args) {
  static const std::string dir = temp_dir();
  const std::string out = dir + "/out", err = dir + "/err";
  const std::string cmd = std::string(IOSTACK_BINARY_DIR) + "/iostack " + args + " >" + out +
                          " 2>" + err + " </dev/null";
  Result r;
  const int st = std::system(cmd.c_str());
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline std::string write_file(const std::string& name, const std::string& text) {
  static const std::string dir = temp_dir();
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

inline int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace iostack::tool::test
