// An unmodified liburing program (uring_client.c, linked with the system's
// liburing.so.2) runs on the kernel, is refused under a seccomp filter
// that blocks io_uring (as Docker's default profile does), and runs under
// that same filter on the drop-in library, printing exactly what it
// printed on the kernel.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_LIBURING) && defined(IOSTACK_COMPAT_URING_CLIENT)

std::string scratch(const char* tag) {
  return std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/uring_client." + tag + "." +
         std::to_string(getpid());
}

compat::RunResult on_kernel() {
  return compat::run({IOSTACK_COMPAT_URING_CLIENT, scratch("kernel")});
}

compat::RunResult blocked(const std::vector<std::string>& env) {
  return compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_URING_CLIENT, scratch("blocked")},
                     env);
}

const std::string kDropIn = std::string("LD_LIBRARY_PATH=") + IOSTACK_COMPAT_LIBURING_DIR;

TEST(UringClient, SystemLiburingIsRefusedUnderTheFilter) {
  SKIP_IF_SANITIZED();
  const auto r = blocked({});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output, "queue_init -1\n");  // -EPERM
}

TEST(UringClient, DropInUnderTheFilterPrintsWhatTheKernelPrints) {
  SKIP_IF_SANITIZED();
  const auto ours = blocked({kDropIn});
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_NE(ours.output.find("failures 0\n"), std::string::npos) << ours.output;

  const auto kernel = on_kernel();
  if (kernel.output.rfind("queue_init 0\n", 0) != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << kernel.output;
  EXPECT_EQ(kernel.status, 0) << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

// A program built for liburing 2.9 finds the newer functions under their
// symbol versions and gets liburing 2.9's and the kernel's answers.
TEST(UringClient, NewerLiburingFunctionsAnswerUnderTheFilter) {
  SKIP_IF_SANITIZED();
  const auto r =
      compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_NEWER_LIBURING_CLIENT}, {kDropIn});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output,
            "version 2.9 check(2,9)=0 check(2,10)=1\n"
            "register_ring_fd 1\n"
            "close_ring_fd 1 then -9\n"
            "submit_and_wait 1\n"
            "peek 0 res 0\n"
            "register_clock 0\n"
            "min_timeout 1 res 0\n"
            "restrictions 0 enable 0\n"
            "submit_and_wait 2\n"
            "cqe res 0\n"
            "cqe res -13\n"
            "queue_init_mem 8192\n"
            "submit_and_wait 1\n"
            "cqe res 0\n"
            "queue_init_mem small -12\n"
            "register_wait_reg -22\n"
            "register_region 0 enable 0\n"
            "submit_and_wait_reg 0 res 0\n");
}

// The loader takes a preloaded library of the same soname instead of the
// system's, so LD_PRELOAD works as well as LD_LIBRARY_PATH.
TEST(UringClient, DropInWorksThroughLdPreloadToo) {
  SKIP_IF_SANITIZED();
  const auto r = blocked({std::string("LD_PRELOAD=") + IOSTACK_COMPAT_LIBURING});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("failures 0\n"), std::string::npos) << r.output;
}

#else

TEST(UringClient, Skipped) { GTEST_SKIP() << "the drop-in liburing was not built"; }

#endif

}  // namespace
