// A ring descriptor used as a file (dup, fcntl F_DUPFD, close of one copy,
// poll, select, epoll, CQEs consumed without entering) behaves on iostack,
// through the LD_PRELOAD shim under a filter refusing the kernel's
// io_uring, exactly as on the kernel.
#include <gtest/gtest.h>

#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_PRELOAD) && defined(IOSTACK_COMPAT_RING_FD_CLIENT)

TEST(RingFdClient, ShimUnderTheFilterPrintsWhatTheKernelPrints) {
  SKIP_IF_SANITIZED();
  const auto ours = compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_RING_FD_CLIENT},
                                {std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD});
  EXPECT_EQ(ours.status, 0) << ours.output;
  const auto kernel = compat::run({IOSTACK_COMPAT_RING_FD_CLIENT});
  if (kernel.output.rfind("setup 0\n", 0) != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#else

TEST(RingFdClient, Skipped) { GTEST_SKIP() << "the LD_PRELOAD shim was not built"; }

#endif

}  // namespace
