// Differences a round of iostack-fuzz found after seed 57000, each reduced
// to a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A temporary directory holding a directory "d", removed at the end.
struct TmpDir {
  std::string path;
  int fd = -1;
  TmpDir() {
    char tmpl[] = "/tmp/iostack-fuzzlate-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
    fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_EQ(0, mkdirat(fd, "d", 0755));
  }
  ~TmpDir() {
    unlinkat(fd, "d", AT_REMOVEDIR);
    ::close(fd);
    rmdir(path.c_str());
  }
};

// io_openat2 first opens without blocking (LOOKUP_CACHED) in the submitter
// and goes to io-wq only when that cannot be done: an OPENAT of a directory
// in the dcache completes inline, and the ASYNC_CANCEL linked behind it runs
// in the submitter too, where it does not find itself (-ENOENT). On a
// worker it would find itself running (-EALREADY) (fuzz seed 57041).
TEST(UringFuzzFoundLate, CachedOpenCompletesInline) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  compare_with_kernel(
      [&t](Ring& r) {
        add(r, IORING_OP_OPENAT, t.fd, "d", 0644, 0, 1, IOSQE_IO_LINK)->open_flags = O_DIRECTORY;
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 2, 0);
        auto v = run(r, 2);
        for (Cqe& c : v)
          if (c.user_data == 1 && c.res >= 0) ::close(std::exchange(c.res, 0));
        return v;
      },
      8);
}

// OPENAT2 goes to io-wq for O_CREAT, O_TRUNC or O_TMPFILE at prep, as
// OPENAT does, even where the file exists: the cancel linked behind it runs
// on that worker next and finds itself running (-EALREADY).
TEST(UringFuzzFoundLate, CreatingOpenGoesToAWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  for (const bool two : {false, true}) {
    compare_with_kernel(
        [&t, two](Ring& r) {
          static struct open_how how {};
          how.flags = O_CREAT | O_RDONLY | O_DIRECTORY;
          if (two)
            add(r, IORING_OP_OPENAT2, t.fd, "d", sizeof(how), 0, 1, IOSQE_IO_LINK)->addr2 =
                reinterpret_cast<std::uintptr_t>(&how);
          else
            add(r, IORING_OP_OPENAT, t.fd, "d", 0, 0, 1, IOSQE_IO_LINK)->open_flags = how.flags;
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 2, 0);
          auto v = run(r, 2);
          for (Cqe& c : v)
            if (c.user_data == 1 && c.res >= 0) ::close(std::exchange(c.res, 0));
          return v;
        },
        8);
  }
}

// The open tried in the submitter has O_NONBLOCK added: a FIFO opened for
// reading does not wait for a writer, and the file it gives has no
// O_NONBLOCK unless the program asked for it.
TEST(UringFuzzFoundLate, CachedOpenOfAFifoDoesNotWait) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  ASSERT_EQ(0, mkfifoat(t.fd, "f", 0600));
  for (const unsigned extra : {0u, unsigned{O_NONBLOCK}}) {
    compare_with_kernel(
        [&t, extra](Ring& r) {
          add(r, IORING_OP_OPENAT, t.fd, "f", 0, 0, 1, 0)->open_flags = O_RDONLY | extra;
          auto v = run(r, 1);
          for (Cqe& c : v) {
            if (c.user_data != 1 || c.res < 0) continue;
            const int fd = std::exchange(c.res, 0);
            v.push_back(Cqe{2, fcntl(fd, F_GETFL) & O_NONBLOCK, 0});
            ::close(fd);
            break;
          }
          return v;
        },
        8);
  }
  unlinkat(t.fd, "f", 0);
}

}  // namespace
}  // namespace uring_test
