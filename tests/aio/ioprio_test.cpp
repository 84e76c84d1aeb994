// IOCB_FLAG_IOPRIO on OS files: io_submit checks the priority as the
// kernel's ioprio_check_cap() does (bad class: -EINVAL; RT without
// CAP_SYS_ADMIN or CAP_SYS_NICE: -EPERM), for buffered and O_DIRECT files
// alike, and the worker that waits for an O_DIRECT request's I/O runs at the
// request's priority -- the iocb's, or without the flag the submitter's --
// since the kernel's block layer gives a bio the priority of the thread
// issuing it.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include <string>
#include <vector>

#include "aio/aio_wq.hpp"
#include "aio_backends.hpp"
#include "child_process.hpp"
#include "iostack/ioprio.h"
#include "task/current.hpp"
#include "threads.hpp"

namespace iostack::aio::testing {
namespace {

constexpr int prio(int cls, int level) { return (cls << 13) | level; }

struct Outcome {
  long submit = 0;
  long long res = 0;
};

Outcome submit_with_prio(const AioBackend& b, int fd, void* buf, int ioprio) {
  Outcome o;
  aio_context_t ctx = 0;
  EXPECT_EQ(b.setup(4, &ctx), 0);
  struct iocb cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 4096, 0, 7);
  cb.aio_flags = IOCB_FLAG_IOPRIO;
  cb.aio_reqprio = static_cast<__s16>(ioprio);
  o.submit = submit1(b, ctx, &cb);
  if (o.submit == 1) {
    struct io_event ev {};
    EXPECT_EQ(reap1(b, ctx, &ev), 1);
    o.res = static_cast<long long>(ev.res);
  }
  EXPECT_EQ(b.destroy(ctx), 0);
  return o;
}

class AioIoprio : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO here: nothing to compare with";
    ASSERT_EQ(::posix_memalign(&buf_, 4096, 4096), 0);
  }
  void TearDown() override { ::free(buf_); }
  TempFile file_{65536};
  void* buf_ = nullptr;
};

TEST_F(AioIoprio, ChecksMatchKernelForBufferedAndDirectFiles) {
  const int direct = file_.reopen(O_RDWR | O_DIRECT);
  std::vector<std::pair<const char*, int>> fds = {{"buffered", file_.fd()}};
  if (direct >= 0) fds.push_back({"O_DIRECT", direct});
  const bool capable = ::geteuid() == 0;
  for (const auto& [what, fd] : fds) {
    SCOPED_TRACE(what);
    for (int p : {prio(2, 3), prio(3, 0), prio(2, 7) | (5 << 3), prio(0, 0), prio(0, 3), prio(4, 0),
                  prio(5, 1), prio(7, 0), capable ? prio(1, 2) : prio(2, 0)}) {
      SCOPED_TRACE(p);
      const Outcome k = submit_with_prio(kernel_aio(), fd, buf_, p);
      const Outcome s = submit_with_prio(iostack_aio(), fd, buf_, p);
      EXPECT_EQ(s.submit, k.submit);
      EXPECT_EQ(s.res, k.res);
    }
  }
  if (direct >= 0) ::close(direct);
}

// A process without CAP_SYS_ADMIN and CAP_SYS_NICE asks for RT.
TEST_F(AioIoprio, RealtimeWithoutCapabilitiesIsEperm) {
  SKIP_IF_CHILD_CANNOT_START_THREADS();
  const int direct = file_.reopen(O_RDWR | O_DIRECT);
  const int fd = direct >= 0 ? direct : file_.fd();
  struct Results {
    Outcome kernel, iostack;
    int capset = 0;
  };
  void* buf = buf_;
  const auto child = run_in_child<Results>([&](Results& r) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &hdr, data) == 0) {
      for (int cap : {CAP_SYS_ADMIN, CAP_SYS_NICE}) data[cap / 32].effective &= ~(1u << (cap % 32));
      r.capset = static_cast<int>(::syscall(SYS_capset, &hdr, data));
    }
    // iostack reads the thread's capabilities when it first sees it, after
    // the drop: this child has not called into iostack before.
    r.kernel = submit_with_prio(kernel_aio(), fd, buf, prio(1, 0));
    r.iostack = submit_with_prio(iostack_aio(), fd, buf, prio(1, 0));
  });
  ASSERT_TRUE(child.got_result) << "signal " << child.signal;
  ASSERT_EQ(child.result.capset, 0);
  EXPECT_EQ(child.result.kernel.submit, -EPERM);
  EXPECT_EQ(child.result.iostack.submit, child.result.kernel.submit);
  if (direct >= 0) ::close(direct);
}

// The I/O priorities the pool's worker threads have right now.
std::vector<int> worker_ioprios() {
  std::vector<int> out;
  for (pid_t t : threads_named("iostack-aio-wq")) {
    out.push_back(static_cast<int>(::syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, t)));
  }
  return out;
}

bool has(const std::vector<int>& v, int x) {
  for (int y : v) {
    if (y == x) return true;
  }
  return false;
}

TEST_F(AioIoprio, WorkerDoesDirectIoAtTheRequestsPriority) {
  const WorkersServeDirectIo workers_only;
  const int fd = file_.reopen(O_RDWR | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << file_.path();
  aio_context_t ctx = 0;
  ASSERT_EQ(iostack_io_setup(4, &ctx), 0);
  // Each step asks for a priority no earlier step used, so the worker that
  // did it is the one found with it.
  for (int p : {prio(3, 0), prio(2, 7), prio(2, 1), -1, prio(2, 5)}) {
    SCOPED_TRACE(p);
    struct iocb cb = make_iocb(fd, IOCB_CMD_PREAD, buf_, 4096, 0);
    if (p >= 0) {
      cb.aio_flags = IOCB_FLAG_IOPRIO;
      cb.aio_reqprio = static_cast<__s16>(p);
    }
    const std::uint64_t ran_here = aio_wq_stats().caller_runs;
    ASSERT_EQ(submit1(iostack_aio(), ctx, &cb), 1);
    struct io_event ev {};
    ASSERT_EQ(reap1(iostack_aio(), ctx, &ev), 1);
    EXPECT_EQ(ev.res, 4096);
    // Without the flag: the submitter's own priority (aio_prep_rw:
    // get_current_ioprio()), derived from its nice value when unset. Such a
    // read may also have been run by io_getevents on the submitting thread
    // itself, which has that priority.
    if (p < 0 && aio_wq_stats().caller_runs != ran_here) continue;
    const int want = p >= 0 ? p : task::current_ioprio();
    const std::vector<int> prios = worker_ioprios();
    EXPECT_TRUE(has(prios, want)) << "no worker at " << want << " among " << prios.size();
  }
  EXPECT_EQ(iostack_io_destroy(ctx), 0);
  ::close(fd);
}

}  // namespace
}  // namespace iostack::aio::testing
