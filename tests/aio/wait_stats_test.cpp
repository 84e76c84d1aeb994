// `iostack exec --stats` says where AIO served by workers waits: in the
// worker pool's queue, and as events in the ring before io_getevents.
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "aio_backends.hpp"
#include "core/aio_wait_stats.hpp"
#include "core/exec_stats.hpp"
#include "iostack/stats.h"
#include "pool_gate.hpp"

namespace iostack::aio::testing {
namespace {

constexpr std::int64_t kMs = 1000000;

std::string printed() {
  int fds[2];
  EXPECT_EQ(0, ::pipe(fds));
  iostack_stats_print(fds[1]);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return out;
}

struct Snapshot {
  std::uint64_t taken, queued_ns, reaped, ring_ns;
  static Snapshot now() {
    const core::AioWaitStats& s = core::aio_wait_stats();
    return {s.taken.load(), s.queued_ns.load(), s.reaped.load(), s.ring_ns.load()};
  }
};

class DirectRead {
 public:
  DirectRead() : file_(1 << 20) {
    fd_ = file_.reopen(O_RDONLY | O_DIRECT);
    if (fd_ < 0 || ::posix_memalign(&buf_, 4096, 4096) != 0) return;
    ok_ = iostack_io_setup(8, &ctx_) == 0;
  }
  ~DirectRead() {
    if (ctx_ != 0) iostack_io_destroy(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ::free(buf_);
  }
  bool ok() const { return ok_; }
  aio_context_t ctx() const { return ctx_; }
  long submit() {
    cb_ = make_iocb(fd_, IOCB_CMD_PREAD, buf_, 4096, 0, 1);
    struct iocb* p = &cb_;
    return iostack_io_submit(ctx_, 1, &p);
  }
  long reap() {
    struct io_event ev;
    const long n = iostack_io_getevents(ctx_, 1, 1, &ev, nullptr);
    return n == 1 ? static_cast<long>(ev.res) : n;
  }

 private:
  TempFile file_;
  int fd_ = -1;
  void* buf_ = nullptr;
  aio_context_t ctx_ = 0;
  struct iocb cb_ {};
  bool ok_ = false;
};

TEST(AioWaitStats, CountsTheTimeAReadWaitsForAWorker) {
  core::ExecStats::enable();
  const WorkersServeDirectIo workers_only;
  DirectRead r;
  if (!r.ok()) GTEST_SKIP() << "no O_DIRECT here";
  const Snapshot before = Snapshot::now();
  {
    PoolGate gate(1);  // the pool's one worker is busy: the read waits in the queue
    ASSERT_EQ(1, r.submit());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  ASSERT_EQ(4096, r.reap());
  const Snapshot after = Snapshot::now();
  EXPECT_GE(after.taken - before.taken, 1u);
  EXPECT_GE(after.queued_ns - before.queued_ns, static_cast<std::uint64_t>(25 * kMs));
  const std::string out = printed();
  EXPECT_NE(std::string::npos, out.find("  aio waits: worker queue ")) << out;
}

TEST(AioWaitStats, CountsTheTimeAnEventWaitsInTheRing) {
  core::ExecStats::enable();
  const WorkersServeDirectIo workers_only;
  DirectRead r;  // set up with counting on: its ring slots are stamped
  if (!r.ok()) GTEST_SKIP() << "no O_DIRECT here";
  const Snapshot before = Snapshot::now();
  ASSERT_EQ(1, r.submit());
  // The ring (at the context's address) shows the event before anyone reaps it.
  auto* ring = reinterpret_cast<const unsigned*>(r.ctx());
  const std::atomic_ref<const unsigned> tail(ring[3]);
  const std::atomic_ref<const unsigned> head(ring[2]);
  for (int i = 0; i < 5000 && tail.load() == head.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_NE(tail.load(), head.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_EQ(4096, r.reap());
  const Snapshot after = Snapshot::now();
  EXPECT_EQ(1u, after.reaped - before.reaped);
  EXPECT_GE(after.ring_ns - before.ring_ns, static_cast<std::uint64_t>(25 * kMs));
}

TEST(AioWaitStats, CountsTheWakeUpsOfSleepingWorkers) {
  core::ExecStats::enable();
  const WorkersServeDirectIo workers_only;
  DirectRead r;
  if (!r.ok()) GTEST_SKIP() << "no O_DIRECT here";
  ASSERT_EQ(1, r.submit());
  ASSERT_EQ(4096, r.reap());
  // The worker that read is asleep, idle, by now; the next read wakes it.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const core::AioWaitStats& s = core::aio_wait_stats();
  const std::uint64_t woken = s.woken.load();
  const std::uint64_t wake_ns = s.wake_ns.load();
  ASSERT_EQ(1, r.submit());
  ASSERT_EQ(4096, r.reap());
  EXPECT_EQ(woken + 1, s.woken.load());
  EXPECT_GT(s.wake_ns.load(), wake_ns);
  const std::string out = printed();
  EXPECT_NE(std::string::npos, out.find(", workers woken ")) << out;
}

}  // namespace
}  // namespace iostack::aio::testing
