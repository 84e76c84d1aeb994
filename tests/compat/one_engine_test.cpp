// One engine per process: under a seccomp filter that refuses the kernel's
// io_uring and AIO, a program built against the system's liburing / libaio
// runs on the drop-ins with the preload shim, makes a ring or an AIO
// context through the library API and drives it with raw system calls (and
// the other way round). Every door reaches the same libiostack.so.0, so it
// prints what it prints on the kernel.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_PRELOAD)

const std::vector<std::string> kOnIostack = {
    std::string("LD_LIBRARY_PATH=") + IOSTACK_COMPAT_DROPIN_DIR,
    std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD};

std::vector<std::string> filtered(std::vector<std::string> argv) {
  argv.insert(argv.begin(), IOSTACK_COMPAT_SECCOMP_EXEC);
  return argv;
}

// The kernel's run is the reference; where it refuses, the expected lines.
void expect_like_the_kernel(const std::vector<std::string>& argv, const std::string& expected) {
  const auto ours = compat::run(filtered(argv), kOnIostack);
  EXPECT_EQ(ours.status, 0) << ours.output;
  EXPECT_EQ(ours.output, expected);
  const auto kernel = compat::run(argv);
  if (kernel.status != 0) GTEST_SKIP() << "no kernel reference here: " << kernel.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#if defined(IOSTACK_COMPAT_AIO_ONE_ENGINE) && defined(IOSTACK_COMPAT_LIBAIO)

std::vector<std::string> aio_argv() {
  return {IOSTACK_COMPAT_AIO_ONE_ENGINE,
          std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/aio_one_engine." + std::to_string(getpid())};
}

TEST(OneEngine, AioIsRefusedUnderTheFilterWithoutIostack) {
  SKIP_IF_SANITIZED();
  const auto r = compat::run(filtered(aio_argv()));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output, "libaio io_setup -1\nraw io_setup -1\nfailures 2\n");  // -EPERM
}

TEST(OneEngine, AioContextFromLibaioIsReapedByRawIoGetevents) {
  SKIP_IF_SANITIZED();
  expect_like_the_kernel(aio_argv(),
                         "libaio io_setup 0\n"
                         "libaio io_submit ok\n"
                         "raw io_getevents 1\n"
                         "event ok\n"
                         "raw io_destroy ok\n"
                         "raw io_setup 0\n"
                         "libaio io_submit ok\n"
                         "libaio io_getevents 1\n"
                         "event ok\n"
                         "libaio io_destroy ok\n"
                         "failures 0\n");
}

#endif

#if defined(IOSTACK_COMPAT_URING_ONE_ENGINE) && defined(IOSTACK_COMPAT_LIBURING)

TEST(OneEngine, UringIsRefusedUnderTheFilterWithoutIostack) {
  SKIP_IF_SANITIZED();
  const auto r = compat::run(filtered({IOSTACK_COMPAT_URING_ONE_ENGINE}));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output,
            "liburing queue_init -1\nraw io_uring_setup Operation not permitted\nfailures 2\n");
}

TEST(OneEngine, RingFromLiburingIsReapedByRawIoUringEnter) {
  SKIP_IF_SANITIZED();
  expect_like_the_kernel({IOSTACK_COMPAT_URING_ONE_ENGINE},
                         "liburing queue_init 0\n"
                         "liburing submit ok\n"
                         "raw io_uring_enter 0\n"
                         "cqe ok\n"
                         "raw io_uring_setup fd\n"
                         "liburing queue_mmap 0\n"
                         "liburing submit ok\n"
                         "cqe ok\n"
                         "failures 0\n");
}

#endif

#else

TEST(OneEngine, Skipped) { GTEST_SKIP() << "the preload shim was not built"; }

#endif

}  // namespace
