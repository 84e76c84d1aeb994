// Real clients with the kernel's io_uring and AIO refused by a seccomp
// filter, started with `iostack exec`: qemu-io (linked with liburing.so.2),
// fio's io_uring engine (raw system calls), fio's libaio engine,
// sysbench fileio in async mode and plocate (liburing.so.2). Without
// iostack the same commands fail under the filter, or plocate loses its
// io_uring and reads synchronously.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_SECCOMP_EXEC) && defined(IOSTACK_COMPAT_IOSTACK)

std::string scratch(const std::string& tag) {
  return std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/" + tag + "." + std::to_string(getpid());
}

std::vector<std::string> filtered(std::vector<std::string> argv) {
  argv.insert(argv.begin(), IOSTACK_COMPAT_SECCOMP_EXEC);
  return argv;
}

// The same, started with `iostack exec`.
std::vector<std::string> on_iostack(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {IOSTACK_COMPAT_IOSTACK, "exec", "--"});
  return filtered(argv);
}

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// --- qemu-io --aio io_uring on the drop-in liburing ---

class QemuIo : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF_SANITIZED();
#if !defined(IOSTACK_COMPAT_LIBURING_DIR)
    GTEST_SKIP() << "the drop-in liburing was not built";
#endif
    qemu_io_ = compat::which("qemu-io");
    if (qemu_io_.empty()) GTEST_SKIP() << "qemu-io is not installed (Debian package qemu-utils)";
    img_ = scratch("qemu.img");
    std::FILE* f = std::fopen(img_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    ASSERT_EQ(truncate(img_.c_str(), 4 << 20), 0);
    // -n is cache=none (O_DIRECT); only where the filesystem takes it.
    const int fd = open(img_.c_str(), O_RDWR | O_DIRECT);
    direct_ = fd >= 0;
    if (fd >= 0) close(fd);
  }
  void TearDown() override {
    if (!img_.empty()) unlink(img_.c_str());
  }

  std::vector<std::string> command(const std::vector<std::string>& ops) const {
    std::vector<std::string> argv = {qemu_io_, "-f", "raw", "--aio", "io_uring"};
    if (direct_) argv.push_back("-n");
    for (const auto& op : ops) {
      argv.push_back("-c");
      argv.push_back(op);
    }
    argv.push_back(img_);
    return argv;
  }

  std::string qemu_io_, img_;
  bool direct_ = false;
};

const std::vector<std::string> kQemuOps = {"write -P 0x5a 0 1M",
                                           "read -P 0x5a 0 1M",
                                           "write -P 0xa5 512k 64k",
                                           "read -P 0xa5 512k 64k",
                                           "read -P 0x5a 0 512k",
                                           "aio_write -P 0x33 2M 256k",
                                           "aio_flush",
                                           "read -P 0x33 2M 256k",
                                           "read -P 0 3M 1M"};

TEST_F(QemuIo, FailsUnderTheFilterWithoutIostack) {
  const auto r = compat::run(filtered(command(kQemuOps)));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.output, "Unable to use io_uring")) << r.output;
}

TEST_F(QemuIo, WritesAndVerifiesPatternsOnTheDropIn) {
  const auto r = compat::run(on_iostack(command(kQemuOps)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "Pattern verification failed")) << r.output;
  EXPECT_FALSE(contains(r.output, "qemu-io:")) << r.output;
  EXPECT_TRUE(contains(r.output, "wrote 1048576/1048576 bytes at offset 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "read 1048576/1048576 bytes at offset 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "read 65536/65536 bytes at offset 524288")) << r.output;
  EXPECT_TRUE(contains(r.output, "read 262144/262144 bytes at offset 2097152")) << r.output;

  // The bytes really are in the image file.
  std::ifstream in(img_, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(data.size(), 4u << 20);
  auto all = [&](std::size_t off, std::size_t len, char c) {
    return data.find_first_not_of(c, off) >= off + len;
  };
  EXPECT_TRUE(all(0, 512 << 10, 0x5a));
  EXPECT_TRUE(all(512 << 10, 64 << 10, static_cast<char>(0xa5)));
  EXPECT_TRUE(all(576 << 10, 448 << 10, 0x5a));
  EXPECT_TRUE(all(2 << 20, 256 << 10, 0x33));
}

TEST_F(QemuIo, DropInReportsAMismatchingPattern) {
  const auto r = compat::run(on_iostack(command({"write -P 0x5a 0 64k", "read -P 0x11 0 64k"})));
  EXPECT_TRUE(contains(r.output, "Pattern verification failed")) << r.output;
}

// --- fio's io_uring engine through the LD_PRELOAD shim ---

class Fio : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    SKIP_IF_SANITIZED();
#if !defined(IOSTACK_COMPAT_PRELOAD)
    GTEST_SKIP() << "the preload shim was not built";
#endif
    fio_ = compat::which("fio");
    if (fio_.empty()) GTEST_SKIP() << "fio is not installed";
    dir_ = scratch("fio");
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    compat::run({"rm", "-rf", dir_});
  }

  // The job name must not name anything in the working directory: fio
  // would take an existing non-regular file of that name as its target.
  // Through `iostack exec` when `iostack` is true.
  std::vector<std::string> command(const std::string& extra, bool iostack = false) const {
    std::vector<std::string> argv = {fio_,
                                     "--name=iostack_compat_job",
                                     "--ioengine=io_uring",
                                     "--directory=" + dir_,
                                     "--size=8M",
                                     "--bs=4k",
                                     "--rw=randwrite",
                                     "--iodepth=16",
                                     "--verify=crc32c",
                                     "--do_verify=1",
                                     "--verify_fatal=1",
                                     "--verify_state_save=0"};
    std::string word;
    for (char c : extra + " ") {
      if (c != ' ') {
        word += c;
      } else if (!word.empty()) {
        argv.push_back(word);
        word.clear();
      }
    }
    return iostack ? on_iostack(argv) : filtered(argv);
  }

  std::string fio_, dir_;
};

