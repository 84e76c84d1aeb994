// Files closed inside a DeferredFputScope: alive until the scope ends, as
// the kernel's deferred fput keeps them until the submission is over, yet
// in no descriptor table meanwhile, so a fork copies nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "core/deferred_fput.hpp"

namespace iostack::core {
namespace {

TEST(DeferredFput, ClosedWriterLivesUntilTheScopeEnds) {
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
  char c;
  {
    DeferredFputScope scope;
    ASSERT_EQ(0, close_fd_deferred(p[1]));
    EXPECT_EQ(-1, fcntl(p[1], F_GETFD));
    // The writer is still there: no end of file yet.
    EXPECT_EQ(-1, read(p[0], &c, 1));
    EXPECT_EQ(EAGAIN, errno);
  }
  EXPECT_EQ(0, read(p[0], &c, 1));
  close(p[0]);
}

TEST(DeferredFput, ForkInsideTheScopeCopiesNoHeldFile) {
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
  pid_t child;
  {
    DeferredFputScope scope;
    ASSERT_EQ(0, close_fd_deferred(p[1]));
    child = fork();
    if (child == 0) {
      // Stays alive, holding whatever descriptors it was given.
      pause();
      _exit(0);
    }
    ASSERT_GT(child, 0);
  }
  // The parent's hold is gone and the child has no copy of the writer.
  char c;
  const ssize_t r = read(p[0], &c, 1);
  const int err = errno;
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(0, r) << "read: " << (r < 0 ? err : 0);
  close(p[0]);
}

TEST(DeferredFput, OutsideAScopeTheFileGoesAtOnce) {
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
  ASSERT_EQ(0, close_fd_deferred(p[1]));
  char c;
  EXPECT_EQ(0, read(p[0], &c, 1));
  EXPECT_EQ(-EBADF, close_fd_deferred(p[1]));
  close(p[0]);
}

}  // namespace
}  // namespace iostack::core
