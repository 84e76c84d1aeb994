// The descriptor table and the Process object: references, large
// descriptor numbers, concurrent lookup and removal, fork.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <thread>
#include <vector>

#include "core/fd_table.hpp"
#include "core/process.hpp"

namespace iostack::core {
namespace {

std::atomic<int> g_released{0};

struct TestFile : File {
  TestFile();
  int value = 0;
};
void release_test_file(File* f) {
  g_released.fetch_add(1);
  delete static_cast<TestFile*>(f);
}
File* fork_test_file(File* f) {
  auto* child = new TestFile;
  child->value = static_cast<TestFile*>(f)->value + 1000;
  return child;
}
const FileOps kTestOps = {"test", release_test_file, fork_test_file};
TestFile::TestFile() : File(&kTestOps) {}

// A kind of file a forked child does not inherit.
struct PlainFile : File {
  PlainFile();
};
void release_plain_file(File* f) { delete static_cast<PlainFile*>(f); }
const FileOps kPlainOps = {"plain", release_plain_file, nullptr};
PlainFile::PlainFile() : File(&kPlainOps) {}

TEST(FdTable, HoldsReferencesAndReleasesOnLastPut) {
  FdTable t;
  const int before = g_released.load();
  auto* f = new TestFile;
  EXPECT_FALSE(t.install(3, f));
  EXPECT_TRUE(t.contains(3));
  EXPECT_FALSE(t.contains(4));
  {
    FileRef r = t.get(3);
    ASSERT_TRUE(r.is(&kTestOps));
    EXPECT_EQ(2, r.get()->count());
    FileRef gone = t.remove(3);
    EXPECT_FALSE(t.contains(3));
    EXPECT_FALSE(t.get(3));
  }
  EXPECT_EQ(before + 1, g_released.load());
}

TEST(FdTable, AnyDescriptorNumberWorks) {
  FdTable t;
  for (int fd : {0, 4095, 4096, 65535, 65536, 1 << 20, INT_MAX}) {
    auto* f = new TestFile;
    f->value = fd;
    t.install(fd, f);
  }
  for (int fd : {0, 4095, 4096, 65535, 65536, 1 << 20, INT_MAX}) {
    FileRef r = t.get(fd);
    ASSERT_TRUE(r) << fd;
    EXPECT_EQ(fd, r.as<TestFile>()->value);
  }
  EXPECT_FALSE(t.get(-1));
  EXPECT_FALSE(t.get(65537));
  int seen = 0;
  t.for_each([&](int fd, File* f) {
    EXPECT_EQ(fd, static_cast<TestFile*>(f)->value);
    ++seen;
  });
  EXPECT_EQ(7, seen);
}

TEST(FdTable, InstallOverAStaleEntryHandsItBack) {
  FdTable t;
  auto* a = new TestFile;
  auto* b = new TestFile;
  t.install(7, a);
  FileRef stale = t.install(7, b);
  EXPECT_EQ(a, stale.get());
  EXPECT_EQ(b, t.get(7).get());
  EXPECT_FALSE(t.remove_if(7, a));
  EXPECT_EQ(b, t.remove_if(7, b).get());
  EXPECT_FALSE(t.contains(7));
}

// A file removed while other threads look it up is never freed under them:
// each lookup either misses or holds a live reference (ASan and TSan check
// this in their builds).
TEST(FdTable, RemovalRacingWithLookupsFreesNothingInUse) {
  FdTable t;
  std::atomic<bool> stop{false};
  std::atomic<long> hits{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (FileRef r = t.get(9)) {
          EXPECT_EQ(42, r.as<TestFile>()->value);
          hits.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  const int before = g_released.load();
  for (int round = 0; round < 20000; ++round) {
    auto* f = new TestFile;
    f->value = 42;
    t.install(9, f);
    t.remove(9);
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(before + 20000, g_released.load());
}

TEST(FdTable, InheritKeepsWhatFilesLeaveForAChild) {
  FdTable parent;
  auto* kept = new TestFile;
  kept->value = 1;
  parent.install(5, kept);
  parent.install(6, new PlainFile);
  FdTable child;
  child.inherit(parent);
  ASSERT_TRUE(child.get(5));
  EXPECT_EQ(1001, child.get(5).as<TestFile>()->value);
  EXPECT_FALSE(child.contains(6));
  EXPECT_TRUE(parent.contains(6));
}

struct Counter {
  std::atomic<int> n{0};
};

TEST(Process, StateIsOnePerProcessAndFreshInAForkedChild) {
  Process& p = Process::current();
  Counter& c = p.state<Counter>();
  EXPECT_EQ(&c, &Process::current().state<Counter>());
  std::thread other([&] { EXPECT_EQ(&c, &Process::current().state<Counter>()); });
  other.join();
  c.n = 7;
  const int parent_tid = current_tid();
  auto* f = new TestFile;
  f->value = 3;
  Process::current().files().install(1 << 21, f);

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int bad = 0;
    if (&Process::current() == &p) bad |= 1;
    if (Process::current().state<Counter>().n != 0) bad |= 2;
    if (current_tid() == parent_tid || current_tid() != getpid()) bad |= 4;
    FileRef r = Process::current().files().get(1 << 21);
    if (!r || r.as<TestFile>()->value != 1003) bad |= 8;
    _exit(bad);
  }
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
  EXPECT_EQ(7, Process::current().state<Counter>().n);
  Process::current().files().remove(1 << 21);
}

}  // namespace
}  // namespace iostack::core
