// examples/net/uring_echo.c, an echo server on multishot ACCEPT, multishot
// RECV into a provided buffer ring and SEND, with a load client: run on the
// kernel's io_uring and, under a seccomp filter refusing io_uring, on the
// drop-in liburing and through `iostack exec`; the summary line must be the
// same (the round-trip rate it also prints is left out).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_LIBURING_DIR) && defined(IOSTACK_COMPAT_URING_ECHO)

// The summary line ("echo conns=..."), or everything when there is none.
std::string summary(const compat::RunResult& r) {
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("echo ", 0) == 0) return line;
  return r.output;
}

void check(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {IOSTACK_COMPAT_URING_ECHO};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto kernel = compat::run(argv);
  std::vector<std::string> blocked = {IOSTACK_COMPAT_SECCOMP_EXEC};
  blocked.insert(blocked.end(), argv.begin(), argv.end());
  const auto ours =
      compat::run(blocked, {std::string("LD_LIBRARY_PATH=") + IOSTACK_COMPAT_LIBURING_DIR});
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_NE(summary(ours).find("mismatches=0"), std::string::npos) << ours.output;
#ifdef IOSTACK_COMPAT_IOSTACK
  std::vector<std::string> exec = {IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec", "--"};
  exec.insert(exec.end(), argv.begin(), argv.end());
  const auto via_exec = compat::run(exec);
  EXPECT_EQ(via_exec.status, 0) << via_exec.output;
  EXPECT_EQ(summary(via_exec), summary(ours));
#endif
  if (kernel.status != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << kernel.output;
  EXPECT_EQ(summary(ours), summary(kernel));
}

TEST(UringEcho, OneConnectionSameAsTheKernel) {
  SKIP_IF_SANITIZED();
  check({"1", "300", "100"});
}

TEST(UringEcho, SixtyFourConnectionsSameAsTheKernel) {
  SKIP_IF_SANITIZED();
  check({"64", "40", "1000"});
}

// More connections than the buffer ring has buffers, each sending more
// than a buffer holds: receives run out of buffers and are re-armed.
TEST(UringEcho, BuffersRunOutAndComeBack) {
  SKIP_IF_SANITIZED();
  check({"300", "5", "4000"});
}

#else

TEST(UringEcho, Skipped) { GTEST_SKIP() << "the drop-in liburing or the example was not built"; }

#endif

}  // namespace
