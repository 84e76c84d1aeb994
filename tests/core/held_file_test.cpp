// core/held_file: one private descriptor per program descriptor of a
// regular file while closes are reported, let go when the program's goes;
// none kept otherwise; never one naming a file the program's no longer names.
#include "core/held_file.hpp"

#include "core/fd_mode_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace iostack::core {
namespace {

// Each case with kcmp() and with the fstat()+F_GETFL check of containers
// that refuse it.
class HeldFileTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    held_files_without_kcmp(GetParam());
    char tmpl[] = "/tmp/held_file_test.XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    fd_mode_forget(fd_);  // the number may have named another file in this process
    held_files_track(true);
  }
  void TearDown() override {
    held_files_track(false);
    held_files_without_kcmp(false);
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  // Closes `fd` as the preload shim does: the close, then the reports.
  static void program_close(int fd) {
    close(fd);
    fd_mode_forget(fd);
    held_files_closed(fd);
  }
  static bool open_fd(int fd) { return fcntl(fd, F_GETFD) >= 0; }

  int fd_ = -1;
  std::string path_;
};

TEST_P(HeldFileTest, OneDescriptorPerProgramDescriptorWhileClosesAreReported) {
  FileRef a, b;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  ASSERT_EQ(file_hold(fd_, &b), 0);
  const int priv = held_fd(a);
  EXPECT_NE(priv, fd_);
  EXPECT_EQ(held_fd(b), priv);
  a.reset();
  b.reset();
  EXPECT_TRUE(open_fd(priv)) << "kept until the program's descriptor closes";
  program_close(fd_);
  fd_ = -1;
  EXPECT_FALSE(open_fd(priv));
}

TEST_P(HeldFileTest, AHoldOutlivesTheProgramsClose) {
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  const int priv = held_fd(a);
  program_close(fd_);
  fd_ = -1;
  EXPECT_TRUE(open_fd(priv));
  a.reset();
  EXPECT_FALSE(open_fd(priv));
}

TEST_P(HeldFileTest, AnUnreportedCloseAndReuseIsNotTakenForTheOldFile) {
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  const int priv = held_fd(a);
  a.reset();
  // fclose() closes without the shim: the number comes back for another file.
  char tmpl[] = "/tmp/held_file_test.XXXXXX";
  const int other = mkstemp(tmpl);
  ASSERT_GE(other, 0);
  unlink(tmpl);
  ASSERT_EQ(write(other, "new", 3), 3);
  ASSERT_EQ(dup2(other, fd_), fd_);
  close(other);
  FileRef b;
  ASSERT_EQ(file_hold(fd_, &b), 0);
  EXPECT_NE(held_fd(b), priv);
  EXPECT_FALSE(open_fd(priv)) << "the stale one goes";
  char buf[4] = {};
  EXPECT_EQ(pread(held_fd(b), buf, 3, 0), 3);
  EXPECT_STREQ(buf, "new");
}

TEST_P(HeldFileTest, OtherFilesGetADescriptorPerHold) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  fd_mode_forget(p[0]);
  FileRef a, b;
  ASSERT_EQ(file_hold(p[0], &a), 0);
  ASSERT_EQ(file_hold(p[0], &b), 0);
  EXPECT_NE(held_fd(a), held_fd(b));
  const int priv = held_fd(a);
  a.reset();
  EXPECT_FALSE(open_fd(priv)) << "a pipe's end is not kept: its reader would see no EOF";
  close(p[0]);
  close(p[1]);
}

TEST_P(HeldFileTest, WithoutReportsEachHoldIsItsOwn) {
  held_files_track(false);
  FileRef a, b;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  ASSERT_EQ(file_hold(fd_, &b), 0);
  EXPECT_NE(held_fd(a), held_fd(b));
  const int priv = held_fd(a);
  a.reset();
  EXPECT_FALSE(open_fd(priv));
}

TEST_P(HeldFileTest, CloseRangeOverThePrivateDescriptorForgetsIt) {
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  const int priv = held_fd(a);
  a.reset();
  close(priv);  // the program closed a number it never had (closefrom)
  held_files_closed_range(static_cast<unsigned>(priv), static_cast<unsigned>(priv));
  const int null = open("/dev/null", O_RDONLY);
  const int reuse = dup2(null, priv);  // the program's next file takes the number
  close(null);
  ASSERT_EQ(reuse, priv);
  FileRef b;
  ASSERT_EQ(file_hold(fd_, &b), 0);
  EXPECT_NE(held_fd(b), priv);
  EXPECT_TRUE(open_fd(reuse)) << "not closed as iostack's";
  close(reuse);
}

