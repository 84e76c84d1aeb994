// Differential test against the kernel's mq-deadline: a best-effort and an
// idle-class reader (1 MiB O_DIRECT reads, one at a time, sequential) share
// a direct-I/O loop device whose backing reads a blkio cgroup throttles to
// 20 MiB/s on the disk under /var/tmp. mq-deadline holds the idle reader
// back while a best-effort request is queued or in flight; the held-back
// request goes on the rerun blk-mq schedules BLK_MQ_BUDGET_DELAY later if
// that rerun falls in the short gap between a best-effort completion and
// the reader's next read. The kernel's reruns fire on ticks, as do the
// throttle's releases that end the gaps' reads, so they seldom land in a
// gap. The kernel's loop device and iostack's (same file, same cgroup) must
// give the idle reader a similar small share.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "dev/device.hpp"
#include "task/ioprio.hpp"

namespace iostack::block::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kBlkioRoot = "/sys/fs/cgroup/blkio";
constexpr std::uint64_t kFileBytes = 128u << 20;
constexpr std::uint32_t kIoBytes = 1u << 20;
constexpr std::uint64_t kBps = 20u << 20;
// Long enough for a few hundred best-effort reads; shorter than
// prio_aging_expire (10 s), so aging plays no part.
constexpr auto kRunTime = std::chrono::seconds(8);

std::string sh(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int st = pclose(p);
  if (status) *status = st;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string read_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

bool write_file(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v;
  out.flush();
  return static_cast<bool>(out);
}

int sys_ioprio_set(int prio) { return static_cast<int>(syscall(SYS_ioprio_set, 1, 0, prio)); }

// Every thread of this process (and the threads they start) under `policy`.
// The readers run SCHED_FIFO on both sides: the kernel finishes a request in
// interrupt context and the woken reader preempts whatever the machine is
// busy with, so the best-effort reader's gap between two reads stays short
// however loaded the machine is. iostack's drivers and timers are threads;
// real-time they are as prompt.
bool set_policy_all_threads(int policy) {
  sched_param sp{};
  sp.sched_priority = policy == SCHED_FIFO ? 10 : 0;
  bool ok = true;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ok = sched_setscheduler(std::atoi(e->d_name), policy, &sp) == 0 && ok;
    }
    closedir(d);
  }
  return ok;
}

struct Shares {
  std::uint64_t be = 0;
  std::uint64_t idle = 0;
  double idle_pct() const { return be + idle ? 100.0 * idle / (be + idle) : 0; }
};

std::ostream& operator<<(std::ostream& os, const Shares& s) {
  return os << "best-effort " << (s.be >> 20) << " MiB, idle " << (s.idle >> 20) << " MiB ("
            << s.idle_pct() << "%)";
}

