// A kernel loop device (direct I/O) over a file in /var/tmp whose reads a
// blkio cgroup throttles on the disk beneath, for the scheduler oracles
// that compare shares of a slow device between the kernel and iostack.
#pragma once

#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace iostack::block::test {

namespace fs = std::filesystem;

inline constexpr const char* kBlkioRoot = "/sys/fs/cgroup/blkio";

// Runs `cmd` through the shell: its output without trailing newlines.
inline std::string sh(const std::string& cmd, int* status = nullptr) {
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

inline std::string read_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

inline bool write_file(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v;
  out.flush();
  return static_cast<bool>(out);
}

// Every thread of this process (and the threads they start) under `policy`.
// Real-time readers on both sides keep a loaded machine's scheduling delays
// out of the gaps and think times the schedulers measure: the kernel wakes
// its readers from interrupt context, and iostack's drivers and timers are
// threads that must be as prompt.
inline bool set_policy_all_threads(int policy) {
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

class ThrottledLoop {
 public:
  // A file of `bytes` of real data (reads of holes would never reach the
  // disk and its throttle), a cgroup reading the whole disk under /var/tmp at
  // `bps`, and the loop device with `scheduler`. False with the reason when
  // this machine cannot (not root, no cgroup v1 blkio, no direct I/O).
  bool setup(const std::string& tag, std::uint64_t bytes, std::uint64_t bps,
             const std::string& scheduler, std::string* why) {
    if (geteuid() != 0) return *why = "needs root for loop devices and cgroups", false;
    if (!fs::exists(fs::path(kBlkioRoot) / "blkio.throttle.read_bps_device"))
      return *why = "no cgroup v1 blkio throttling at /sys/fs/cgroup/blkio", false;
    std::string name = "/var/tmp/iostack-" + tag + "-XXXXXX";
    const int fd = mkstemp(name.data());
    if (fd < 0) return *why = "cannot create a file in /var/tmp", false;
    file_ = name;
    constexpr std::uint32_t kChunk = 1u << 20;
    void* buf = nullptr;
    if (posix_memalign(&buf, 4096, kChunk) != 0) {
      close(fd);
      return *why = "out of memory", false;
    }
    std::memset(buf, 0x5a, kChunk);
    bool ok = true;
    for (std::uint64_t off = 0; ok && off < bytes; off += kChunk)
      ok = pwrite(fd, buf, kChunk, static_cast<off_t>(off)) == kChunk;
    free(buf);
    ok = ok && fsync(fd) == 0;
    struct stat st {};
    fstat(fd, &st);
    close(fd);
    if (!ok) return *why = "cannot write the backing file", false;
    // Throttling rules live on whole disks.
    fs::path sysdev = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                      std::to_string(minor(st.st_dev));
    if (major(st.st_dev) == 0 || !fs::exists(sysdev))
      return *why = "/var/tmp is not on a block device", false;
    if (fs::exists(sysdev / "partition")) sysdev = fs::canonical(sysdev).parent_path();
    const std::string disk_devt = read_line(sysdev / "dev");
    cg_ = fs::path(kBlkioRoot) / ("iostack-" + tag + "-" + std::to_string(getpid()));
    std::error_code ec;
    fs::create_directory(cg_, ec);
    if (ec) return *why = "cannot create a blkio cgroup", false;
    if (!write_file(cg_ / "blkio.throttle.read_bps_device", disk_devt + " " + std::to_string(bps)))
      return *why = "cannot throttle " + disk_devt + " in a blkio cgroup", false;
    int status = 0;
    loop_ = sh("losetup --find --show --direct-io=on " + file_ + " 2>/dev/null", &status);
    if (status != 0 || loop_.empty()) {
      loop_.clear();
      return *why = "losetup could not attach a loop device", false;
    }
    sys_ = fs::path("/sys/block") / fs::path(loop_).filename();
    if (read_line(sys_ / "loop/dio") != "1")
      return *why = "the loop device refused direct I/O on this file system", false;
    scheduler_ = scheduler;
    if (!fresh_scheduler()) return *why = scheduler + " is not available in this kernel", false;
    return true;
  }

  ~ThrottledLoop() {
    leave_cgroup();
    if (!loop_.empty()) sh("losetup -d " + loop_);
    if (!cg_.empty()) rmdir(cg_.c_str());
    if (!file_.empty()) unlink(file_.c_str());
  }

  // A new instance of the scheduler: no state carried over from a run.
  bool fresh_scheduler() const {
    write_file(sys_ / "queue/scheduler", "none");
    return write_file(sys_ / "queue/scheduler", scheduler_);
  }

  // Puts this process (or, from a forked reader, that one) in the cgroup.
  bool join_cgroup() const { return write_file(cg_ / "cgroup.procs", std::to_string(getpid())); }
  void leave_cgroup() const {
    if (!cg_.empty()) write_file(fs::path(kBlkioRoot) / "cgroup.procs", std::to_string(getpid()));
  }

  const std::string& file() const { return file_; }
  const std::string& loop() const { return loop_; }

 private:
  std::string file_, loop_, scheduler_;
  fs::path sys_, cg_;
};

}  // namespace iostack::block::test
