// `iostack exec -- PROG` under a seccomp filter that refuses the kernel's
// io_uring and AIO, as Docker's default profile does: the database pattern
// (an AIO context from libaio's io_setup reaped with a raw io_getevents), a
// program statically linked with the system's liburing, a ring used as a
// file; --uring / --aio leave the other family to the kernel; --stats
// reports per process; bad use gets one clear line.
#include <gtest/gtest.h>
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_IOSTACK)

std::vector<std::string> exec_argv(std::vector<std::string> opts, std::vector<std::string> prog,
                                   bool uring_only = false) {
  std::vector<std::string> argv = {IOSTACK_COMPAT_SECCOMP_EXEC};
  if (uring_only) argv.push_back("--uring-only");
  argv.insert(argv.end(), {IOSTACK_COMPAT_IOSTACK, "exec"});
  argv.insert(argv.end(), opts.begin(), opts.end());
  argv.push_back("--");
  argv.insert(argv.end(), prog.begin(), prog.end());
  return argv;
}

std::string scratch(const char* tag) {
  return std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/exec." + tag + "." + std::to_string(getpid());
}

// The output on iostack must be the kernel's (when the kernel answers here).
void expect_kernel_output(const compat::RunResult& ours, const std::vector<std::string>& prog) {
  EXPECT_EQ(ours.status, 0) << ours.output;
  const auto kernel = compat::run(prog);
  if (kernel.status != 0) GTEST_SKIP() << "no kernel reference here: " << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#if defined(IOSTACK_COMPAT_AIO_ONE_ENGINE)
TEST(Exec, DatabasePatternLibaioSetupRawGetevents) {
  SKIP_IF_SANITIZED();
  const std::vector<std::string> prog = {IOSTACK_COMPAT_AIO_ONE_ENGINE, scratch("aio")};
  expect_kernel_output(compat::run(exec_argv({}, prog)), prog);
}

// Docker's profile refuses io_uring only: without a flag, iostack serves
// io_uring and the program's AIO goes to the kernel.
TEST(Exec, DefaultServesWhatTheKernelRefuses) {
  SKIP_IF_SANITIZED();
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) != 0) GTEST_SKIP() << "the kernel refuses AIO here";
  syscall(SYS_io_destroy, ctx);
  const auto aio = compat::run(
      exec_argv({"--stats"}, {IOSTACK_COMPAT_AIO_ONE_ENGINE, scratch("default")}, true));
  EXPECT_EQ(aio.status, 0) << aio.output;
  EXPECT_NE(aio.output.find("  aio: none\n"), std::string::npos) << aio.output;
  const auto ring = compat::run(exec_argv({"--stats"}, {IOSTACK_COMPAT_RING_FD_CLIENT}, true));
  EXPECT_EQ(ring.status, 0) << ring.output;
  EXPECT_NE(ring.output.find("io_uring: NOP=3\n"), std::string::npos) << ring.output;
}

// Both families refused: iostack's AIO serves the two reads, and --stats
// counts them by command with their bytes.
TEST(Exec, StatsCountAioRequests) {
  SKIP_IF_SANITIZED();
  const auto r =
      compat::run(exec_argv({"--stats"}, {IOSTACK_COMPAT_AIO_ONE_ENGINE, scratch("stats")}));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("  aio: PREAD=2\n  bytes: read=8192 written=0\n"), std::string::npos)
      << r.output;
}

TEST(Exec, UringOnlyLeavesAioToTheKernel) {
  SKIP_IF_SANITIZED();
  const auto r = compat::run(exec_argv({"--uring"}, {IOSTACK_COMPAT_AIO_ONE_ENGINE, scratch("u")}));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output, "libaio io_setup -1\nraw io_setup -1\nfailures 2\n");  // the filter's EPERM
}
#endif

#if defined(IOSTACK_COMPAT_STATIC_URING_CLIENT)
TEST(Exec, ProgramWithTheSystemLiburingLinkedIn) {
  SKIP_IF_SANITIZED();
  const std::vector<std::string> prog = {IOSTACK_COMPAT_STATIC_URING_CLIENT, scratch("static"),
                                         "32"};
  expect_kernel_output(compat::run(exec_argv({}, prog)), prog);
}
#endif

TEST(Exec, RingDescriptorUsedAsAFile) {
  SKIP_IF_SANITIZED();
  const std::vector<std::string> prog = {IOSTACK_COMPAT_RING_FD_CLIENT};
  expect_kernel_output(compat::run(exec_argv({}, prog)), prog);
}

TEST(Exec, AioOnlyLeavesIoUringToTheKernel) {
  SKIP_IF_SANITIZED();
  const auto r = compat::run(exec_argv({"--aio"}, {IOSTACK_COMPAT_RING_FD_CLIENT}));
  EXPECT_EQ(r.output, "setup -1\n");  // io_uring_setup refused by the filter: EPERM
}

TEST(Exec, StatsArePrintedByEachProcess) {
  SKIP_IF_SANITIZED();
  const auto r = compat::run(exec_argv({"--stats"}, {IOSTACK_COMPAT_RING_FD_CLIENT}));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("io_uring: NOP=3\n"), std::string::npos) << r.output;
}

TEST(Exec, BadUseIsOneClearLine) {
  const auto missing = compat::run({IOSTACK_COMPAT_IOSTACK, "exec", "--", "/nonexistent/prog"});
  EXPECT_EQ(missing.status, 127);
  EXPECT_EQ(missing.output, "iostack exec: /nonexistent/prog: No such file or directory\n");
  const auto option = compat::run({IOSTACK_COMPAT_IOSTACK, "exec", "--bogus", "--", "true"});
  EXPECT_EQ(option.status, 2);
  EXPECT_EQ(option.output.rfind("iostack exec: unknown option '--bogus'\n", 0), 0u)
      << option.output;
  const auto none = compat::run({IOSTACK_COMPAT_IOSTACK, "exec"});
  EXPECT_EQ(none.status, 2);
}

#else

TEST(Exec, Skipped) { GTEST_SKIP() << "the iostack command was not built"; }

#endif

}  // namespace