// The file, the cgroup and the kernel's loop device.
class Host {
 public:
  bool setup(std::string* why) {
    if (geteuid() != 0) return *why = "needs root for loop devices and cgroups", false;
    if (!fs::exists(fs::path(kBlkioRoot) / "blkio.throttle.read_bps_device"))
      return *why = "no cgroup v1 blkio throttling at /sys/fs/cgroup/blkio", false;
    char name[] = "/var/tmp/iostack-ddshare-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) return *why = "cannot create a file in /var/tmp", false;
    file_ = name;
    // Real data: reads of holes would never reach the disk and its throttle.
    void* buf = nullptr;
    posix_memalign(&buf, 4096, kIoBytes);
    std::memset(buf, 0x5a, kIoBytes);
    bool ok = true;
    for (std::uint64_t off = 0; ok && off < kFileBytes; off += kIoBytes)
      ok = pwrite(fd, buf, kIoBytes, static_cast<off_t>(off)) == kIoBytes;
    free(buf);
    ok = ok && fsync(fd) == 0;
    struct stat st {};
    fstat(fd, &st);
    close(fd);
    if (!ok) return *why = "cannot write the backing file", false;
    // The whole disk under /var/tmp: throttling rules live on disks.
    fs::path sysdev = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                      std::to_string(minor(st.st_dev));
    if (major(st.st_dev) == 0 || !fs::exists(sysdev))
      return *why = "/var/tmp is not on a block device", false;
    if (fs::exists(sysdev / "partition")) sysdev = fs::canonical(sysdev).parent_path();
    disk_devt_ = read_line(sysdev / "dev");
    cg_ = fs::path(kBlkioRoot) / ("iostack-ddshare-" + std::to_string(getpid()));
    std::error_code ec;
    fs::create_directory(cg_, ec);
    if (ec) return *why = "cannot create a blkio cgroup", false;
    if (!write_file(cg_ / "blkio.throttle.read_bps_device",
                    disk_devt_ + " " + std::to_string(kBps)))
      return *why = "cannot throttle " + disk_devt_ + " in a blkio cgroup", false;
    int status = 0;
    loop_ = sh("losetup --find --show --direct-io=on " + file_ + " 2>/dev/null", &status);
    if (status != 0 || loop_.empty()) {
      loop_.clear();
      return *why = "losetup could not attach a loop device", false;
    }
    const fs::path sys = fs::path("/sys/block") / fs::path(loop_).filename();
    write_file(sys / "queue/scheduler", "none");
    if (!write_file(sys / "queue/scheduler", "mq-deadline"))
      return *why = "mq-deadline is not available in this kernel", false;
    if (read_line(sys / "loop/dio") != "1")
      return *why = "the loop device refused direct I/O on this file system", false;
    return true;
  }

  ~Host() {
    leave_cgroup();
    if (!loop_.empty()) sh("losetup -d " + loop_);
    if (!cg_.empty()) rmdir(cg_.c_str());
    if (!file_.empty()) unlink(file_.c_str());
  }

  bool join_cgroup() const { return write_file(cg_ / "cgroup.procs", std::to_string(getpid())); }
  void leave_cgroup() const {
    write_file(fs::path(kBlkioRoot) / "cgroup.procs", std::to_string(getpid()));
  }

