// POSIX locks under requests that hold their file: with the kernel's
// io_uring and AIO refused, iostack's workers hold a program's file through
// descriptors of their own, whose close would drop the program's fcntl
// locks. tests/compat/held_locks.c prints what a forked child sees of the
// lock after each kind of request; the output must be the kernel's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_HELD_LOCKS) && defined(IOSTACK_COMPAT_PRELOAD)

const char kExpected[] =
    "locked: locked by the parent\n"
    "aio O_DIRECT read: 4096\n"
    "aio fsync: 0\n"
    "after AIO: locked by the parent\n"
    "io_uring async write: 4096\n"
    "io_uring async fsync: 0\n"
    "after io-wq: locked by the parent\n"
    "io_uring fixed read: 4096\n"
    "after a registered file: locked by the parent\n"
    "after the ring and the AIO context went: locked by the parent\n"
    "after closing another descriptor of the file: unlocked\n"
    "io_uring async write through the locking descriptor: 4096\n"
    "locked again: locked by the parent\n"
    "after closing the locking descriptor: unlocked\n";

std::vector<std::string> argv_for(const char* tag) {
  return {IOSTACK_COMPAT_HELD_LOCKS, std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/held_locks." +
                                         tag + "." + std::to_string(getpid())};
}

TEST(HeldLocks, RequestsThatHoldTheFileKeepTheProgramsLocks) {
  SKIP_IF_SANITIZED();
  const auto ours =
      compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, argv_for("iostack")[0], argv_for("iostack")[1]},
                  {std::string("LD_LIBRARY_PATH=") + IOSTACK_COMPAT_DROPIN_DIR,
                   std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD});
  unlink(argv_for("iostack")[1].c_str());
  if (ours.output == "no O_DIRECT here\n")
    GTEST_SKIP() << "the scratch file system has no O_DIRECT";
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_EQ(ours.output, kExpected);
  const auto kernel = compat::run(argv_for("kernel"));
  unlink(argv_for("kernel")[1].c_str());
  if (kernel.status != 0) GTEST_SKIP() << "no kernel reference here: " << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#endif

}  // namespace
