// struct blk_mq_hw_ctx (include/linux/blk-mq.h): one hardware queue with its
// software queue, dispatch list and tags.
#pragma once

#include <atomic>

#include "block/tags.hpp"
#include "core/clock.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "core/per_thread.hpp"

namespace iostack::block {

class RequestQueue;

// A thread's share of a hardware queue's counts (per CPU in the kernel's
// hctx->dispatched[]; nr_active is started minus completed, so a thread's
// share may be negative).
struct HwCtxCounters {
  std::atomic<std::int64_t> nr_active{0};
  std::atomic<std::uint64_t> dispatched{0};
  std::atomic<std::uint64_t> requeued{0};
};

struct HwCtx {
  RequestQueue* queue = nullptr;
  unsigned queue_num = 0;

  core::Mutex lock;
  core::ListHead dispatch GUARDED_BY(lock);  // requests to issue before anything else
  // !dispatch.empty(), written under lock: list_empty_careful for the hot
  // path, which then takes no lock when nothing is parked.
  std::atomic<bool> has_parked{false};

  core::Mutex ctx_lock;                          // struct blk_mq_ctx's lock
  core::ListHead sw_queue GUARDED_BY(ctx_lock);  // requests queued without an elevator
  // !sw_queue.empty(), written under ctx_lock: the kernel's lockless
  // list_empty_careful(&ctx->rq_lists[type]) before a merge or a dispatch.
  std::atomic<bool> sw_queued{false};

  BlkMqTags* tags = nullptr;        // driver tags
  BlkMqTags* sched_tags = nullptr;  // elevator tags (null without elevator)

  // BLK_MQ_S_SCHED_RESTART: rerun when a request of this hctx completes.
  std::atomic<bool> restart{false};

  core::Timer delay_timer;  // reruns a queue stuck on a busy driver
  // When delay_timer fires if still armed (delayed_work_pending: now < it).
  std::atomic<std::uint64_t> delay_expires{0};

  void* driver_data = nullptr;
  void* sched_data = nullptr;

  core::PerThread<HwCtxCounters> counters;
  // Sums over the threads' counters: requests started and not yet
  // completed, handed to queue_rq, and BUSY answers from the driver.
  std::int64_t nr_active() const { return sum(&HwCtxCounters::nr_active); }
  std::uint64_t dispatched() const { return sum(&HwCtxCounters::dispatched); }
  std::uint64_t requeued() const { return sum(&HwCtxCounters::requeued); }

 private:
  template <class V>
  V sum(std::atomic<V> HwCtxCounters::*field) const {
    V n = 0;
    counters.for_each(
        [&](const HwCtxCounters& c) { n += (c.*field).load(std::memory_order_acquire); });
    return n;
  }
};

}  // namespace iostack::block
