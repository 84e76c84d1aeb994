// struct blk_plug (include/linux/blkdev.h, block/blk-core.c): a per-thread
// list that holds requests back while a batch is being submitted, so they can
// merge and go to the driver together.
#pragma once

#include "core/clock.hpp"
#include "core/list.hpp"

namespace iostack::block {

// BLK_MAX_REQUEST_COUNT and BLK_PLUG_FLUSH_SIZE.
constexpr unsigned kBlkMaxRequestCount = 32;
constexpr unsigned kBlkPlugFlushSize = 128 * 1024;

struct BlkPlug {
  core::ListHead mq_list;  // FIFO: oldest first, as rq_list_add_tail keeps it
  unsigned short rq_count = 0;
  bool multiple_queues = false;
  bool has_elevator = false;
  bool nowait = false;
  // blk_time_get_ns: one clock reading serves the whole plug, until it is
  // flushed or its thread sleeps.
  std::uint64_t cur_ktime = 0;
  const core::Clock* ktime_clock = nullptr;
};

// Plugging is per thread (current->plug). Nested starts are ignored: only the
// outermost finish flushes.
void blk_start_plug(BlkPlug* plug);
void blk_finish_plug(BlkPlug* plug);
BlkPlug* current_plug();
// Sends the plugged requests on. `from_schedule` marks the implicit flush
// done when the thread is about to sleep (traced as an unplug by timer).
void blk_flush_plug(BlkPlug* plug, bool from_schedule);
// What the scheduler does on io_schedule(): flush the current thread's plug.
void blk_flush_current_plug_before_sleep();

// blk_time_get_ns: `clock`'s time, read once per plug of the calling thread.
std::uint64_t blk_time_get_ns(const core::Clock* clock);
// jiffies for the block layer and its schedulers: inside a plug, the plug's
// reading (the kernel reads a variable; a plug's life is far shorter than
// a tick), else the coarse clock.
std::uint64_t blk_jiffies(const core::Clock* clock);

}  // namespace iostack::block
