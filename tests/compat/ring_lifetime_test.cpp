// A ring whose descriptor is closed while it is still mapped lives until its
// last munmap (libc's, interposed, or an inline system call, trapped), on
// iostack through the LD_PRELOAD shim under a filter refusing the kernel's
// io_uring exactly as on the kernel.
#include <gtest/gtest.h>

#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_PRELOAD) && defined(IOSTACK_COMPAT_RING_LIFETIME_CLIENT)

TEST(RingLifetimeClient, ShimUnderTheFilterPrintsWhatTheKernelPrints) {
  SKIP_IF_SANITIZED();
  const auto kernel = compat::run({IOSTACK_COMPAT_RING_LIFETIME_CLIENT});
  if (kernel.output.rfind("setup 0\n", 0) != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << kernel.output;
  EXPECT_NE(std::string::npos, kernel.output.find("cqe 7:5 hello\n")) << kernel.output;
  EXPECT_NE(std::string::npos, kernel.output.find("held with the rings mapped 1\n"))
      << kernel.output;
  EXPECT_NE(std::string::npos, kernel.output.find("held after the last munmap 0\n"))
      << kernel.output;
  const auto ours = compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_RING_LIFETIME_CLIENT},
                                {std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD});
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#else

TEST(RingLifetimeClient, Skipped) { GTEST_SKIP() << "the LD_PRELOAD shim was not built"; }

#endif

}  // namespace