TEST_P(Fio, FailsUnderTheFilterWithoutIostack) {
  const auto r = compat::run(command(GetParam()));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.output, "Operation not permitted")) << r.output;
}

TEST_P(Fio, WritesAndVerifiesCrc32cThroughIostackExec) {
  const auto r = compat::run(command(GetParam(), true));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "fio:")) << r.output;
  EXPECT_FALSE(contains(r.output, "verify: bad")) << r.output;
  EXPECT_TRUE(contains(r.output, "err= 0")) << r.output;
  // 8 MiB / 4 KiB written, and all of it read back and checked.
  EXPECT_TRUE(contains(r.output, "issued rwts: total=2048,2048,0,0")) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Modes, Fio,
                         ::testing::Values("", "--fixedbufs=1 --registerfiles=1",
                                           "--sqthread_poll=1", "--direct=1 --numjobs=2"),
                         [](const auto& info) {
                           const std::string p = info.param;
                           if (p.empty()) return std::string("Default");
                           if (p.find("fixedbufs") != std::string::npos)
                             return std::string("Fixed");
                           if (p.find("sqthread") != std::string::npos)
                             return std::string("Sqpoll");
                           return std::string("DirectTwoJobs");
                         });

// --- fio's libaio engine and sysbench fileio through `iostack exec --aio` ---

// With the kernel's AIO refused, the system's libaio fails; through
// `iostack exec --aio` the drop-in libaio serves it, and fio verifies what
// it wrote (reaping straight from the ring, O_DIRECT and buffered).
TEST(FioLibaio, VerifiesThroughIostackExec) {
  SKIP_IF_SANITIZED();
  const std::string fio = compat::which("fio");
  if (fio.empty()) GTEST_SKIP() << "fio is not installed";
  const std::string file = scratch("fio-libaio");
  for (const char* mode : {"--direct=1 --userspace_reap=1", "--direct=0"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> argv = {fio,
                                     "--name=iostack_compat_aio",
                                     "--filename=" + file,
                                     "--size=16M",
                                     "--rw=randwrite",
                                     "--bs=4k",
                                     "--ioengine=libaio",
                                     "--iodepth=32",
                                     "--iodepth_batch_submit=8",
                                     "--iodepth_batch_complete_min=0",
                                     "--verify=crc32c",
                                     "--do_verify=1",
                                     "--verify_fatal=1",
                                     "--verify_state_save=0"};
    for (const char* p = mode; *p;) {
      const char* e = p;
      while (*e && *e != ' ') ++e;
      argv.emplace_back(p, e);
      p = *e ? e + 1 : e;
    }
    const auto refused = compat::run(filtered(argv));
    EXPECT_NE(refused.status, 0) << refused.output;
    std::vector<std::string> exec_argv = {IOSTACK_COMPAT_IOSTACK, "exec", "--aio", "--"};
    exec_argv.insert(exec_argv.end(), argv.begin(), argv.end());
    const auto r = compat::run(filtered(exec_argv));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "err= 0")) << r.output;
    EXPECT_TRUE(contains(r.output, "issued rwts: total=4096,4096,0,0")) << r.output;
    EXPECT_FALSE(contains(r.output, "verify: bad")) << r.output;
  }
  unlink(file.c_str());
}

