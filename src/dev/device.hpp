// Block devices for the rest of iostack: a driver, its request queue and its
// disk, created from a DeviceSpec (device_spec.hpp). Names and numbers follow
// the kernel: "ram<N>" on brd's RAMDISK_MAJOR 1 with minor N; "nullb<N>"
// with minor N on major 252 (null_blk asks for a dynamic major; 252 is one
// it commonly gets); "loop<N>" on LOOP_MAJOR 7. N is the lowest free index
// per kind, like ida_alloc. The simulated disks: "sd<letter>" (hdd:) on
// SCSI_DISK0_MAJOR 8 with minor 16*N, and "nvme<N>n1" (ssd:) on
// BLOCK_EXT_MAJOR 259 with minor N. Stacking targets (flakey:, dust:, ...)
// are "dm-<N>" on major 253 (device-mapper's dynamic major, commonly 253),
// over the device they wrap, which they own.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "block/disk.hpp"
#include "block/driver.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "dev/device_spec.hpp"
#include "dev/hdd.hpp"
#include "dev/loop.hpp"
#include "dev/null_blk.hpp"
#include "dev/ram.hpp"
#include "dev/ssd.hpp"
#include "dev/target.hpp"

namespace iostack::dev {

constexpr unsigned kRamMajor = 1;        // RAMDISK_MAJOR (include/uapi/linux/major.h)
constexpr unsigned kNullBlkMajor = 252;  // dynamic in the kernel
constexpr unsigned kLoopMajor = 7;       // LOOP_MAJOR
constexpr unsigned kSdMajor = 8;         // SCSI_DISK0_MAJOR
constexpr unsigned kExtMajor = 259;      // BLOCK_EXT_MAJOR (NVMe namespaces)
constexpr unsigned kDmMajor = 253;       // dynamic in the kernel

class BlockDevice {
 public:
  // Waits for requests still in the driver, then tears down disk, queue and
  // driver in that order. No new I/O may be submitted meanwhile.
  ~BlockDevice();
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  const std::string& name() const { return disk_->name(); }
  block::Disk* disk() const { return disk_.get(); }
  block::RequestQueue* queue() const { return queue_.get(); }
  block::BlockDriver* driver() const { return driver_.get(); }
  const DeviceSpec& spec() const { return spec_; }
  // The concrete driver, or null when the device is of the other kind.
  RamDriver* ram() const { return ram_; }
  NullBlkDriver* null_blk() const { return null_; }
  LoopDriver* loop() const { return loop_; }
  HddDriver* hdd() const { return hdd_; }
  SsdDriver* ssd() const { return ssd_; }
  TargetDriver* target() const { return target_; }
  // The device a target wraps, or null.
  BlockDevice* lower() const { return target_ ? target_->lower() : nullptr; }
  // The simulated disks' and the targets' counters (name, value), for
  // reports: a target's own, then those of the devices below; empty for
  // the plain kinds.
  std::vector<std::pair<std::string, double>> counters() const;
  // dmsetup message: argv[0] is the message ("addbadblock", "mark", ...).
  // Every target down the stack that knows the message takes it, top
  // first (so "mark X" reaches a log-writes and a wcache below it); the
  // first one's answer is returned, and an error stops the walk.
  // Returns 0, or 1 with *result set to the target's answer, or -EINVAL
  // (bad arguments, or no target here takes such a message).
  int message(const std::vector<std::string>& argv, std::string* result);

 private:
  friend std::unique_ptr<BlockDevice> create_device(const DeviceSpec&, core::Clock*, std::string*);
  BlockDevice() = default;

  DeviceSpec spec_;
  int index_ = -1;
  std::unique_ptr<block::BlockDriver> driver_;
  RamDriver* ram_ = nullptr;
  NullBlkDriver* null_ = nullptr;
  LoopDriver* loop_ = nullptr;
  HddDriver* hdd_ = nullptr;
  SsdDriver* ssd_ = nullptr;
  TargetDriver* target_ = nullptr;
  std::unique_ptr<block::RequestQueue> queue_;
  std::unique_ptr<block::Disk> disk_;
};

// Builds the device and gives its queue the kernel's default elevator
// (mq-deadline for one hardware queue, none otherwise; none for loop, which
// sets BLK_MQ_F_NO_SCHED_BY_DEFAULT). A loop device does its I/O on worker
// threads, or inside queue_rq under a virtual clock. `clock` null means
// core::real_clock(). Returns null with *err set (one line) on failure;
// never throws.
std::unique_ptr<BlockDevice> create_device(const DeviceSpec& spec, core::Clock* clock,
                                           std::string* err);
// Same, parsing `spec` first ("ram:64M", "null:1G,irqmode=timer", ...).
std::unique_ptr<BlockDevice> create_device(std::string_view spec, core::Clock* clock,
                                           std::string* err);

}  // namespace iostack::dev
