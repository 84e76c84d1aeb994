// Unmodified programs built for the system's libaio run on iostack through
// the drop-in libaio.so.1, even with the kernel's AIO system calls refused:
// fio (reaping straight from the ring, verifying crc32c) and sysbench fileio
// in async mode with validation. Also: the drop-in exports exactly the
// system library's symbols and versions.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "../common/sanitized.hpp"
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
  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"LD_LIBRARY_PATH", dir_}, {"IOSTACK_AIO_LOG", "1"}};
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

TEST_F(AioClients, FioVerifiesThroughTheRing) {
  SKIP_IF_SANITIZED();
  if (!have_program("fio")) GTEST_SKIP() << "fio is not installed";
  TempFile file;
  const std::vector<std::string> argv = {"fio",
                                         "--name=aio-verify",
                                         "--filename=" + file.path(),
                                         "--size=16M",
                                         "--rw=randwrite",
                                         "--bs=4k",
                                         "--direct=1",
                                         "--ioengine=libaio",
                                         "--iodepth=32",
                                         "--iodepth_batch_submit=8",
                                         "--iodepth_batch_complete_min=0",
                                         "--userspace_reap=1",
                                         "--verify=crc32c",
                                         "--do_verify=1",
                                         "--verify_fatal=1",
                                         "--group_reporting"};
  // With the system's libaio and the kernel's AIO refused, fio cannot run.
  const ProgramResult blocked = run_program(argv, {}, true);
  EXPECT_NE(blocked.exit_status, 0) << blocked.output;
  // With iostack's it runs, verifies and says so.
  const ProgramResult r = run_program(argv, env(), true);
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_NE(r.output.find("iostack aio: io_setup(32) = 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("err= 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("issued rwts: total=4096,4096"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("verify failed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("bad magic"), std::string::npos) << r.output;
}

TEST_F(AioClients, FioBufferedRandRwWithGetevents) {
  SKIP_IF_SANITIZED();
  if (!have_program("fio")) GTEST_SKIP() << "fio is not installed";
  TempFile file;
  const ProgramResult r =
      run_program({"fio", "--name=aio-rw", "--filename=" + file.path(), "--size=8M", "--rw=randrw",
                   "--bs=4k", "--ioengine=libaio", "--iodepth=16", "--verify=crc32c",
                   "--verify_fatal=1", "--do_verify=1", "--number_ios=4096"},
                  env(), true);
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_NE(r.output.find("iostack aio: io_setup"), std::string::npos) << r.output;
}

TEST_F(AioClients, SysbenchFileioAsyncValidates) {
  SKIP_IF_SANITIZED();
  if (!have_program("sysbench"))
    GTEST_SKIP() << "sysbench is not installed (apt-get install sysbench)";
  char tmpl[] = "/var/tmp/iostack-sysbench-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::vector<std::string> common = {"sysbench", "fileio", "--file-num=2",
                                           "--file-total-size=16M"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(run_program(with({"--validate=on", "prepare"}), {}, false, dir).exit_status, 0);
  // sysbench checks the checksums it wrote itself: a sequential write pass
  // first, then random reads and writes, all validated, all through
  // iostack with the kernel's AIO refused.
  for (const char* mode : {"seqwr", "rndrw"}) {
    SCOPED_TRACE(mode);
    const ProgramResult r =
        run_program(with({std::string("--file-test-mode=") + mode, "--file-io-mode=async",
                          "--file-async-backlog=64", "--validate=on", "--time=2", "run"}),
                    env(), true, dir);
    EXPECT_EQ(r.exit_status, 0) << r.output;
    EXPECT_NE(r.output.find("iostack aio: io_setup"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("Using checksums validation"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("FATAL"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("writes/s:"), std::string::npos) << r.output;
  }
  // O_DIRECT through the worker pool (sysbench cannot validate direct reads).
  const ProgramResult d =
      run_program(with({"--file-test-mode=rndrw", "--file-io-mode=async",
                        "--file-extra-flags=direct", "--file-async-backlog=64", "--time=2", "run"}),
                  env(), true, dir);
  EXPECT_EQ(d.exit_status, 0) << d.output;
  EXPECT_EQ(d.output.find("FATAL"), std::string::npos) << d.output;
  run_program(with({"cleanup"}), {}, false, dir);
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace iostack::aio::testing
