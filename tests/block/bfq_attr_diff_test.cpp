// Differential test of bfq's iosched/ files against the kernel's: a loop
// device set to bfq lists its files and their defaults, then takes the same
// writes (valid, clamped and refused) as iostack's bfq; the error of each
// write and every file's value after it must be the same.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "block/elevator.hpp"
#include "block/request_queue.hpp"
#include "dev/device.hpp"

namespace iostack::block::test {
namespace {

namespace fs = std::filesystem;

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string read_value(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// A sysfs write as write(2) does it: 0 or -errno.
int sysfs_write(const fs::path& p, const std::string& v) {
  const int fd = open(p.c_str(), O_WRONLY);
  if (fd < 0) return -errno;
  const ssize_t n = write(fd, v.data(), v.size());
  const int err = n < 0 ? -errno : 0;
  close(fd);
  return err;
}

class KernelBfq {
 public:
  bool setup(std::string* why) {
    if (geteuid() != 0) return *why = "needs root for loop devices", false;
    file_ = "/var/tmp/iostack-bfqattr-" + std::to_string(getpid());
    { std::ofstream f(file_); }
    fs::resize_file(file_, 16u << 20);
    dev_ = sh("losetup --find --show " + file_ + " 2>/dev/null");
    if (dev_.empty()) return *why = "losetup could not attach a loop device", false;
    sys_ = fs::path("/sys/block") / fs::path(dev_).filename() / "queue";
    // A fresh instance: a detached loop device keeps its scheduler and
    // tunables for the next user.
    sysfs_write(sys_ / "scheduler", "none");
    if (sysfs_write(sys_ / "scheduler", "bfq") != 0)
      return *why = "bfq is not available in this kernel", false;
    return true;
  }
  ~KernelBfq() {
    if (!dev_.empty()) sh("losetup -d " + dev_);
    if (!file_.empty()) fs::remove(file_);
  }
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(sys_ / "iosched")) out.insert(e.path().filename());
    return out;
  }
  std::string show(const std::string& a) const { return read_value(sys_ / "iosched" / a); }
  int store(const std::string& a, const std::string& v) const {
    return sysfs_write(sys_ / "iosched" / a, v);
  }

 private:
  std::string file_, dev_;
  fs::path sys_;
};

TEST(BfqAttrDiff, NamesDefaultsAndWritesMatchTheKernel) {
  KernelBfq kernel;
  std::string why;
  if (!kernel.setup(&why)) GTEST_SKIP() << why;
  std::string err;
  auto dev = dev::create_device("ram:16M", nullptr, &err);
  ASSERT_TRUE(dev) << err;
  ASSERT_EQ(dev->queue()->set_elevator("bfq"), 0);
  Elevator* ours = dev->queue()->elevator();

  const std::vector<std::string> names_v = ours->attr_names();
  const std::set<std::string> names(names_v.begin(), names_v.end());
  ASSERT_EQ(names, kernel.names());
  auto compare_all = [&](const std::string& after) {
    for (const std::string& n : names) {
      std::string v;
      ASSERT_EQ(ours->attr_show(n, &v), 0) << n;
      EXPECT_EQ(v, kernel.show(n)) << n << " after " << after;
    }
  };
  compare_all("nothing (defaults)");

  // sysfs strips nothing: a trailing newline is kstrtoul's to accept.
  const std::vector<std::pair<std::string, std::string>> writes = {
      {"slice_idle", "4\n"},
      {"slice_idle", " 5"},
      {"slice_idle", "abc"},
      {"slice_idle", "-1"},
      {"slice_idle", "0x10"},
      {"slice_idle", "+7"},
      {"slice_idle_us", "123"},
      {"slice_idle", "5000"},
      {"slice_idle_us", "4294967296"},
      {"slice_idle", "0"},
      {"strict_guarantees", "1"},
      {"strict_guarantees", "7"},
      {"strict_guarantees", "0"},
      {"low_latency", "5"},
      {"low_latency", "0"},
      {"back_seek_max", "0"},
      {"back_seek_max", "18446744073709551616"},
      {"back_seek_penalty", "0"},
      {"back_seek_penalty", "3"},
      {"fifo_expire_sync", "0"},
      {"fifo_expire_async", "99999999999"},
      {"fifo_expire_sync", "200"},
      {"timeout_sync", "0"},
      {"timeout_sync", "10"},
      {"timeout_sync", "125"},
      {"max_budget", "5000000000"},
      {"max_budget", "4096"},
      {"max_budget", "0"},
  };
  for (const auto& [attr, value] : writes) {
    const int k = kernel.store(attr, value);
    const int o = ours->attr_store(attr, value);
    EXPECT_EQ(o, k) << attr << " <- '" << value << "'";
    compare_all(attr + " <- '" + value + "'");
  }
}

}  // namespace
}  // namespace iostack::block::test
