// The frame every stacking target shares, after device-mapper's core
// (drivers/md/dm.c): the target's disk takes requests, the target decides per
// request (struct target_type's map and end_io) and passes clones of the
// request's bios to the device below. Completion of the last clone ends the
// request with the target's final word on its status.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"

namespace iostack::dev {

class BlockDevice;
class TargetDriver;

// Per-request target data (dm's per_bio_data plus dm_target_io), in rq->pdu.
struct TargetIo {
  TargetDriver* drv = nullptr;
  block::Request* rq = nullptr;
  std::atomic<int> remaining{0};
  std::atomic<std::uint8_t> status{0};  // first error of a clone
  std::uint32_t flags = 0;              // the target's own marks for end_io
  char* bounce = nullptr;               // when set, the data written below instead of the request's
  void* priv = nullptr;                 // the target's per-request object, if any
  core::Timer timer;                    // for targets that hold a request back
};

using Counters = std::vector<std::pair<std::string, double>>;

class TargetDriver : public block::BlockDriver {
 public:
  TargetDriver(std::unique_ptr<BlockDevice> lower, core::Clock* clock);
  ~TargetDriver() override;
  TargetDriver(const TargetDriver&) = delete;
  TargetDriver& operator=(const TargetDriver&) = delete;

  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) final;
  std::size_t cmd_size() const final { return sizeof(TargetIo); }

  // The limits of the device below (blk_stack_limits over one device); the
  // targets adjust them in adjust_limits.
  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const;
  BlockDevice* lower() const { return lower_.get(); }
  core::Clock* clock() const { return clock_; }

  // dmsetup message: 0, 1 when *result holds an answer, -EINVAL on a bad
  // message, -ENOTTY when the target has no message of that name.
  virtual int message(const std::vector<std::string>& argv, std::string* result);
  // What the target did, named "<target>_<what>", for reports.
  virtual Counters counters() const = 0;
  // Waits until no request is inside the target (pumping a virtual clock).
  void drain();

 protected:
  enum class Map {
    kRemap,      // pass the bios below now
    kKill,       // end the request with *status, nothing below
    kDone,       // end it successfully, nothing below (dropped)
    kSubmitted,  // the target will call submit_lower later
  };
  virtual Map map(TargetIo* io, block::BlkStatus* status) = 0;
  // After every clone completed; may change *status (dm's end_io).
  virtual void end_io(TargetIo* /*io*/, block::BlkStatus* /*status*/) {}
  virtual void adjust_limits(block::QueueLimits* /*lim*/) const {}
  // Clones the request's bios (or one empty PREFLUSH bio for a flush, or
  // one bio over io->bounce) and submits them to the device below.
  void submit_lower(TargetIo* io);
  // Ends a request the target held (kSubmitted) without passing it down.
  void complete(TargetIo* io, block::BlkStatus status) { finish(io, status); }
  // Waits until done() holds, pumping a virtual clock or polling the real one.
  template <typename Done>
  void wait_for(Done&& done) {
    while (!done()) {
      if (!pump()) break;
    }
  }
  std::uint64_t inflight() const { return inflight_.load(std::memory_order_acquire); }

 private:
  bool pump();  // one step of waiting; false when nothing can change
  static void clone_end_io(block::Bio* clone);
  void finish(TargetIo* io, block::BlkStatus status);

  std::unique_ptr<BlockDevice> lower_;
  core::Clock* clock_;
  std::atomic<std::uint64_t> inflight_{0};
};

// A deterministic random stream for targets that fail or corrupt by chance
// (splitmix64 over an atomic counter: the same seed gives the same draws in
// the same order of I/O).
class TargetRandom {
 public:
  explicit TargetRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // True with probability p / 1000000000 (dm-flakey's PROBABILITY_BASE).
  bool chance(std::uint32_t p) { return p && next() % 1000000000u < p; }

 private:
  std::atomic<std::uint64_t> state_;
};

// Flush requests count as writes, as an empty PREFLUSH write does in the
// kernel (bio_data_dir of a flush bio is WRITE).
bool target_is_write(std::uint32_t cmd_flags);

}  // namespace iostack::dev
