// struct request_queue and struct blk_mq_tag_set (include/linux/blkdev.h,
// blk-mq.h): limits, attributes, hardware queues, the elevator and the flush
// machinery of one device.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "block/driver.hpp"
#include "block/elevator.hpp"
#include "block/flush.hpp"
#include "block/hctx.hpp"
#include "block/plug.hpp"
#include "block/queue_limits.hpp"
#include "block/tags.hpp"
#include "core/mutex.hpp"
#include "core/per_thread.hpp"

namespace iostack::core {
class Clock;
}

namespace iostack::block {

class Disk;

// struct blk_mq_tag_set: the driver and the shape of its queues.
struct TagSetConfig {
  unsigned nr_hw_queues = 1;
  unsigned queue_depth = 64;
};

class RequestQueue {
 public:
  RequestQueue(BlockDriver* driver, const TagSetConfig& set, const QueueLimits& limits,
               core::Clock* clock);
  ~RequestQueue();
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;

  BlockDriver* driver() const { return driver_; }
  core::Clock* clock() const { return clock_; }
  std::uint64_t now() const { return clock_->now(); }
  std::uint64_t jiffies() const { return blk_jiffies(clock_); }
  Disk* disk() const { return disk_; }
  void set_disk(Disk* d) { disk_ = d; }

  const QueueLimits& limits() const { return limits_; }
  unsigned nr_hw_queues() const { return static_cast<unsigned>(hctxs_.size()); }
  HwCtx* hctx(unsigned i) const { return hctxs_[i].get(); }
  // The hardware queue for the calling thread (its CPU's mapping).
  HwCtx* map_queue() const;
  unsigned queue_depth() const { return set_.queue_depth; }
  unsigned nr_requests() const { return nr_requests_; }
  Elevator* elevator() const { return elevator_.get(); }
  // 0 merges, 1 only the one-hit cache... (QUEUE_FLAG_NOMERGES/NOXMERGES): 0, 1, 2.
  int nomerges() const { return nomerges_.load(std::memory_order_relaxed); }
  bool io_stat() const { return io_stat_; }
  // QUEUE_FLAG_STATS (blk_stat_enable_accounting): a user of per-request
  // device times (kyber) wants io_start_time_ns stamped at issue.
  void stat_enable() { stat_users_.fetch_add(1, std::memory_order_relaxed); }
  void stat_disable() { stat_users_.fetch_sub(1, std::memory_order_relaxed); }
  bool stats_enabled() const { return stat_users_.load(std::memory_order_relaxed) > 0; }
  FlushQueue* flush_queue() { return &fq_; }

  // --- /sys/block/<dev>/queue attributes ---
  // Names of the queue attributes (and iosched/<name> for elevator tunables).
  std::vector<std::string> attr_names() const;
  // 0 with the value as sysfs prints it (without newline), or -ENOENT.
  int attr_show(const std::string& name, std::string* out) const;
  // 0, or -ENOENT / -EINVAL / -EPERM / -EBUSY with nothing changed.
  int attr_store(const std::string& name, const std::string& value) EXCLUDES(sysfs_lock_);

  // elevator_change: "none" or a registered scheduler; freezes the queue.
  int set_elevator(const std::string& name) EXCLUDES(sysfs_lock_);
  // Default: mq-deadline for one hardware queue, none otherwise.
  void init_default_elevator();

  // --- queue usage reference, blk_queue_enter/exit and freezing ---
  void enter();
  void exit();
  // percpu_ref_get_many: `n` more references for a caller that holds one.
  void get_many(long n);
  // The references held now, summed over the threads (a snapshot).
  long usage() const;
  void freeze();
  void unfreeze();
  // Before the disk goes (del_gendisk freezes the queue): waits, up to a
  // second of real time, for requests still being completed by other
  // threads, whose accounting reads the disk.
  void drain_for_teardown();

  std::atomic<std::uint64_t> split_count{0};  // bios split to fit the limits

 private:
  // Attribute stores and elevator switches run under sysfs_lock_.
  int store_limits(const QueueLimits& lim) REQUIRES(sysfs_lock_);
  int set_nr_requests(unsigned nr) REQUIRES(sysfs_lock_);
  void set_nomerges(int v);
  void blk_run_all();
  int switch_elevator(std::unique_ptr<Elevator> e) REQUIRES(sysfs_lock_);
  void alloc_sched_tags(unsigned nr);

  BlockDriver* driver_;
  TagSetConfig set_;
  QueueLimits limits_;
  core::Clock* clock_;
  Disk* disk_ = nullptr;
  std::vector<std::unique_ptr<BlkMqTags>> tags_;
  std::vector<std::unique_ptr<BlkMqTags>> sched_tags_;
  std::vector<std::unique_ptr<HwCtx>> hctxs_;
  std::unique_ptr<Elevator> elevator_;
  unsigned nr_requests_;
  std::atomic<int> nomerges_{0};
  bool io_stat_ = true;
  std::atomic<int> stat_users_{0};
  FlushQueue fq_;
  std::unique_ptr<std::max_align_t[]> flush_pdu_;  // driver data of fq_.flush_rq

  core::Mutex sysfs_lock_;  // serialises attribute stores and elevator switches
  // q_usage_counter, a percpu_ref in the kernel: each thread counts its
  // enters and exits in its own slot (an I/O may end on another thread, so
  // one slot can go negative); only the sum means anything.
  struct UsageSlot {
    std::atomic<long> refs{0};
  };

  core::Mutex freeze_mu_;
  core::CondVar freeze_cv_;
  core::PerThread<UsageSlot> usage_;
  std::atomic<bool> frozen_{false};
};

}  // namespace iostack::block
