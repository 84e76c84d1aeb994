// The LD_PRELOAD shim keeps iostack's fault fixups in front of a program's
// own SIGSEGV handler: sigchain_client passes bad pointers to io_uring and
// AIO system calls around installing its handler (sigaction() and signal(),
// before and after iostack's first use) and faulting on its own. Under the
// shim, with the kernel's io_uring refused, it prints what it prints on the
// kernel: -EFAULT for every bad pointer, its handler for its own faults.
#include <gtest/gtest.h>

#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_PRELOAD) && defined(IOSTACK_COMPAT_SIGCHAIN_CLIENT)

TEST(PreloadSigchain, ProgramHandlersRunBehindTheFixups) {
  SKIP_IF_SANITIZED();
  const auto kernel = compat::run({IOSTACK_COMPAT_SIGCHAIN_CLIENT});
  ASSERT_EQ(kernel.status, 0) << kernel.output;
  if (kernel.output.find("setup bad params -14\n") == std::string::npos)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << kernel.output;

  const auto shim = compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_SIGCHAIN_CLIENT},
                                {std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD});
  EXPECT_EQ(shim.status, 0) << shim.output;
  EXPECT_EQ(shim.output, kernel.output);
  EXPECT_NE(shim.output.find("own fault 3\n"), std::string::npos) << shim.output;
}

#endif

}  // namespace
