// Plugging (block/blk-core.c blk_start_plug/blk_finish_plug, block/blk-mq.c
// blk_add_rq_to_plug/blk_mq_flush_plug_list).
#include "block/plug.hpp"

#include "block/blk_mq.hpp"
#include "block/blk_mq_internal.hpp"
#include "block/blk_trace.hpp"
#include "block/request_queue.hpp"

namespace iostack::block {
using detail::t_plug;

namespace {

unsigned short plug_max_rq_count(const BlkPlug* plug) {
  return static_cast<unsigned short>(plug->multiple_queues ? 2 * kBlkMaxRequestCount
                                                           : kBlkMaxRequestCount);
}

// blk_mq_dispatch_list: the leading run of requests for one hardware queue
// goes to the scheduler (or software queue) with one unplug event.
void dispatch_plug_run(core::ListHead* list, bool from_schedule) {
  Request* first = rq_from_queuelist(list->first());
  HwCtx* hctx = first->mq_hctx;
  RequestQueue* q = first->q;
  // One scheduler request (a plug of one bio): it is the whole run.
  if (first->queuelist.next == list && (first->rq_flags & RQF_USE_SCHED)) {
    trace_unplug(q, 1, !from_schedule);
    blk_mq_sched_insert_and_run(hctx, list, INSERT_NONE);
    return;
  }
  core::ListHead run;
  unsigned depth = 0;
  for (core::ListHead* n = list->first(); n != list;) {
    Request* rq = rq_from_queuelist(n);
    n = n->next;
    if (rq->mq_hctx != hctx) continue;
    rq->queuelist.move_tail(&run);
    ++depth;
  }
  trace_unplug(q, depth, !from_schedule);
  // Scheduler requests go to the elevator as one batch; the others (flush
  // sequence steps, or everything without an elevator) are inserted singly.
  core::ListHead sched;
  while (!run.empty()) {
    Request* rq = rq_from_queuelist(run.first());
    if (rq->rq_flags & RQF_USE_SCHED) {
      rq->queuelist.move_tail(&sched);
    } else {
      rq->queuelist.del();
      blk_mq_insert_request(rq, INSERT_NONE);
    }
  }
  if (sched.empty())
    blk_mq_run_hw_queue(hctx);
  else
    blk_mq_sched_insert_and_run(hctx, &sched, INSERT_NONE);
}

}  // namespace

BlkPlug* current_plug() { return t_plug; }

void blk_start_plug_nr_ios(BlkPlug* plug, unsigned nr_ios) {
  if (t_plug) return;  // nested plugs are ignored
  plug->mq_list.init();
  plug->rq_count = 0;
  plug->multiple_queues = false;
  plug->has_elevator = false;
  plug->nowait = false;
  plug->nr_ios =
      static_cast<unsigned short>(nr_ios < kBlkMaxRequestCount ? nr_ios : kBlkMaxRequestCount);
  plug->cached_rqs = nullptr;
  plug->cur_ktime = 0;
  plug->cur_jiffies = 0;
  plug->cur_tsc = 0;
  plug->one_call = false;
  t_plug = plug;
}

void blk_start_plug(BlkPlug* plug) { blk_start_plug_nr_ios(plug, 1); }

void blk_start_call_plug(BlkPlug* plug) {
  blk_start_plug_nr_ios(plug, 1);
  // Nested in the caller's plug: that one may outlive the call.
  if (t_plug == plug) plug->one_call = true;
}

void blk_finish_plug(BlkPlug* plug) {
  if (plug != t_plug) return;
  blk_flush_plug(plug, false);
  t_plug = nullptr;
}

void blk_flush_plug(BlkPlug* plug, bool from_schedule) {
  if (!plug) return;
  blk_mq_flush_plug_list(plug, from_schedule);
  // Even before a sleep: a cached request holds a queue usage reference, and
  // a sleeping thread must not hold up a freeze.
  if (plug->cached_rqs) [[unlikely]]
    blk_mq_free_plug_rqs(plug);
  plug->cur_ktime = 0;  // time moves on once the batch is out or the thread sleeps
  plug->cur_jiffies = 0;
  plug->cur_tsc = 0;
}

void blk_flush_current_plug_before_sleep() { blk_flush_plug(t_plug, true); }

std::uint64_t blk_time_get_ns(const core::Clock* clock, bool ordered) {
  BlkPlug* plug = t_plug;
  if (!plug) return clock->now();
  // A zero reading is taken again, as the kernel does: rare and harmless.
  if (!plug->cur_ktime || plug->ktime_clock != clock) {
    if (ordered && plug->one_call) {
      plug->cur_ktime = clock->now_ordered(&plug->cur_tsc);
    } else {
      plug->cur_ktime = clock->now();
      plug->cur_tsc = 0;
    }
    plug->ktime_clock = clock;
  }
  return plug->cur_ktime;
}

std::uint64_t detail::blk_jiffies_read(const core::Clock* clock) {
  BlkPlug* plug = t_plug;
  if (!plug) return clock->coarse_now();
  // A zero reading is taken again, as blk_time_get_ns does.
  plug->cur_jiffies = clock->coarse_now();
  plug->jiffies_clock = clock;
  return plug->cur_jiffies;
}

void blk_add_rq_to_plug(BlkPlug* plug, Request* rq) {
  // The list is FIFO and, as rq_list_peek does since 6.12, the size check
  // looks at its head: the oldest plugged request.
  Request* head = plug->mq_list.empty() ? nullptr : rq_from_queuelist(plug->mq_list.first());
  if (!plug->rq_count) {
    trace_plug(rq->q);
  } else if (plug->rq_count >= plug_max_rq_count(plug) ||
             (rq->q->nomerges() != 2 && blk_rq_bytes(head) >= kBlkPlugFlushSize)) {
    blk_mq_flush_plug_list(plug, false);
    head = nullptr;
    trace_plug(rq->q);
  }
  if (!plug->multiple_queues && head && head->q != rq->q) plug->multiple_queues = true;
  if (!plug->has_elevator && (rq->rq_flags & RQF_SCHED_TAGS)) plug->has_elevator = true;
  rq->queuelist.add_tail(&plug->mq_list);
  ++plug->rq_count;
}

void blk_mq_flush_plug_list(BlkPlug* plug, bool from_schedule) {
  // Requests added while we dispatch (a completion may submit) land on the
  // plug again, so detach the list and loop until the plug stays empty.
  while (plug->rq_count) {
    const unsigned depth = plug->rq_count;
    const bool has_elevator = plug->has_elevator;
    const bool multiple_queues = plug->multiple_queues;
    core::ListHead list;
    plug->mq_list.splice_tail_init(&list);
    plug->rq_count = 0;
    plug->has_elevator = false;
    plug->multiple_queues = false;
    if (!has_elevator && !from_schedule && !multiple_queues) {
      trace_unplug(rq_from_queuelist(list.first())->q, depth, true);
      blk_mq_issue_list_directly(&list);
    }
    while (!list.empty()) dispatch_plug_run(&list, from_schedule);
  }
}

}  // namespace iostack::block