// sysbench checks the checksums it wrote itself: sequential writes, then
// random reads and writes, validated, in async mode (libaio).
TEST(SysbenchFileio, AsyncValidatesThroughIostackExec) {
  SKIP_IF_SANITIZED();
  const std::string sysbench = compat::which("sysbench");
  if (sysbench.empty()) GTEST_SKIP() << "sysbench is not installed (Debian package sysbench)";
  const std::string dir = scratch("sysbench");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  const std::string common =
      "cd " + dir + " && exec " + sysbench + " fileio --file-num=2 --file-total-size=16M ";
  auto in_dir = [&](const std::string& args) {
    return std::vector<std::string>{"/bin/sh", "-c", common + args};
  };
  ASSERT_EQ(compat::run(in_dir("--validate=on prepare")).status, 0);
  for (const char* mode : {"--file-test-mode=seqwr", "--file-test-mode=rndrw",
                           "--file-test-mode=rndrw --file-extra-flags=direct"}) {
    SCOPED_TRACE(mode);
    const bool direct = std::string(mode).find("direct") != std::string::npos;
    std::vector<std::string> argv = {IOSTACK_COMPAT_IOSTACK, "exec", "--aio", "--"};
    const auto cmd = in_dir(std::string(mode) + " --file-io-mode=async --file-async-backlog=64 " +
                            (direct ? "" : "--validate=on ") + "--time=2 run");
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    const auto r = compat::run(filtered(argv));
    EXPECT_EQ(r.status, 0) << r.output;
    if (!direct) {
      EXPECT_TRUE(contains(r.output, "Using checksums validation")) << r.output;
    }
    EXPECT_FALSE(contains(r.output, "FATAL")) << r.output;
    EXPECT_TRUE(contains(r.output, "writes/s:")) << r.output;
  }
  compat::run(in_dir("cleanup"));
  compat::run({"rm", "-rf", dir});
}

// --- plocate on the drop-in liburing ---

// plocate reads its database's posting lists through io_uring when it can
// set up a ring (falling back to pread when the kernel refuses). Under the
// filter and `iostack exec` it must use iostack's ring and find exactly what
// it finds on the kernel.
TEST(Plocate, FindsWhatItFindsOnTheKernel) {
  SKIP_IF_SANITIZED();
  const std::string plocate = compat::which("plocate");
  const std::string updatedb = compat::which("updatedb");
  if (plocate.empty() || updatedb.empty())
    GTEST_SKIP() << "plocate is not installed (Debian package plocate)";
  const std::string dir = scratch("plocate");
  const std::string tree = dir + "/tree";
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(tree.c_str(), 0700), 0);
  for (int d = 0; d < 40; ++d) {
    const std::string sub = tree + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(sub.c_str(), 0700), 0);
    for (int f = d; f < 2000; f += 40) {
      const std::string name = sub + "/file_" + std::to_string(f) + (f % 3 ? ".txt" : ".dat");
      const int fd = open(name.c_str(), O_CREAT | O_WRONLY, 0600);
      ASSERT_GE(fd, 0) << name;
      close(fd);
    }
  }
  const std::string db = dir + "/db";
  const auto built = compat::run({updatedb, "-l", "0", "-o", db, "-U", tree});
  ASSERT_EQ(built.status, 0) << built.output;
  for (std::vector<std::string> query : {std::vector<std::string>{"file_12"},
                                         {"-i", "FILE_1", "dat"},
                                         {"-r", "file_[0-9]*7\\.txt$"},
                                         {"-c", "d3"},
                                         {"no_such_name"}}) {
    std::vector<std::string> argv = {plocate, "-d", db};
    argv.insert(argv.end(), query.begin(), query.end());
    SCOPED_TRACE(argv.back());
    const auto kernel = compat::run(argv);
    const auto ours = compat::run(on_iostack(argv));
    EXPECT_EQ(ours.status, kernel.status) << ours.output;
    EXPECT_EQ(ours.output, kernel.output);
  }
  // The reads went through iostack's io_uring.
  std::vector<std::string> argv = {
      IOSTACK_COMPAT_IOSTACK, "exec", "--stats", "--", plocate, "-d", db, "file_1"};
  const auto r = compat::run(filtered(argv));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "io_uring: READ")) << r.output;
  compat::run({"rm", "-rf", dir});
}

#else

TEST(CompatClients, Skipped) { GTEST_SKIP() << "the compat helper programs were not built"; }

#endif

}  // namespace
