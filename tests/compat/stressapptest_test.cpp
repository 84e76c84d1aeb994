// stressapptest's disk thread (-d) writes patterned blocks with O_DIRECT
// through libaio, from its own thread and two random-offset threads, reads
// them back and checks every byte. With the kernel's AIO refused it stops
// with a procedural error; under `iostack exec` it must pass as on the kernel.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_SECCOMP_EXEC) && defined(IOSTACK_COMPAT_IOSTACK)

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

TEST(Stressapptest, DiskThreadVerifiesEveryBlockOnIostacksAio) {
  SKIP_IF_SANITIZED();
  const std::string sat = compat::which("stressapptest");
  if (sat.empty()) GTEST_SKIP() << "stressapptest is not installed (Debian package stressapptest)";
  const std::string disk =
      std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/sat." + std::to_string(getpid());
  ASSERT_EQ(compat::run({"truncate", "-s", "64M", disk}).status, 0);
  const std::vector<std::string> argv = {sat,
                                         "-s",
                                         "3",
                                         "-M",
                                         "16",
                                         "-m",
                                         "1",
                                         "-d",
                                         disk,
                                         "--destructive",
                                         "--cache-size",
                                         "1",
                                         "--random-threads",
                                         "2"};
  std::vector<std::string> refused = argv;
  refused.insert(refused.begin(), IOSTACK_COMPAT_SECCOMP_EXEC);
  EXPECT_TRUE(contains(compat::run(refused).output, "Status: FAIL"))
      << "the filter no longer stops stressapptest's AIO";
  std::vector<std::string> ours = argv;
  ours.insert(ours.begin(),
              {IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec", "--stats", "--"});
  const auto r = compat::run(ours);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "Status: PASS")) << r.output;
  EXPECT_FALSE(contains(r.output, "miscompare")) << r.output;
  EXPECT_TRUE(contains(r.output, "  aio: PREAD=")) << r.output;
  EXPECT_TRUE(contains(r.output, " PWRITE=")) << r.output;
  unlink(disk.c_str());
}

#endif

}  // namespace
