// inotify events of io_uring O_DIRECT I/O under Docker's profile (io_uring
// refused, AIO allowed): by default iostack hands such I/O to the kernel's
// AIO, which raises no fsnotify event; `iostack exec --workers` does it with
// preadv2/pwritev2 on its own threads, and the program sees the events the
// kernel's io_uring raises (tests/compat/fsnotify_client.c).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_FSNOTIFY_CLIENT) && defined(IOSTACK_COMPAT_IOSTACK)

std::string scratch(const char* tag) {
  return std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/fsnotify." + tag + "." +
         std::to_string(getpid());
}

compat::RunResult run_client(const char* tag, std::vector<std::string> before) {
  const std::string file = scratch(tag);
  before.push_back(IOSTACK_COMPAT_FSNOTIFY_CLIENT);
  before.push_back(file);
  const auto r = compat::run(before);
  unlink(file.c_str());
  return r;
}

TEST(Fsnotify, WorkersRaiseTheEventsOfTheKernelsIoUring) {
  SKIP_IF_SANITIZED();
  const auto kernel = run_client("kernel", {});
  if (kernel.status != 0) GTEST_SKIP() << "no kernel io_uring reference here: " << kernel.output;
  if (kernel.output == "no O_DIRECT here\n")
    GTEST_SKIP() << "the scratch file system has no O_DIRECT";
  EXPECT_EQ(kernel.output, "write: 4096\nread: 4096\nIN_MODIFY: 1\nIN_ACCESS: 1\n");
  const auto ours = run_client("workers", {IOSTACK_COMPAT_SECCOMP_EXEC, "--uring-only",
                                           IOSTACK_COMPAT_IOSTACK, "exec", "--workers", "--"});
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_EQ(ours.output, kernel.output);
  // The default hands the I/O to the kernel's AIO: same results, no events.
  const auto host = run_client(
      "host", {IOSTACK_COMPAT_SECCOMP_EXEC, "--uring-only", IOSTACK_COMPAT_IOSTACK, "exec", "--"});
  EXPECT_EQ(host.status, 0) << host.output;
  EXPECT_EQ(host.output.substr(0, 25), "write: 4096\nread: 4096\nIN") << host.output;
}

#endif

}  // namespace
