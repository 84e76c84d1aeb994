// Differential test against the kernel's block layer: the same batch of
// O_DIRECT writes, submitted with one io_submit (which the kernel plugs),
// goes to a real loop device running mq-deadline and to iostack with the
// loop device's queue limits. The requests the kernel issues (tracefs
// block_rq_issue) and its merge count (/sys/block/loopN/stat) must match
// what iostack's driver receives.
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "block_fixture.hpp"

namespace iostack::block::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTracefs = "/sys/kernel/tracing";

std::string sh(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int st = pclose(p);
  if (status) *status = st;
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_file(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v;
  out.flush();
  return static_cast<bool>(out);
}

struct Issue {
  sector_t sector;
  unsigned sectors;
  bool operator==(const Issue&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Issue& i) {
  return os << i.sector << "+" << i.sectors;
}

// Writes of 4 KiB at these 4 KiB block numbers, in this order.
using Batch = std::vector<unsigned>;

// A loop device over a file on a disk file system, with direct I/O, running
// mq-deadline, and a private tracefs instance recording its issued requests.
class KernelLoop {
 public:
  bool setup(std::string* why) {
    if (geteuid() != 0) return *why = "needs root for loop devices and tracefs", false;
    if (!fs::exists(fs::path(kTracefs) / "instances") &&
        mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0)
      return *why = "tracefs is not available", false;
    file_ = fs::path("/var/tmp") / ("iostack-loop-" + std::to_string(getpid()));
    { std::ofstream f(file_); }
    fs::resize_file(file_, 64u << 20);
    int st = 0;
    dev_ = sh("losetup --find --show --direct-io=on " + file_.string() + " 2>/dev/null", &st);
    while (!dev_.empty() && dev_.back() == '\n') dev_.pop_back();
    if (st != 0 || dev_.empty()) return *why = "losetup could not attach a loop device", false;
    name_ = fs::path(dev_).filename();
    sys_ = fs::path("/sys/block") / name_;
    // A fresh mq-deadline instance: the old one would remember where its
    // last dispatch ended (latest_pos) across tests.
    write_file(sys_ / "queue/scheduler", "none");
    if (!write_file(sys_ / "queue/scheduler", "mq-deadline"))
      return *why = "mq-deadline is not available in this kernel", false;
    if (read_file(sys_ / "loop/dio").rfind("1", 0) != 0)
      return *why = "the loop device refused direct I/O on this file system", false;
    struct stat sb;
    stat(dev_.c_str(), &sb);
    devt_ = (major(sb.st_rdev) << 20) | minor(sb.st_rdev);
    inst_ = fs::path(kTracefs) / "instances" / ("iostack-" + std::to_string(getpid()));
    fs::create_directories(inst_);
    if (!write_file(inst_ / "events/block/block_rq_issue/filter",
                    "dev == " + std::to_string(devt_)) ||
        !write_file(inst_ / "events/block/block_rq_issue/enable", "1"))
      return *why = "cannot enable the block_rq_issue tracepoint", false;
    return true;
  }

  ~KernelLoop() {
    if (!inst_.empty()) {
      write_file(inst_ / "events/block/block_rq_issue/enable", "0");
      rmdir(inst_.c_str());
    }
    if (!dev_.empty()) sh("losetup -d " + dev_);
    if (!file_.empty()) fs::remove(file_);
  }

  std::string queue_attr(const char* a) const {
    std::string v = read_file(sys_ / "queue" / a);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }

  // Submits the batch with one io_submit and waits; returns the requests the
  // kernel issued and how many write merges it counted.
  std::vector<Issue> run(const Batch& batch, unsigned long* merges) {
    write_file(inst_ / "trace", "");
    const unsigned long merges_before = write_merges();
    const int fd = open(dev_.c_str(), O_WRONLY | O_DIRECT);
    aio_context_t ctx = 0;
    syscall(SYS_io_setup, 256, &ctx);
    void* mem = nullptr;
    posix_memalign(&mem, 4096, 4096 * batch.size());
    std::vector<iocb> cbs(batch.size());
    std::vector<iocb*> ptrs;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      cbs[i] = iocb{};
      cbs[i].aio_fildes = static_cast<std::uint32_t>(fd);
      cbs[i].aio_lio_opcode = IOCB_CMD_PWRITE;
      cbs[i].aio_buf = reinterpret_cast<std::uint64_t>(static_cast<char*>(mem) + 4096 * i);
      cbs[i].aio_nbytes = 4096;
      cbs[i].aio_offset = 4096ll * batch[i];
      ptrs.push_back(&cbs[i]);
    }
    const long n = syscall(SYS_io_submit, ctx, static_cast<long>(ptrs.size()), ptrs.data());
    std::vector<io_event> ev(batch.size());
    long got = 0;
    while (n > 0 && got < n) {
      const long r = syscall(SYS_io_getevents, ctx, 1, n - got, ev.data(), nullptr);
      if (r <= 0) break;
      got += r;
    }
    syscall(SYS_io_destroy, ctx);
    close(fd);
    free(mem);
    *merges = write_merges() - merges_before;
    std::vector<Issue> out;
    std::istringstream in(read_file(inst_ / "trace"));
    std::string line;
    while (std::getline(in, line)) {
      const auto at = line.find("block_rq_issue: ");
      if (at == std::string::npos) continue;
      std::istringstream f(line.substr(at + 16));
      std::string dev, rwbs, bytes, cmd, plus;
      Issue i{};
      if (f >> dev >> rwbs >> bytes >> cmd >> i.sector >> plus >> i.sectors) out.push_back(i);
    }
    return out;
  }

 private:
  unsigned long write_merges() const {
    std::istringstream in(read_file(sys_ / "stat"));
    unsigned long v[8] = {};
    for (auto& x : v) in >> x;
    return v[5];
  }

  fs::path file_, sys_, inst_;
  std::string dev_, name_;
  unsigned devt_ = 0;
};

class KernelLoopDiffTest : public BlockTest {
 protected:
  void SetUp() override {
    std::string why;
    if (!kloop_.setup(&why)) GTEST_SKIP() << why;
    QueueLimits lim;
    lim.max_hw_sectors =
        2 * static_cast<unsigned>(std::stoul(kloop_.queue_attr("max_hw_sectors_kb")));
    lim.max_user_sectors =
        2 * static_cast<unsigned>(std::stoul(kloop_.queue_attr("max_sectors_kb")));
    lim.max_segments = static_cast<std::uint16_t>(std::stoul(kloop_.queue_attr("max_segments")));
    lim.max_segment_size = static_cast<unsigned>(std::stoul(kloop_.queue_attr("max_segment_size")));
    lim.logical_block_size =
        static_cast<unsigned>(std::stoul(kloop_.queue_attr("logical_block_size")));
    const unsigned depth = static_cast<unsigned>(std::stoul(kloop_.queue_attr("nr_requests"))) / 2;
    make("mq-deadline", lim, depth);
  }

  // The same batch through iostack: bios of class NONE (the task's
  // priority, as the kernel gives them), REQ_SYNC | REQ_IDLE as direct
  // writes are, under one plug as io_submit does for more than 2 iocbs.
  std::vector<Issue> run_iostack(const Batch& batch, unsigned long* merges) {
    drv.issued.clear();
    const auto before = stats().write.merges;
    BlkPlug plug;
    if (batch.size() > 2) blk_start_plug(&plug);
    for (unsigned b : batch) submit(REQ_OP_WRITE | REQ_SYNC | REQ_IDLE, 8ull * b, 4096, 0);
    if (batch.size() > 2) blk_finish_plug(&plug);
    clock.run_until_idle();
    *merges = stats().write.merges - before;
    std::vector<Issue> out;
    for (const auto& r : drv.issued) out.push_back({r.sector, r.bytes >> 9});
    return out;
  }

  void compare(const Batch& batch) {
    unsigned long km = 0, im = 0;
    const auto kernel = kloop_.run(batch, &km);
    const auto ours = run_iostack(batch, &im);
    ASSERT_FALSE(kernel.empty()) << "the kernel trace recorded nothing";
    EXPECT_EQ(ours, kernel);
    EXPECT_EQ(im, km) << "write merges";
  }

  KernelLoop kloop_;
};

Batch sequential(unsigned first, unsigned n) {
  Batch b;
  for (unsigned i = 0; i < n; ++i) b.push_back(first + i);
  return b;
}

TEST_F(KernelLoopDiffTest, ThirtyTwoSequentialWrites) { compare(sequential(0, 32)); }

TEST_F(KernelLoopDiffTest, SixtyFourSequentialWrites) { compare(sequential(100, 64)); }

TEST_F(KernelLoopDiffTest, DescendingWritesFrontMerge) {
  Batch b = sequential(200, 24);
  std::reverse(b.begin(), b.end());
  compare(b);
}

TEST_F(KernelLoopDiffTest, TwoInterleavedStreams) {
  Batch b;
  for (unsigned i = 0; i < 16; ++i) {
    b.push_back(300 + i);
    b.push_back(1000 + i);
  }
  compare(b);
}

TEST_F(KernelLoopDiffTest, ScatteredWritesIssueInSectorOrder) {
  compare(Batch{900, 17, 450, 3, 2000, 61, 1200, 5});
}

}  // namespace
}  // namespace iostack::block::test
