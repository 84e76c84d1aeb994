// The drop-in libaio.so.1 exports exactly the system library's symbols and
// versions (programs run on it in tests/compat: fio, sysbench).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "aio_backends.hpp"
#include "run_program.hpp"

namespace iostack::aio::testing {
namespace {

constexpr const char* kSystemLibaio = "/usr/lib/x86_64-linux-gnu/libaio.so.1";

std::set<std::string> exported(const std::string& lib) {
  std::set<std::string> out;
  const ProgramResult r = run_program({"objdump", "-T", lib}, {}, false);
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" g ") == std::string::npos || line.find("*UND*") != std::string::npos) continue;
    std::istringstream f(line);
    std::vector<std::string> w;
    std::string x;
    while (f >> x) w.push_back(x);
    if (w.size() >= 2) out.insert(w[w.size() - 2] + " " + w.back());
  }
  return out;
}

class AioClients : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = libaio_dir();
    if (dir_.empty()) GTEST_SKIP() << "compat/libaio not built (add_subdirectory(compat))";
  }
  std::string dir_;
};

TEST_F(AioClients, DropInExportsTheSystemLibaioSymbols) {
  if (::access(kSystemLibaio, R_OK) != 0 || !have_program("objdump")) GTEST_SKIP();
  const auto mine = exported(dir_ + "/libaio.so.1");
  const auto sys = exported(kSystemLibaio);
  EXPECT_EQ(mine, sys);
  EXPECT_EQ(sys.size(), 16u);
}

}  // namespace
}  // namespace iostack::aio::testing
