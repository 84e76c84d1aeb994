// struct gendisk (block/genhd.c): a named block device with its capacity,
// request queue, I/O statistics and optional blktrace.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "block/blk_types.hpp"
#include "core/mutex.hpp"
#include "core/per_thread.hpp"
#include "trace/diskstats.hpp"

namespace iostack::trace {
class BlkTrace;
}

namespace iostack::block {

class RequestQueue;

// Counters behind /proc/diskstats (struct disk_stats): one set per thread,
// as the kernel keeps one per CPU, written only by its thread (local_add)
// and summed on read. in_flight goes up where a request starts and down
// where it ends, so one thread's count may be negative.
struct DiskStatCounters {
  std::atomic<std::uint64_t> ios[NR_STAT_GROUPS]{};
  std::atomic<std::uint64_t> merges[NR_STAT_GROUPS]{};
  std::atomic<std::uint64_t> sectors[NR_STAT_GROUPS]{};
  std::atomic<std::uint64_t> nsecs[NR_STAT_GROUPS]{};
  std::atomic<std::int64_t> in_flight[2]{};  // read, write
};

class Disk {
 public:
  Disk(std::string name, unsigned major, unsigned minor, sector_t capacity, RequestQueue* q);
  ~Disk();

  const std::string& name() const { return name_; }
  unsigned major() const { return major_; }
  unsigned minor() const { return minor_; }
  // blktrace's device number: MKDEV with a 20-bit minor.
  std::uint32_t trace_dev() const { return (major_ << 20) | minor_; }
  sector_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  void set_capacity(sector_t s) { capacity_.store(s, std::memory_order_relaxed); }
  bool read_only() const { return read_only_.load(std::memory_order_relaxed); }
  void set_read_only(bool ro) { read_only_.store(ro, std::memory_order_relaxed); }
  RequestQueue* queue() const { return q_; }

  // The calling thread's counters.
  DiskStatCounters& counters() { return *stats_.local(); }
  // Requests started and not yet done (bdev_count_inflight).
  std::int64_t in_flight() const;
  // update_io_ticks' state: time with I/O in flight, and when it was last
  // brought up to date (shared, but written only when the jiffy changes).
  std::atomic<std::uint64_t>& io_ticks_ns() { return io_ticks_ns_; }
  std::atomic<std::uint64_t>& stamp_ns() { return stamp_ns_; }
  trace::DiskStats stats() const;
  // One line in /proc/diskstats format.
  std::string diskstats_line() const;

  // Starts writing a blktrace of this device into `dir` (0 or -errno).
  int trace_start(const std::string& dir, std::string* err);
  void trace_stop();
  // The active trace or null; read on every event, so it is an atomic pointer.
  trace::BlkTrace* trace() const { return trace_.load(std::memory_order_acquire); }

  std::atomic<std::uint64_t> ro_write_warnings{0};

 private:
  std::string name_;
  unsigned major_, minor_;
  std::atomic<sector_t> capacity_;
  std::atomic<bool> read_only_{false};
  RequestQueue* q_;
  core::PerThread<DiskStatCounters> stats_;
  std::atomic<std::uint64_t> io_ticks_ns_{0};
  std::atomic<std::uint64_t> stamp_ns_{0};
  std::atomic<trace::BlkTrace*> trace_{nullptr};
  core::Mutex trace_mu_;
  std::unique_ptr<trace::BlkTrace> trace_owner_ GUARDED_BY(trace_mu_);
};

}  // namespace iostack::block
