// A forked child's requests on the ring it shares with its parent end with
// -ECANCELED when the child execs, as the kernel's exec cancels a task's
// requests (tests/compat/exec_cancel.c; liburing's timeout test does the
// same). iostack's engine does not survive the exec, so the preload shim
// cancels them just before it.
#include <gtest/gtest.h>

#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_EXEC_CANCEL) && defined(IOSTACK_COMPAT_IOSTACK)

TEST(ExecCancel, AChildsExecCancelsItsRequestsOnItsParentsRing) {
  SKIP_IF_SANITIZED();
  const auto ours = compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec", "--",
                                 IOSTACK_COMPAT_EXEC_CANCEL},
                                {}, 60);
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_EQ(ours.output, "cqe 1: -125\ncqe 2: -125\n");
  const auto kernel = compat::run({IOSTACK_COMPAT_EXEC_CANCEL}, {}, 60);
  if (kernel.status != 0) GTEST_SKIP() << "no kernel io_uring reference here: " << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#endif

}  // namespace