  // The two readers as processes on the kernel's loop device.
  Shares run_kernel() const {
    int start[2], result[2];
    if (pipe(start) != 0 || pipe(result) != 0) return {};
    void* buf = nullptr;
    posix_memalign(&buf, 4096, kIoBytes);
    pid_t pids[2];
    const int prios[2] = {task::prio_value(task::kClassBe, 4),
                          task::prio_value(task::kClassIdle, 0)};
    for (int i = 0; i < 2; ++i) {
      pids[i] = fork();
      if (pids[i] == 0) {
        close(start[1]);
        close(result[0]);
        char c;
        const bool joined = write_file(cg_ / "cgroup.procs", std::to_string(getpid()));
        const int fd = open(loop_.c_str(), O_RDONLY | O_DIRECT);
        sched_param sp{};
        sp.sched_priority = 10;
        if (!joined || fd < 0 || sys_ioprio_set(prios[i]) != 0 ||
            sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
          _exit(1);
        (void)!read(start[0], &c, 1);  // both begin together
        std::uint64_t bytes = 0, off = 0;
        const auto end = Clock::now() + kRunTime;
        while (Clock::now() < end) {
          const ssize_t n = pread(fd, buf, kIoBytes, static_cast<off_t>(off));
          if (n <= 0) _exit(1);
          bytes += static_cast<std::uint64_t>(n);
          off = (off + kIoBytes) % kFileBytes;
        }
        const std::uint64_t rec[2] = {static_cast<std::uint64_t>(i), bytes};
        (void)!write(result[1], rec, sizeof rec);
        _exit(0);
      }
    }
    close(start[0]);
    close(result[1]);
    close(start[1]);  // go
    Shares s;
    std::uint64_t rec[2];
    while (read(result[0], rec, sizeof rec) == sizeof rec) (rec[0] ? s.idle : s.be) = rec[1];
    close(result[0]);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    free(buf);
    return s;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_, loop_, disk_devt_;
  fs::path cg_;
};

// One reader on iostack's device: synchronous 1 MiB reads through
// submit_bio, as a psync reader's pread does.
struct Reader {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::uint64_t bytes = 0;

  static void end_io(Bio* bio) {
    auto* r = static_cast<Reader*>(bio->bi_private);
    bio_put(bio);
    std::lock_guard g(r->mu);
    r->done = true;
    r->cv.notify_one();
  }

  void run(Disk* disk, std::uint16_t prio, void* buf, Clock::time_point end) {
    sector_t off = 0;
    const sector_t span = kFileBytes >> kSectorShift;
    while (Clock::now() < end) {
      Bio* bio = bio_alloc(disk, 1, REQ_OP_READ | REQ_SYNC | REQ_IDLE);
      bio->bi_iter.bi_sector = off;
      bio->bi_ioprio = prio;
      bio_add_vec(bio, buf, kIoBytes);
      bio->bi_end_io = &end_io;
      bio->bi_private = this;
      done = false;
      submit_bio(bio);
      std::unique_lock g(mu);
      cv.wait(g, [&] { return done; });
      bytes += kIoBytes;
      off = (off + (kIoBytes >> kSectorShift)) % span;
    }
  }
};

TEST(DdIdleShareDiff, IdleReaderShareMatchesKernel) {
  Host host;
  std::string why;
  if (!host.setup(&why)) GTEST_SKIP() << why;

  const bool rt = set_policy_all_threads(SCHED_FIFO);
  set_policy_all_threads(SCHED_OTHER);
  if (!rt) GTEST_SKIP() << "needs SCHED_FIFO for the readers";

  const Shares kernel = host.run_kernel();
  ASSERT_GT(kernel.be, 0u) << "the kernel's readers failed";

  ASSERT_TRUE(host.join_cgroup());
  ASSERT_TRUE(set_policy_all_threads(SCHED_FIFO));
  std::string err;
  auto dev = dev::create_device("loop:" + host.file() + ",dio=1", nullptr, &err);
  ASSERT_TRUE(dev) << err;
  ASSERT_EQ(dev->queue()->set_elevator("mq-deadline"), 0);
  ASSERT_TRUE(dev->loop()->use_dio());
  Reader be, idle;
  void* bufs[2];
  for (auto& b : bufs) posix_memalign(&b, 4096, kIoBytes);
  const auto end = Clock::now() + kRunTime;
  std::thread tb([&] { be.run(dev->disk(), task::prio_value(task::kClassBe, 4), bufs[0], end); });
  std::thread ti(
      [&] { idle.run(dev->disk(), task::prio_value(task::kClassIdle, 0), bufs[1], end); });
  tb.join();
  ti.join();
  dev.reset();
  set_policy_all_threads(SCHED_OTHER);
  host.leave_cgroup();
  for (auto& b : bufs) free(b);
  const Shares ours{be.bytes, idle.bytes};

  std::printf("kernel:  %s\niostack: %s\n", (std::ostringstream() << kernel).str().c_str(),
              (std::ostringstream() << ours).str().c_str());
  RecordProperty("kernel_idle_pct", std::to_string(kernel.idle_pct()));
  RecordProperty("iostack_idle_pct", std::to_string(ours.idle_pct()));
  // Measured here: the kernel 0.6-1.9%, iostack 0.6-1.9%; before iostack's
  // reruns went on the tick grid, 1.9-6.2%. One 1 MiB read is 0.6%.
  EXPECT_NEAR(ours.idle_pct(), kernel.idle_pct(), 3.0)
      << "kernel " << kernel << ", iostack " << ours;
  EXPECT_GT(ours.be, 0u);
}

}  // namespace
}  // namespace iostack::block::test
