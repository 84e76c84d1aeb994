// The devices a run uses: one per distinct filename (ram:SIZE, null:SIZE,
// ...), created before any job starts, and the queue attributes jobs ask
// for. Everything is checked up front: a twin of each device takes every
// job's settings in order, so a bad value fails before any I/O and the real
// device only changes when the job that asked for it starts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "job/job_builder.hpp"

namespace iostack::job {

// Where a job's I/O falls on its device.
struct JobRange {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

class Targets {
 public:
  ~Targets();
  // Creates the devices, resolves each job's offset and size against its
  // device, and checks every queue setting. False with a one-line *err.
  // `clock` (null: the real clock) is the devices' clock; a virtual one
  // refuses devices that run on threads of their own (loop).
  bool prepare(const std::vector<JobDef>& jobs, std::string* err, core::Clock* clock = nullptr);
  dev::BlockDevice* device_of(std::size_t job) const { return job_dev_[job]; }
  const JobRange& range_of(std::size_t job) const { return ranges_[job]; }
  // The range of clone `clone` (numjobs): offset_increment further for each
  // clone (fio's get_start_offset). False with *err when it leaves the device.
  bool clone_range(const JobDef& j, std::size_t job, unsigned clone, JobRange* r,
                   std::string* err) const;
  // Stores the job's queue settings on its device (when its batch starts).
  bool apply_settings(const JobOptions& o, dev::BlockDevice* d, std::string* err) const;
  // Devices in creation order.
  std::vector<dev::BlockDevice*> devices() const;

 private:
  static std::string spec_of(const JobOptions& o);
  std::vector<std::unique_ptr<dev::BlockDevice>> devs_;
  std::map<std::string, dev::BlockDevice*> by_spec_;
  std::vector<dev::BlockDevice*> job_dev_;
  std::vector<JobRange> ranges_;
  std::vector<std::uint64_t> increments_;  // offset_increment in bytes, per job
  std::vector<std::uint32_t> align_;       // what a percentage increment aligns to
};

// The one-line message for a queue attribute store that failed on `d`.
std::string queue_error(const QueueSetting& s, const std::string& dev, const block::RequestQueue& q,
                        int rc);

}  // namespace iostack::job
