// struct blk_plug (include/linux/blkdev.h, block/blk-core.c): a per-thread
// list that holds requests back while a batch is being submitted, so they can
// merge and go to the driver together.
#pragma once

#include "core/clock.hpp"
#include "core/list.hpp"

namespace iostack::block {

struct Request;

// BLK_MAX_REQUEST_COUNT and BLK_PLUG_FLUSH_SIZE.
constexpr unsigned kBlkMaxRequestCount = 32;
constexpr unsigned kBlkPlugFlushSize = 128 * 1024;

struct BlkPlug {
  core::ListHead mq_list;  // FIFO: oldest first, as rq_list_add_tail keeps it
  unsigned short rq_count = 0;
  bool multiple_queues = false;
  bool has_elevator = false;
  bool nowait = false;
  // Requests to allocate at once on the next allocation (blk_start_plug_nr_ios),
  // and those allocated ahead and not used yet, newest first: each holds a
  // tag and a queue usage reference until the plug flushes.
  unsigned short nr_ios = 1;
  Request* cached_rqs = nullptr;
  // blk_time_get_ns: one clock reading serves the whole plug, until it is
  // flushed or its thread sleeps.
  std::uint64_t cur_ktime = 0;
  const core::Clock* ktime_clock = nullptr;
  // The TSC value of that reading when it was taken in order (0: not), and
  // whether the plug lives within one call of its submitter (submit_bio's
  // own): see blk_plug_stamp.
  std::uint64_t cur_tsc = 0;
  bool one_call = false;
  // The same for jiffies (blk_jiffies).
  std::uint64_t cur_jiffies = 0;
  const core::Clock* jiffies_clock = nullptr;
};

// Plugging is per thread (current->plug). Nested starts are ignored: only the
// outermost finish flushes.
void blk_start_plug(BlkPlug* plug);
// The same, for a caller about to submit `nr_ios` I/Os (at most
// BLK_MAX_REQUEST_COUNT are allocated together).
void blk_start_plug_nr_ios(BlkPlug* plug, unsigned nr_ios);
// blk_start_plug for a plug that is flushed before the call that starts it
// returns (__submit_bio's).
void blk_start_call_plug(BlkPlug* plug);
void blk_finish_plug(BlkPlug* plug);
BlkPlug* current_plug();
// __blk_flush_plug: sends the plugged requests on, frees the cached ones and
// forgets the plug's time. `from_schedule` marks the implicit flush
// done when the thread is about to sleep (traced as an unplug by timer).
void blk_flush_plug(BlkPlug* plug, bool from_schedule);
// What the scheduler does on io_schedule(): flush the current thread's plug.
void blk_flush_current_plug_before_sleep();

// blk_time_get_ns: `clock`'s time, read once per plug of the calling thread.
// `ordered`: a reading for the plug is taken in order (Clock::now_ordered)
// where the plug lives within one call, for blk_plug_stamp.
std::uint64_t blk_time_get_ns(const core::Clock* clock, bool ordered = false);
// The TSC value of the current plug's clock reading, when it was taken in
// order within the call that is still running (0 otherwise): a point in
// time inside that call that is later than anything the caller saw of
// other threads before making it. A scheduler may order the call's steps
// by it instead of reading the counter again.
inline std::uint64_t blk_plug_stamp();
// jiffies for the block layer and its schedulers: the coarse clock, read
// once per plug (the kernel reads a variable; a plug's life is far shorter
// than a tick).
inline std::uint64_t blk_jiffies(const core::Clock* clock);

// The calling thread's plug (current->plug), and the slow paths of the
// inline readers below (a scheduler's step reads both on every I/O).
namespace detail {
[[gnu::tls_model("initial-exec")]] inline constinit thread_local BlkPlug* t_plug = nullptr;
std::uint64_t blk_jiffies_read(const core::Clock* clock);
}  // namespace detail

inline std::uint64_t blk_plug_stamp() {
  const BlkPlug* plug = detail::t_plug;
  return plug ? plug->cur_tsc : 0;
}

inline std::uint64_t blk_jiffies(const core::Clock* clock) {
  const BlkPlug* plug = detail::t_plug;
  if (plug && plug->cur_jiffies && plug->jiffies_clock == clock) [[likely]]
    return plug->cur_jiffies;
  return detail::blk_jiffies_read(clock);
}

}  // namespace iostack::block
