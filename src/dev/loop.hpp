// The loop driver, after drivers/block/loop.c: a block device backed by a
// file. Requests are handed to worker threads (loop's workqueue), which do
// the I/O with preadv/pwritev, fsync and fallocate on the backing file and
// end the requests themselves. With direct I/O the file is used O_DIRECT;
// requests whose memory is not aligned for it are copied through a bounce
// buffer of the worker's. Under a virtual clock there are no threads: each
// request is done inside queue_rq, so simulations stay deterministic.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block/driver.hpp"
#include "block/queue_limits.hpp"
#include "block/request_queue.hpp"
#include "dev/loop_config.hpp"

namespace iostack::dev {

// struct loop_device (drivers/block/loop.c).
class LoopDriver final : public block::BlockDriver {
 public:
  // loop_configure: opens and sizes the backing file, settles block size and
  // direct I/O, and (unless `inline_io`) starts the workers. Returns null with
  // *err set to one line when the file cannot back a device. `cfg` must pass
  // validate().
  static std::unique_ptr<LoopDriver> create(const LoopConfig& cfg, bool inline_io,
                                            std::string* err);
  // Finishes every request already handed over, then stops the workers.
  ~LoopDriver() override;
  LoopDriver(const LoopDriver&) = delete;
  LoopDriver& operator=(const LoopDriver&) = delete;

  const char* name() const override { return "loop"; }
  block::BlkStatus queue_rq(block::HwCtx* hctx, block::Request* rq, bool last) override;
  std::size_t cmd_size() const override;

  // The limits loop_add and loop_update_limits give the queue (before
  // blk_validate_limits), and the tag set.
  block::QueueLimits limits() const;
  block::TagSetConfig tag_set() const;
  block::sector_t capacity_sectors() const { return capacity_; }

  const LoopConfig& config() const { return cfg_; }
  // /sys/block/loopN/loop/{backing_file,offset,sizelimit,dio}.
  const std::string& backing_file() const { return cfg_.path; }
  std::uint64_t offset() const { return cfg_.offset; }
  std::uint64_t sizelimit() const { return cfg_.size_bytes; }
  bool use_dio() const { return use_dio_; }
  // Why dio=1 was asked for and buffered I/O is used instead; else empty.
  const std::string& dio_fallback_reason() const { return dio_note_; }
  bool read_only() const { return read_only_; }
  std::uint32_t block_size() const { return block_size_; }
  // The file system's direct I/O alignment (statx STATX_DIOALIGN, else 512).
  std::uint32_t dio_offset_align() const { return dio_offset_align_; }
  std::uint32_t dio_mem_align() const { return dio_mem_align_; }
  bool discard_supported() const { return discard_; }
  unsigned nr_workers() const { return static_cast<unsigned>(workers_.size()); }
  int fd() const { return fd_; }

  // Requests accepted and not yet ended.
  long inflight() const { return inflight_.load(std::memory_order_acquire); }
  // Waits until nothing is in flight: call before the request queue goes away.
  void drain();
  // Flush requests done (each one fsync of the backing file).
  std::uint64_t flushes() const { return flushes_.load(std::memory_order_relaxed); }
  // Direct I/O requests copied through a bounce buffer.
  std::uint64_t bounced() const { return bounced_.load(std::memory_order_relaxed); }

 private:
  struct Cmd;
  struct Worker;

  explicit LoopDriver(const LoopConfig& cfg);
  bool configure(bool inline_io, std::string* err);
  void worker_main(Worker* w);
  void handle(Worker* w, Cmd* cmd);
  block::BlkStatus do_req(Worker* w, block::Request* rq);
  block::BlkStatus rw(Worker* w, block::Request* rq, std::uint64_t pos, bool write);
  block::BlkStatus rw_iov(Worker* w, std::uint64_t pos, bool write, std::uint64_t* done);
  block::BlkStatus rw_bounce(Worker* w, std::uint64_t total, std::uint64_t pos, bool write,
                             std::uint64_t* done);
  block::BlkStatus fallocate_rq(block::Request* rq, std::uint64_t pos, int mode);
  block::BlkStatus flush();

  LoopConfig cfg_;
  int fd_ = -1;
  bool read_only_ = false;
  bool use_dio_ = false;
  std::string dio_note_;
  std::uint32_t block_size_ = 512;
  std::uint32_t dio_offset_align_ = 512;
  std::uint32_t dio_mem_align_ = 512;
  bool discard_ = false;
  std::uint32_t discard_granularity_ = 0;
  bool rotational_ = false;
  block::sector_t capacity_ = 0;
  std::size_t bounce_bytes_ = 0;

  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Worker> inline_worker_;  // when there are no threads
  std::mutex inline_mu_;                   // its one command at a time

  // The work list (lo->rootcg_cmd_list under lo_work_lock).
  std::mutex mu_;
  std::condition_variable cv_;
  Cmd* head_ = nullptr;
  Cmd* tail_ = nullptr;
  unsigned idle_ = 0;
  bool stop_ = false;

  std::atomic<long> inflight_{0};
  std::atomic<std::uint64_t> flushes_{0};
  std::atomic<std::uint64_t> bounced_{0};
};

}  // namespace iostack::dev