TEST_P(HeldFileTest, ThreadsHoldingOneDescriptorShareOnePrivateOne) {
  std::atomic<int> seen{-1};
  std::atomic<int> different{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        FileRef h;
        if (file_hold(fd_, &h) != 0) {
          different.fetch_add(1);
          continue;
        }
        int expected = -1;
        if (!seen.compare_exchange_strong(expected, held_fd(h)) && expected != held_fd(h))
          different.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(different.load(), 0) << "a second private descriptor was made (and one closed)";
  EXPECT_TRUE(open_fd(seen.load()));
}

TEST_P(HeldFileTest, AtMostAQuarterOfTheDescriptorLimitIsKept) {
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 256;  // 64 kept at most
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fds;
  int kept = 0;
  for (int i = 0; i < 80; ++i) {
    const int fd = open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    fd_mode_forget(fd);
    fds.push_back(fd);
    FileRef a, b;
    ASSERT_EQ(file_hold(fd, &a), 0);
    ASSERT_EQ(file_hold(fd, &b), 0);
    if (held_fd(a) == held_fd(b)) ++kept;
  }
  EXPECT_LE(kept, 64);
  EXPECT_GE(kept, 60);  // the fixture's own file may be one of them
  for (int fd : fds) program_close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

TEST_P(HeldFileTest, AForkedChildHoldsThroughItsCopyAndClosesItWithItsOwn) {
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  const int priv = held_fd(a);
  a.reset();
  const pid_t pid = fork();
  if (pid == 0) {
    // The child's table of held files names the descriptor fork() copied.
    FileRef h;
    if (file_hold(fd_, &h) != 0 || held_fd(h) != priv) _exit(1);
    h.reset();
    program_close(fd_);
    _exit(open_fd(priv) ? 2 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(open_fd(priv)) << "the parent's stays";
}

// io_submit's fget() through the table: one kcmp() for a descriptor kept
// already; nothing answered where kcmp() is refused or nothing is kept.
TEST_P(HeldFileTest, LookupFindsAKeptFileAndItsFlags) {
  FileRef h;
  int flags = -1;
  EXPECT_FALSE(held_file_lookup(fd_, &h, &flags)) << "nothing kept yet";
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  const int priv = held_fd(a);
  a.reset();
  if (GetParam()) {
    EXPECT_FALSE(held_file_lookup(fd_, &h, &flags)) << "without kcmp the usual way is cheaper";
    return;
  }
  ASSERT_TRUE(held_file_lookup(fd_, &h, &flags));
  EXPECT_EQ(held_fd(h), priv);
  EXPECT_EQ(flags, fcntl(fd_, F_GETFL));
  program_close(fd_);
  fd_ = -1;
  FileRef g;
  EXPECT_FALSE(held_file_lookup(priv, &g, &flags)) << "a private descriptor is not the program's";
}

TEST_P(HeldFileTest, LookupLearnsFlagsAgainAfterAReportedChangeThroughAnyDescriptor) {
  if (GetParam()) GTEST_SKIP() << "the lookup answers only with kcmp";
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  int flags = -1;
  ASSERT_TRUE(held_file_lookup(fd_, &a, &flags));
  EXPECT_FALSE(flags & O_APPEND);
  // Another descriptor of the same open file changes the shared flags; the
  // shim reports that descriptor, not this one.
  const int other = dup(fd_);
  ASSERT_GE(other, 0);
  ASSERT_EQ(fcntl(other, F_SETFL, fcntl(other, F_GETFL) | O_APPEND), 0);
  held_files_flags_changed();
  ASSERT_TRUE(held_file_lookup(fd_, &a, &flags));
  EXPECT_TRUE(flags & O_APPEND);
  EXPECT_EQ(flags, fcntl(fd_, F_GETFL));
  close(other);
}

TEST_P(HeldFileTest, LookupOfAnUnreportedReuseFindsNothing) {
  FileRef a;
  ASSERT_EQ(file_hold(fd_, &a), 0);
  a.reset();
  const int null = open("/dev/null", O_RDONLY);
  ASSERT_GE(null, 0);
  ASSERT_EQ(dup2(null, fd_), fd_);  // unreported, as fclose() then open() would be
  close(null);
  FileRef h;
  int flags = -1;
  EXPECT_FALSE(held_file_lookup(fd_, &h, &flags));
  EXPECT_FALSE(h);
  program_close(fd_);
  fd_ = -1;
  EXPECT_FALSE(held_file_lookup(fd_, &h, &flags)) << "closed";
}

TEST_P(HeldFileTest, BadDescriptors) {
  FileRef a;
  EXPECT_EQ(file_hold(-1, &a), -EBADF);
  EXPECT_EQ(file_hold(1 << 30, &a), -EBADF);
  EXPECT_FALSE(a);
}

INSTANTIATE_TEST_SUITE_P(Check, HeldFileTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "FstatFlags" : "Kcmp"; });

}  // namespace
}  // namespace iostack::core
