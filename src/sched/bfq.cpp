// The bfq scheduler (block/bfq-iosched.c): request queues per process,
// budgets and their feedback, idling, weight raising, dispatch and
// completion.
#include "sched/bfq.hpp"

#include <algorithm>

#include "block/blk_mq.hpp"
#include "block/hctx.hpp"
#include "block/merge.hpp"
#include "block/request_queue.hpp"
#include "core/sbitmap.hpp"
#include "sched/bfq_internal.hpp"
#include "task/blkcg.hpp"
#include "task/current.hpp"
#include "task/icq.hpp"
#include "task/io_context.hpp"

namespace iostack::sched {

using block::Request;
using block::sector_t;

namespace bfq {

namespace {

constexpr int kDefaultMaxBudget = 16 * 1024;          // bfq_default_max_budget
constexpr int kStatsMinBudgets = 194;                 // bfq_stats_min_budgets
constexpr int kAsyncChargeFactor = 3;                 // bfq_async_charge_factor
constexpr std::uint64_t kMinTT = 2 * core::kNsPerMs;  // BFQ_MIN_TT
constexpr int kHwQueueThreshold = 3;
constexpr int kHwQueueSamples = 32;
constexpr sector_t kSeekThr = 8 * 100;       // BFQQ_SEEK_THR
constexpr sector_t kSectThrNonrot = 2 * 32;  // BFQQ_SECT_THR_NONROT
constexpr std::uint32_t kRateMinSamples = 32;
constexpr std::uint64_t kRateMinInterval = 300 * core::kNsPerMs;
constexpr std::uint64_t kRateRefInterval = core::kNsPerSec;
constexpr unsigned kRateShift = 16;
constexpr std::uint32_t kRefRate[2] = {14000, 33000};  // [nonrot], sectors/us << 16
constexpr std::uint64_t kRefWrDuration[2] = {7000 * core::kNsPerMs, 2500 * core::kNsPerMs};
constexpr unsigned long kMaxServiceFromWr = 120000;
constexpr unsigned kSoftrtWeightFactor = 100;
// The default slice_idle, which bfq_bfqq_is_slow charges as one seek.
constexpr std::uint64_t kDefaultSliceIdle = core::kNsPerSec / 125;

std::uint64_t jiffies_ns(unsigned long j) { return j * (core::kNsPerSec / kBfqHz); }

sector_t get_sdist(sector_t last_pos, const Request* rq) {
  if (!last_pos) return 0;
  const sector_t pos = block::blk_rq_pos(rq);
  return pos > last_pos ? pos - last_pos : last_pos - pos;
}

bool bfq_rq_seeky(const BfqData* bfqd, sector_t last_pos, const Request* rq) {
  return get_sdist(last_pos, rq) > kSeekThr &&
         (!bfqd->nonrot || block::blk_rq_sectors(rq) < kSectThrNonrot);
}

// bfq_choose_req: the request closer to the head going forward; backward
// seeks up to back_seek_max cost back_seek_penalty times their distance.
Request* bfq_choose_req(const BfqData* bfqd, Request* rq1, Request* rq2, sector_t last) {
  if (!rq1 || rq1 == rq2) return rq2;
  if (!rq2) return rq1;
  if (block::rq_is_sync(rq1) && !block::rq_is_sync(rq2)) return rq1;
  if (block::rq_is_sync(rq2) && !block::rq_is_sync(rq1)) return rq2;
  if ((rq1->cmd_flags & block::REQ_META) && !(rq2->cmd_flags & block::REQ_META)) return rq1;
  if ((rq2->cmd_flags & block::REQ_META) && !(rq1->cmd_flags & block::REQ_META)) return rq2;
  const sector_t s1 = block::blk_rq_pos(rq1), s2 = block::blk_rq_pos(rq2);
  const sector_t back_max = bfqd->back_max * 2;  // KiB to sectors
  sector_t d1 = 0, d2 = 0;
  bool wrap1 = false, wrap2 = false;
  if (s1 >= last)
    d1 = s1 - last;
  else if (s1 + back_max >= last)
    d1 = (last - s1) * bfqd->back_penalty;
  else
    wrap1 = true;
  if (s2 >= last)
    d2 = s2 - last;
  else if (s2 + back_max >= last)
    d2 = (last - s2) * bfqd->back_penalty;
  else
    wrap2 = true;
  if (!wrap1 && !wrap2) {
    if (d1 < d2) return rq1;
    if (d2 < d1) return rq2;
    return s1 >= s2 ? rq1 : rq2;
  }
  if (!wrap1) return rq1;
  if (!wrap2) return rq2;
  // Both behind the head: start with the farthest back, one seek only.
  return s1 <= s2 ? rq1 : rq2;
}

// bfq_check_fifo: the oldest request if it expired, looked at once per budget.
Request* bfq_check_fifo(BfqData* bfqd, BfqQueue* bfqq, Request* last) {
  if (bfqq->has(BFQQF_fifo_expire)) return nullptr;
  bfqq->mark(BFQQF_fifo_expire);
  Request* rq = block::rq_from_queuelist(bfqq->fifo.first());
  if (rq == last || ktime(bfqd) < rq->fifo_time) return nullptr;
  return rq;
}

Request* bfq_find_next_rq(BfqData* bfqd, BfqQueue* bfqq, Request* last) {
  if (Request* rq = bfq_check_fifo(bfqd, bfqq, last)) return rq;
  block::SectorTree& t = bfqq->sort_list;
  auto it = t.iterator_to(*last);
  Request* prev = it == t.begin() ? nullptr : &*std::prev(it);
  Request* next = nullptr;
  if (std::next(it) != t.end())
    next = &*std::next(it);
  else if (t.begin() != it)
    next = &*t.begin();
  return bfq_choose_req(bfqd, next, prev, block::blk_rq_pos(last));
}

int bfq_min_budget(const BfqData* bfqd) { return bfq_max_budget(bfqd) / 32; }

bool bfq_better_to_idle(BfqQueue* bfqq);

void switch_back_to_interactive_wr(BfqQueue* bfqq, BfqData* bfqd) {
  bfqq->wr_coeff = bfqd->wr_coeff;
  bfqq->wr_cur_max_time = bfq_wr_duration(bfqd);
  bfqq->last_wr_start_finish = bfqq->wr_start_at_switch_to_srt;
}

}  // namespace

std::uint64_t jiffies(const BfqData* bfqd) { return bfqd->clock->coarse_now(); }

std::uint64_t bfq_wr_duration(const BfqData* bfqd) {
  std::uint64_t dur = bfqd->rate_dur_prod / bfqd->peak_rate;
  return std::clamp<std::uint64_t>(dur, 3000 * core::kNsPerMs, 25000 * core::kNsPerMs);
}

int bfq_max_budget(const BfqData* bfqd) {
  return bfqd->budgets_assigned < kStatsMinBudgets ? kDefaultMaxBudget : bfqd->bfq_max_budget;
}
std::uint64_t ktime(const BfqData* bfqd) { return bfqd->clock->now(); }

void bfq_schedule_dispatch(BfqData* bfqd) {
  // blk_mq_run_hw_queues(q, true): from the clock's context, not the caller's.
  if (bfqd->queued.load(std::memory_order_relaxed) != 0)
    bfqd->clock->arm(&bfqd->dispatch_timer, bfqd->clock->now());
}

// bfq_serv_to_charge: async requests cost three times their size unless
// raised or the scenario is asymmetric.
int bfq_serv_to_charge(BfqData* bfqd, Request* rq, BfqQueue* bfqq) {
  const int sectors = static_cast<int>(block::blk_rq_sectors(rq));
  if (bfqq->has(BFQQF_sync) || bfqq->wr_coeff > 1 || bfq_asymmetric_scenario(bfqd, bfqq))
    return sectors;
  return sectors * kAsyncChargeFactor;
}

namespace {

// bfq_updated_next_req: a queue not in service gets enough budget for its
// (new) first request.
void bfq_updated_next_req(BfqData* bfqd, BfqQueue* bfqq) {
  Request* next_rq = bfqq->next_rq;
  if (!next_rq || bfqq == bfqd->in_service_queue) return;
  const int new_budget = std::max(
      std::max(bfqq->max_budget, bfq_serv_to_charge(bfqd, next_rq, bfqq)), bfqq->entity.service);
  if (bfqq->entity.budget != new_budget) {
    bfqq->entity.budget = new_budget;
    bfq_requeue_bfqq(bfqd, bfqq, false);
  }
}

// bfq_bfqq_update_budg_for_activation: a queue that expired only because it
// emptied, and got a request back soon, continues its budget with
// back-shifted timestamps and may preempt.
bool bfq_bfqq_update_budg_for_activation(BfqData* bfqd, BfqQueue* bfqq, bool arrived_in_time) {
  BfqEntity* e = &bfqq->entity;
  if (bfqq->has(BFQQF_non_blocking_wait_rq) && arrived_in_time && bfq_bfqq_budget_left(bfqq) > 0) {
    e->budget = std::min(bfq_bfqq_budget_left(bfqq), bfqq->max_budget);
    e->service = 0;
    return true;
  }
  e->service = 0;
  e->budget = std::max(bfqq->max_budget, bfq_serv_to_charge(bfqd, bfqq->next_rq, bfqq));
  bfqq->clear(BFQQF_non_blocking_wait_rq);
  return false;
}

void bfq_update_bfqq_wr_on_rq_arrival(BfqData* bfqd, BfqQueue* bfqq, unsigned old_wr_coeff,
                                      bool wr_or_deserves_wr, bool interactive, bool in_burst,
                                      bool soft_rt) {
  if (old_wr_coeff == 1 && wr_or_deserves_wr) {
    if (interactive) {
      bfqq->service_from_wr = 0;
      bfqq->wr_coeff = bfqd->wr_coeff;
      bfqq->wr_cur_max_time = bfq_wr_duration(bfqd);
    } else {
      bfqq->wr_start_at_switch_to_srt = smallest_from_now(jiffies(bfqd));
      bfqq->wr_coeff = bfqd->wr_coeff * kSoftrtWeightFactor;
      bfqq->wr_cur_max_time = bfqd->wr_rt_max_time;
    }
    // A raised queue gets a small budget, close to its backlog.
    bfqq->entity.budget = std::min(bfqq->entity.budget, 2 * bfq_min_budget(bfqd));
  } else if (old_wr_coeff > 1) {
    if (interactive) {
      bfqq->wr_coeff = bfqd->wr_coeff;
      bfqq->wr_cur_max_time = bfq_wr_duration(bfqd);
    } else if (in_burst) {
      bfqq->wr_coeff = 1;
    } else if (soft_rt) {
      if (bfqq->wr_cur_max_time != bfqd->wr_rt_max_time) {
        bfqq->wr_start_at_switch_to_srt = bfqq->last_wr_start_finish;
        bfqq->wr_cur_max_time = bfqd->wr_rt_max_time;
        bfqq->wr_coeff = bfqd->wr_coeff * kSoftrtWeightFactor;
      }
      bfqq->last_wr_start_finish = jiffies(bfqd);
    }
  }
}

bool bfq_bfqq_idle_for_long_time(BfqData* bfqd, BfqQueue* bfqq) {
  return bfqq->dispatched == 0 &&
         time_before(bfqq->budget_timeout + bfqd->wr_min_idle_time, jiffies(bfqd));
}

bool bfq_bfqq_higher_class_or_weight(BfqQueue* bfqq, BfqQueue* in_serv) {
  if (bfqq->ioprio_class < in_serv->ioprio_class) return true;
  return bfqq->entity.weight > in_serv->entity.weight;
}

void bfq_bfqq_handle_idle_busy_switch(BfqData* bfqd, BfqQueue* bfqq, unsigned old_wr_coeff,
                                      bool* interactive) {
  const std::uint64_t now = jiffies(bfqd);
  const bool idle_for_long_time = bfq_bfqq_idle_for_long_time(bfqd, bfqq);
  const bool arrived_in_time = ktime(bfqd) <= bfqq->ttime.last_end_request + bfqd->slice_idle * 3;
  // Large-burst detection is not modelled: no queue is ever in a burst.
  const bool totally_seeky = bfqq->seek_history == ~0u;
  // Only queues of the default weight (BE level 4) are raised (Linux 6.x).
  const bool default_weight = bfqq->entity.new_weight == bfq_ioprio_to_weight(kBfqDefaultIoprio);
  const bool in_burst = bfqq->has(BFQQF_in_large_burst);
  const bool soft_rt = bfqd->wr_max_softrt_rate > 0 && !totally_seeky && !in_burst &&
                       time_before(bfqq->soft_rt_next_start, now) && bfqq->dispatched == 0 &&
                       default_weight;
  *interactive = !in_burst && idle_for_long_time && default_weight;
  const bool wr_or_deserves_wr =
      bfqd->low_latency &&
      (bfqq->wr_coeff > 1 || (bfqq->has(BFQQF_sync) && bfqq->bic && (*interactive || soft_rt)));
  const bool wants_to_preempt = bfq_bfqq_update_budg_for_activation(bfqd, bfqq, arrived_in_time);
  // Idle for much longer than an interactive queue: its burst is over.
  if (!bfqq->has(BFQQF_just_created) && idle_for_long_time &&
      time_before(bfqq->budget_timeout + 10000 * core::kNsPerMs, now)) {
    if (bfqq->burst_node.linked()) bfqq->burst_node.del();
    bfqq->clear(BFQQF_in_large_burst);
  }
  bfqq->clear(BFQQF_just_created);

  if (bfqd->low_latency) {
    if (time_after(bfqq->split_time, now)) bfqq->split_time = now - bfqd->wr_min_idle_time - 1;
    if (time_before(bfqq->split_time + bfqd->wr_min_idle_time, now)) {
      bfq_update_bfqq_wr_on_rq_arrival(bfqd, bfqq, old_wr_coeff, wr_or_deserves_wr, *interactive,
                                       in_burst, soft_rt);
      if (old_wr_coeff != bfqq->wr_coeff) bfqq->entity.prio_changed = true;
    }
  }

  bfqq->last_idle_bklogged = now;
  bfqq->service_from_backlogged = 0;
  bfqq->clear(BFQQF_softrt_update);

  bfq_add_bfqq_busy(bfqd, bfqq);

  // Preempt the in-service queue for a queue that recovers a service hole
  // (and is raised at least as much), has a higher class or weight, or when
  // the in-service queue would not be idled for anyway.
  BfqQueue* in_serv = bfqd->in_service_queue;
  if (in_serv &&
      ((wants_to_preempt && bfqq->wr_coeff >= in_serv->wr_coeff) ||
       bfq_bfqq_higher_class_or_weight(bfqq, in_serv) || !bfq_better_to_idle(in_serv)) &&
      next_queue_may_preempt(bfqd))
    bfq_bfqq_expire(bfqd, in_serv, false, BfqExpire::PREEMPTED);
}

// bfq_reset_inject_limit: a short think time starts with no injection (an
// injected request could delay the queue's next one), a long one with one.
void bfq_reset_inject_limit(BfqData* bfqd, BfqQueue* bfqq) {
  bfqq->last_serv_time_ns = 0;
  bfqd->waited_rq = nullptr;
  bfqq->inject_limit = bfqq->has(BFQQF_has_short_ttime) ? 0 : 1;
  bfqq->decrease_time_jif = jiffies(bfqd);
}

// bfq_update_io_intensity: I/O-bound while idle less than a fifth of the
// time, over a window halved every 200 ms.
void bfq_update_io_intensity(BfqQueue* bfqq, std::uint64_t now) {
  const std::uint64_t tot_io_time = now - bfqq->io_start_time;
  if (bfqq->sort_list.empty() && bfqq->dispatched == 0)
    bfqq->tot_idle_time += now - bfqq->ttime.last_end_request;
  if (bfqq->has(BFQQF_just_created)) return;
  if (bfqq->tot_idle_time * 5 > tot_io_time)
    bfqq->clear(BFQQF_IO_bound);
  else
    bfqq->mark(BFQQF_IO_bound);
  if (tot_io_time > 200 * core::kNsPerMs) {
    bfqq->io_start_time = now - (tot_io_time >> 1);
    bfqq->tot_idle_time >>= 1;
  }
}

void bfq_add_request(BfqData* bfqd, Request* rq) {
  BfqQueue* bfqq = rq_bfqq(rq);
  const unsigned old_wr_coeff = bfqq->wr_coeff;
  bool interactive = false;

  bfqq->queued[block::rq_is_sync(rq)]++;
  bfqd->queued.fetch_add(1, std::memory_order_relaxed);

  if (bfqq->has(BFQQF_sync) && rq_bic(rq) && rq_bic(rq)->requests <= 1) {
    const std::uint64_t now = jiffies(bfqd);
    // Let the inject limit drop again if the workload changed.
    if (!time_after(bfqq->decrease_time_jif + 1000 * core::kNsPerMs, now))
      bfq_reset_inject_limit(bfqd, bfqq);
    // The first request of an empty in-service queue: measure its total
    // service time, with no injection or with the current limit's.
    if (bfqq == bfqd->in_service_queue &&
        (bfqd->rq_in_driver == 0 ||
         (bfqq->last_serv_time_ns > 0 && bfqd->rqs_injected && bfqd->rq_in_driver > 0)) &&
        !time_after(bfqq->decrease_time_jif + 10 * core::kNsPerMs, now)) {
      bfqd->last_empty_occupied_ns = ktime(bfqd);
      bfqd->wait_dispatch = true;
      if (bfqd->rq_in_driver == 0) bfqd->rqs_injected = false;
    }
  }
  if (bfqq->has(BFQQF_sync)) bfq_update_io_intensity(bfqq, ktime(bfqd));
  bfqq->sort_list.insert(*rq);
  Request* prev = bfqq->next_rq;
  bfqq->next_rq = bfq_choose_req(bfqd, bfqq->next_rq, rq, bfqd->last_position);
  if (!bfqd->nonrot_with_queueing && prev != bfqq->next_rq) bfq_pos_tree_add_move(bfqd, bfqq);

  if (!bfqq->has(BFQQF_busy)) {
    bfq_bfqq_handle_idle_busy_switch(bfqd, bfqq, old_wr_coeff, &interactive);
  } else {
    if (bfqd->low_latency && old_wr_coeff == 1 && !block::rq_is_sync(rq) &&
        time_before(bfqq->last_wr_start_finish + bfqd->wr_min_inter_arr_async, jiffies(bfqd))) {
      bfqq->wr_coeff = bfqd->wr_coeff;
      bfqq->wr_cur_max_time = bfq_wr_duration(bfqd);
      bfqd->wr_busy_queues++;
      bfqq->entity.prio_changed = true;
    }
    if (prev != bfqq->next_rq) bfq_updated_next_req(bfqd, bfqq);
  }

  if (bfqd->low_latency && (old_wr_coeff == 1 || bfqq->wr_coeff == 1 || interactive))
    bfqq->last_wr_start_finish = jiffies(bfqd);
}

}  // namespace

void bfq_remove_request(BfqData* bfqd, Request* rq) {
  BfqQueue* bfqq = rq_bfqq(rq);
  const int sync = block::rq_is_sync(rq);
  if (bfqq->next_rq == rq) {
    bfqq->next_rq = bfq_find_next_rq(bfqd, bfqq, rq);
    bfq_updated_next_req(bfqd, bfqq);
  }
  if (rq->queuelist.linked()) rq->queuelist.del();
  bfqq->queued[sync]--;
  bfqd->queued.fetch_sub(1, std::memory_order_relaxed);
  bfqq->sort_list.erase(bfqq->sort_list.iterator_to(*rq));
  block::elv_request_removed(bfqd->elv, rq);
  if (bfqq->sort_list.empty()) {
    bfqq->next_rq = nullptr;
    if (bfqq->has(BFQQF_busy) && bfqq != bfqd->in_service_queue) {
      bfq_del_bfqq_busy(bfqd, bfqq, false);
      // Emptied while not in service: its budget and service mean nothing.
      bfqq->entity.budget = bfqq->entity.service = 0;
    }
    if (bfqq->pos_node.is_linked()) bfqq->pos_root->erase(bfqq->pos_root->iterator_to(*bfqq));
  } else if (!bfqd->nonrot_with_queueing) {
    bfq_pos_tree_add_move(bfqd, bfqq);
  }
}

namespace {

void bfq_bfqq_end_wr(BfqQueue* bfqq) {
  // An interactive queue may be soft real-time right away.
  if (bfqq->wr_cur_max_time != bfqq->bfqd->wr_rt_max_time)
    bfqq->soft_rt_next_start = jiffies(bfqq->bfqd);
  if (bfqq->has(BFQQF_busy)) bfqq->bfqd->wr_busy_queues--;
  bfqq->wr_coeff = 1;
  bfqq->wr_cur_max_time = 0;
  bfqq->last_wr_start_finish = jiffies(bfqq->bfqd);
  bfqq->entity.prio_changed = true;
}

void bfq_set_budget_timeout(BfqData* bfqd, BfqQueue* bfqq) {
  unsigned timeout_coeff;
  if (bfqq->wr_cur_max_time == bfqd->wr_rt_max_time)
    timeout_coeff = 1;
  else
    timeout_coeff = bfqq->entity.weight / bfqq->entity.orig_weight;
  bfqd->last_budget_start = ktime(bfqd);
  bfqq->budget_timeout = jiffies(bfqd) + jiffies_ns(bfqd->timeout) * timeout_coeff;
}

BfqQueue* bfq_set_in_service_queue(BfqData* bfqd) {
  BfqQueue* bfqq = bfq_get_next_queue(bfqd);
  if (bfqq) {
    const std::uint64_t now = jiffies(bfqd);
    bfqq->clear(BFQQF_fifo_expire);
    bfqd->budgets_assigned = (bfqd->budgets_assigned * 7 + 256) / 8;
    // A soft real-time queue does not lose its raising to the time it
    // waited for service.
    if (time_before(bfqq->last_wr_start_finish, now) && bfqq->wr_coeff > 1 &&
        bfqq->wr_cur_max_time == bfqd->wr_rt_max_time && time_before(bfqq->budget_timeout, now)) {
      if (time_after(bfqq->budget_timeout, bfqq->last_wr_start_finish))
        bfqq->last_wr_start_finish += now - bfqq->budget_timeout;
      else
        bfqq->last_wr_start_finish = now;
    }
    bfq_set_budget_timeout(bfqd, bfqq);
  }
  bfqd->in_service_queue = bfqq;
  bfqd->in_serv_last_pos = 0;
  return bfqq;
}

void bfq_arm_slice_timer(BfqData* bfqd) {
  BfqQueue* bfqq = bfqd->in_service_queue;
  bfqq->mark(BFQQF_wait_request);
  std::uint64_t sl = bfqd->slice_idle;
  // Seeky queues get only a short wait, unless raised or owed their share.
  if (bfqq_seeky(bfqq) && bfqq->wr_coeff == 1 && !bfq_asymmetric_scenario(bfqd, bfqq))
    sl = std::min(sl, kMinTT);
  else if (bfqq->wr_coeff > 1)
    sl = std::max<std::uint64_t>(sl, 20 * core::kNsPerMs);
  bfqd->last_idling_start = ktime(bfqd);
  bfqd->last_idling_start_jiffies = jiffies(bfqd);
  bfqd->clock->arm(&bfqd->idle_slice_timer, bfqd->last_idling_start + sl);
}

void update_thr_responsiveness_params(BfqData* bfqd) {
  if (bfqd->user_max_budget == 0) bfqd->bfq_max_budget = bfq_calc_max_budget(bfqd);
}

void bfq_reset_rate_computation(BfqData* bfqd, Request* rq) {
  if (rq) {
    bfqd->last_dispatch = bfqd->first_dispatch = ktime(bfqd);
    bfqd->peak_rate_samples = 1;
    bfqd->sequential_samples = 0;
    bfqd->tot_sectors_dispatched = bfqd->last_rq_max_size = block::blk_rq_sectors(rq);
  } else {
    bfqd->peak_rate_samples = 0;  // full re-init on the next dispatch
  }
}

void bfq_update_rate_reset(BfqData* bfqd, Request* rq) {
  if (bfqd->peak_rate_samples >= kRateMinSamples && bfqd->delta_from_first >= kRateMinInterval) {
    bfqd->delta_from_first =
        std::max(bfqd->delta_from_first, bfqd->last_completion - bfqd->first_dispatch);
    const std::uint64_t us = bfqd->delta_from_first / core::kNsPerUs;
    const auto rate =
        static_cast<std::uint32_t>((bfqd->tot_sectors_dispatched << kRateShift) / (us ? us : 1));
    // Skip mostly random samples below the current estimate, and nonsense.
    if (!((bfqd->sequential_samples < (3 * bfqd->peak_rate_samples) >> 2 &&
           rate <= bfqd->peak_rate) ||
          rate > (20u << kRateShift))) {
      std::uint32_t weight = (9 * bfqd->sequential_samples) / bfqd->peak_rate_samples;
      weight = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(8, weight * bfqd->delta_from_first / kRateRefInterval));
      const std::uint32_t divisor = 10 - weight;
      bfqd->peak_rate = bfqd->peak_rate * (divisor - 1) / divisor + rate / divisor;
      bfqd->peak_rate = std::max<std::uint32_t>(1, bfqd->peak_rate);
      update_thr_responsiveness_params(bfqd);
    }
  }
  bfq_reset_rate_computation(bfqd, rq);
}

// bfq_update_peak_rate: the dispatch rate over observation intervals of
// about a second estimates the device's peak rate.
void bfq_update_peak_rate(BfqData* bfqd, Request* rq) {
  const std::uint64_t now = ktime(bfqd);
  if (bfqd->peak_rate_samples == 0) {
    bfq_reset_rate_computation(bfqd, rq);
  } else if (now - bfqd->last_dispatch > 100 * core::kNsPerMs && bfqd->rq_in_driver == 0) {
    bfq_update_rate_reset(bfqd, rq);
  } else {
    bfqd->peak_rate_samples++;
    if ((bfqd->rq_in_driver > 0 || now - bfqd->last_completion < kMinTT) &&
        !bfq_rq_seeky(bfqd, bfqd->last_position, rq))
      bfqd->sequential_samples++;
    bfqd->tot_sectors_dispatched += block::blk_rq_sectors(rq);
    if (bfqd->peak_rate_samples % 32)
      bfqd->last_rq_max_size = std::max(block::blk_rq_sectors(rq), bfqd->last_rq_max_size);
    else
      bfqd->last_rq_max_size = block::blk_rq_sectors(rq);
    bfqd->delta_from_first = now - bfqd->first_dispatch;
    if (bfqd->delta_from_first >= kRateRefInterval) bfq_update_rate_reset(bfqd, rq);
  }
  bfqd->last_position = block::blk_rq_pos(rq) + block::blk_rq_sectors(rq);
  if (rq_bfqq(rq) == bfqd->in_service_queue) bfqd->in_serv_last_pos = bfqd->last_position;
  bfqd->last_dispatch = now;
}

void bfq_dispatch_remove(BfqData* bfqd, Request* rq) {
  rq_bfqq(rq)->dispatched++;
  bfq_update_peak_rate(bfqd, rq);
  bfq_remove_request(bfqd, rq);
}

bool idling_needed_for_service_guarantees(BfqData* bfqd, BfqQueue* bfqq) {
  const unsigned tot_busy_queues = bfq_tot_busy_queues(bfqd);
  if (!bfqq_process_refs(bfqq)) return false;
  return (bfqq->wr_coeff > 1 &&
          (bfqd->wr_busy_queues < tot_busy_queues || bfqd->rq_in_driver >= bfqq->dispatched + 4)) ||
         bfq_asymmetric_scenario(bfqd, bfqq) || tot_busy_queues == 1;
}

// __bfq_bfqq_recalc_budget: the budget feedback on expiration.
void bfq_bfqq_recalc_budget(BfqData* bfqd, BfqQueue* bfqq, BfqExpire reason) {
  const int min_budget = bfq_min_budget(bfqd);
  int budget = bfqq->wr_coeff == 1 ? bfqq->max_budget : 2 * min_budget;
  if (bfqq->has(BFQQF_sync) && bfqq->wr_coeff == 1) {
    switch (reason) {
      case BfqExpire::TOO_IDLE:
        // Still waiting for completions: it may need more, not less.
        if (bfqq->dispatched > 0)
          budget = std::min(budget * 2, bfqd->bfq_max_budget);
        else if (budget > 5 * min_budget)
          budget -= 4 * min_budget;
        else
          budget = min_budget;
        break;
      case BfqExpire::BUDGET_TIMEOUT:
        budget = std::min(budget * 2, bfqd->bfq_max_budget);
        break;
      case BfqExpire::BUDGET_EXHAUSTED:
        budget = std::min(budget * 4, bfqd->bfq_max_budget);
        break;
      case BfqExpire::NO_MORE_REQUESTS:
        budget = std::max(bfqq->entity.service, min_budget);
        break;
      default:
        return;
    }
  } else if (!bfqq->has(BFQQF_sync)) {
    budget = bfqd->bfq_max_budget;
  }
  bfqq->max_budget = budget;
  if (bfqd->budgets_assigned >= kStatsMinBudgets && !bfqd->user_max_budget)
    bfqq->max_budget = std::min(bfqq->max_budget, bfqd->bfq_max_budget);
  if (Request* next_rq = bfqq->next_rq)
    bfqq->entity.budget = std::max(bfqq->max_budget, bfq_serv_to_charge(bfqd, next_rq, bfqq));
}

// bfq_bfqq_is_slow: seeky, or served at less than half the peak rate.
bool bfq_bfqq_is_slow(BfqData* bfqd, BfqQueue* bfqq, bool compensate, unsigned long* delta_ms) {
  bool slow = bfqq_seeky(bfqq);
  if (!bfqq->has(BFQQF_sync)) return false;
  const std::uint64_t end = compensate ? bfqd->last_idling_start : ktime(bfqd);
  const std::uint64_t delta_us = (end - bfqd->last_budget_start) / core::kNsPerUs;
  if (delta_us < 1000) {
    *delta_ms = bfqd->nonrot ? kMinTT / core::kNsPerMs : kDefaultSliceIdle / core::kNsPerMs;
    return slow;
  }
  *delta_ms = static_cast<unsigned long>(delta_us / 1000);
  if (delta_us > 20000) slow = bfqq->entity.service < bfqd->bfq_max_budget / 2;
  return slow;
}

std::uint64_t bfq_bfqq_softrt_next_start(BfqData* bfqd, BfqQueue* bfqq) {
  const std::uint64_t now = jiffies(bfqd);
  std::uint64_t a = bfqq->soft_rt_next_start;
  const std::uint64_t b = bfqq->last_idle_bklogged + core::kNsPerSec *
                                                         bfqq->service_from_backlogged /
                                                         bfqd->wr_max_softrt_rate;
  // slice_idle plus four jiffies.
  const std::uint64_t c = now + bfqd->slice_idle + jiffies_ns(4);
  if (time_after(b, a)) a = b;
  if (time_after(c, a)) a = c;
  return a;
}

bool bfq_bfqq_budget_timeout(BfqData* bfqd, BfqQueue* bfqq) {
  return !time_after(bfqq->budget_timeout, jiffies(bfqd));
}

bool bfq_may_expire_for_budg_timeout(BfqData* bfqd, BfqQueue* bfqq) {
  return (!bfqq->has(BFQQF_wait_request) ||
          bfq_bfqq_budget_left(bfqq) >= bfqq->entity.budget / 3) &&
         bfq_bfqq_budget_timeout(bfqd, bfqq);
}

}  // namespace

bool idling_boosts_thr_without_issues(BfqData* bfqd, BfqQueue* bfqq) {
  if (!bfqq_process_refs(bfqq)) return false;
  const bool rot_without_queueing = !bfqd->nonrot && !bfqd->hw_tag;
  const bool seq_and_io_bound =
      !bfqq_seeky(bfqq) && bfqq->has(BFQQF_IO_bound) && bfqq->has(BFQQF_has_short_ttime);
  const bool boosts =
      rot_without_queueing || ((!bfqd->nonrot || !bfqd->hw_tag) && seq_and_io_bound);
  return boosts && bfqd->wr_busy_queues == 0;
}

namespace {

bool bfq_better_to_idle(BfqQueue* bfqq) {
  BfqData* bfqd = bfqq->bfqd;
  if (!bfqq_process_refs(bfqq)) return false;
  if (bfqd->strict_guarantees) return true;
  if (bfqd->slice_idle == 0 || !bfqq->has(BFQQF_sync) || bfq_class_idle(bfqq)) return false;
  return idling_boosts_thr_without_issues(bfqd, bfqq) ||
         idling_needed_for_service_guarantees(bfqd, bfqq);
}

bool bfq_bfqq_must_idle(BfqQueue* bfqq) {
  return bfqq->sort_list.empty() && bfq_better_to_idle(bfqq);
}

// bfq_choose_bfqq_for_injection: a queue whose next request may go to the
// device while the in-service queue is idled for, as long as fewer than
// its inject_limit requests are in flight.
BfqQueue* bfq_choose_bfqq_for_injection(BfqData* bfqd) {
  BfqQueue* in_serv = bfqd->in_service_queue;
  unsigned limit = in_serv->inject_limit;
  // Not raised, or with a long think time: injection from any queue.
  const bool in_serv_always_inject = in_serv->wr_coeff == 1 || !in_serv->has(BFQQF_has_short_ttime);
  // The kernel adds slice_idle (ns) to a jiffies count here.
  if (limit == 0 && in_serv->last_serv_time_ns == 0 && in_serv->has(BFQQF_wait_request) &&
      !time_after(bfqd->last_idling_start_jiffies + jiffies_ns(bfqd->slice_idle), jiffies(bfqd)))
    limit = 1;
  if (bfqd->rq_in_driver >= static_cast<int>(limit)) return nullptr;
  for (core::ListHead* n = bfqd->active_list.first(); n != &bfqd->active_list; n = n->next) {
    BfqQueue* bfqq = core::list_entry<BfqQueue, &BfqQueue::active_node>(n);
    if (!bfqq->sort_list.empty() && (in_serv_always_inject || bfqq->wr_coeff > 1) &&
        bfq_serv_to_charge(bfqd, bfqq->next_rq, bfqq) <= bfq_bfqq_budget_left(bfqq)) {
      // One large request at a time on a non-rotational device.
      if (bfqd->nonrot && block::blk_rq_sectors(bfqq->next_rq) >= kSectThrNonrot &&
          bfqd->rq_in_driver >= 1)
        continue;
      bfqd->rqs_injected = true;
      return bfqq;
    }
  }
  return nullptr;
}

// bfq_select_queue. Waker queues (whose completions wake the in-service
// one) are not tracked, so only the same process's async queue and the
// general injection are tried while idling.
BfqQueue* bfq_select_queue(BfqData* bfqd) {
  BfqExpire reason = BfqExpire::BUDGET_TIMEOUT;
  BfqQueue* bfqq = bfqd->in_service_queue;
  if (bfqq) {
    if (bfq_may_expire_for_budg_timeout(bfqd, bfqq) && !bfq_bfqq_must_idle(bfqq)) goto expire;
  } else {
    goto new_queue;
  }
check_queue:
  if (Request* next_rq = bfqq->next_rq) {
    if (bfq_serv_to_charge(bfqd, next_rq, bfqq) > bfq_bfqq_budget_left(bfqq)) {
      reason = BfqExpire::BUDGET_EXHAUSTED;
      goto expire;
    }
    if (bfqq->has(BFQQF_wait_request)) {
      bfqq->clear(BFQQF_wait_request);
      bfqd->clock->try_cancel(&bfqd->idle_slice_timer);
    }
    return bfqq;
  }
  // Empty: keep it while idling for it, or while its requests in flight
  // may bring more; meanwhile requests of other queues may be injected.
  if (bfqq->has(BFQQF_wait_request) || (bfqq->dispatched != 0 && bfq_better_to_idle(bfqq))) {
    BfqQueue* async_bfqq = bfqq->bic ? bfqq->bic->bfqq[0] : nullptr;
    auto can_serve = [bfqd](BfqQueue* q) {
      return q && q->has(BFQQF_busy) && q->next_rq &&
             bfq_serv_to_charge(bfqd, q->next_rq, q) <= bfq_bfqq_budget_left(q);
    };
    // The same process's async I/O cannot hurt it. (Waker queues are not
    // detected: see the README.)
    if (can_serve(async_bfqq) && rq_bic(async_bfqq->next_rq) == bfqq->bic) return async_bfqq;
    if (!idling_boosts_thr_without_issues(bfqd, bfqq) &&
        (bfqq->wr_coeff == 1 || bfqd->wr_busy_queues > 1 || !bfqq->has(BFQQF_has_short_ttime)))
      return bfq_choose_bfqq_for_injection(bfqd);
    return nullptr;
  }
  reason = BfqExpire::NO_MORE_REQUESTS;
expire:
  bfq_bfqq_expire(bfqd, bfqq, false, reason);
new_queue:
  bfqq = bfq_set_in_service_queue(bfqd);
  if (bfqq) goto check_queue;
  return nullptr;
}

void bfq_update_wr_data(BfqData* bfqd, BfqQueue* bfqq) {
  BfqEntity* e = &bfqq->entity;
  if (bfqq->wr_coeff > 1) {
    const std::uint64_t now = jiffies(bfqd);
    if (bfqq->has(BFQQF_in_large_burst)) {
      bfq_bfqq_end_wr(bfqq);
    } else if (time_before(bfqq->last_wr_start_finish + bfqq->wr_cur_max_time, now)) {
      if (bfqq->wr_cur_max_time != bfqd->wr_rt_max_time ||
          time_before(bfqq->wr_start_at_switch_to_srt + bfq_wr_duration(bfqd), now)) {
        bfq_bfqq_end_wr(bfqq);
      } else {
        switch_back_to_interactive_wr(bfqq, bfqd);
        e->prio_changed = true;
      }
    }
    // An interactive queue that got more than an application start needs.
    if (bfqq->wr_coeff > 1 && bfqq->wr_cur_max_time != bfqd->wr_rt_max_time &&
        bfqq->service_from_wr > kMaxServiceFromWr)
      bfq_bfqq_end_wr(bfqq);
  }
  if ((e->weight > e->orig_weight) != (bfqq->wr_coeff > 1))
    bfq_entity_update_weight_prio(bfqd, e, false);
}

Request* bfq_dispatch_rq_from_bfqq(BfqData* bfqd, BfqQueue* bfqq) {
  Request* rq = bfqq->next_rq;
  bfq_bfqq_served(bfqq, bfq_serv_to_charge(bfqd, rq, bfqq));
  if (bfqq == bfqd->in_service_queue && bfqd->wait_dispatch) {
    bfqd->wait_dispatch = false;
    bfqd->waited_rq = rq;
  }
  bfq_dispatch_remove(bfqd, rq);
  if (bfqq != bfqd->in_service_queue) return rq;
  bfq_update_wr_data(bfqd, bfqq);
  // The idle class gives the device back after each request when others wait.
  if (bfq_tot_busy_queues(bfqd) > 1 && bfq_class_idle(bfqq))
    bfq_bfqq_expire(bfqd, bfqq, false, BfqExpire::BUDGET_EXHAUSTED);
  return rq;
}

void bfq_update_io_thinktime(BfqData* bfqd, BfqQueue* bfqq) {
  BfqTtime* t = &bfqq->ttime;
  // Only a request arriving to an empty, idle queue measures think time.
  if (bfqq->dispatched || bfqq->has(BFQQF_busy)) return;
  std::uint64_t elapsed = ktime(bfqd) - t->last_end_request;
  elapsed = std::min<std::uint64_t>(elapsed, 2 * bfqd->slice_idle);
  t->ttime_samples = (7 * t->ttime_samples + 256) / 8;
  t->ttime_total = (7 * t->ttime_total + 256 * elapsed) / 8;
  t->ttime_mean = (t->ttime_total + 128) / t->ttime_samples;
}

void bfq_update_io_seektime(BfqData* bfqd, BfqQueue* bfqq, Request* rq) {
  bfqq->seek_history <<= 1;
  bfqq->seek_history |= bfq_rq_seeky(bfqd, bfqq->last_request_pos, rq) ? 1 : 0;
  if (bfqq->wr_coeff > 1 && bfqq->wr_cur_max_time == bfqd->wr_rt_max_time &&
      bfqq->seek_history == ~0u) {
    // A totally seeky queue is no soft real-time one: back to interactive
    // raising if that is still running.
    if (time_before(bfqq->wr_start_at_switch_to_srt + bfq_wr_duration(bfqd), jiffies(bfqd))) {
      bfq_bfqq_end_wr(bfqq);
    } else {
      switch_back_to_interactive_wr(bfqq, bfqd);
      bfqq->entity.prio_changed = true;
    }
  }
}

void bfq_update_has_short_ttime(BfqData* bfqd, BfqQueue* bfqq) {
  if (!bfqq->has(BFQQF_sync) || bfq_class_idle(bfqq) || bfqd->slice_idle == 0) return;
  if (!time_after(jiffies(bfqd), bfqq->split_time + bfqd->wr_min_idle_time)) return;
  bool has_short_ttime = true;
  // bfq_sample_valid: more than 80 samples.
  if (!bfqq->bic || bfqq->bic->icq.ioc->active_ref.load(std::memory_order_relaxed) == 0 ||
      (bfqq->ttime.ttime_samples > 80 && bfqq->ttime.ttime_mean > bfqd->slice_idle >> 1))
    has_short_ttime = false;
  const bool state_changed = has_short_ttime != bfqq->has(BFQQF_has_short_ttime);
  if (has_short_ttime)
    bfqq->mark(BFQQF_has_short_ttime);
  else
    bfqq->clear(BFQQF_has_short_ttime);
  // The limit follows the think time until a base service time is known.
  if (state_changed && bfqq->last_serv_time_ns == 0 &&
      (!time_after(bfqq->decrease_time_jif + 100 * core::kNsPerMs, jiffies(bfqd)) ||
       !has_short_ttime))
    bfq_reset_inject_limit(bfqd, bfqq);
}

void bfq_rq_enqueued(BfqData* bfqd, BfqQueue* bfqq, Request* rq) {
  bfqq->last_request_pos = block::blk_rq_pos(rq) + block::blk_rq_sectors(rq);
  if (bfqq == bfqd->in_service_queue && bfqq->has(BFQQF_wait_request)) {
    const bool small_req =
        bfqq->queued[block::rq_is_sync(rq)] == 1 && block::blk_rq_sectors(rq) < 32;
    const bool budget_timeout = bfq_bfqq_budget_timeout(bfqd, bfqq);
    // A lone small request while idling for throughput: wait for the block
    // layer to grow it.
    if (small_req && idling_boosts_thr_without_issues(bfqd, bfqq) && !budget_timeout) return;
    bfqq->clear(BFQQF_wait_request);
    bfqd->clock->try_cancel(&bfqd->idle_slice_timer);
    if (budget_timeout) bfq_bfqq_expire(bfqd, bfqq, false, BfqExpire::BUDGET_TIMEOUT);
  }
}

void bfq_update_hw_tag(BfqData* bfqd) {
  BfqQueue* bfqq = bfqd->in_service_queue;
  bfqd->max_rq_in_driver = std::max(bfqd->max_rq_in_driver, bfqd->rq_in_driver);
  if (bfqd->hw_tag == 1) return;
  if (bfqd->rq_in_driver + static_cast<int>(bfqd->queued.load(std::memory_order_relaxed)) <=
      kHwQueueThreshold)
    return;
  if (bfqq && bfqq->has(BFQQF_has_short_ttime) &&
      bfqq->dispatched + bfqq->queued[0] + bfqq->queued[1] < kHwQueueThreshold &&
      bfqd->rq_in_driver < kHwQueueThreshold)
    return;
  if (bfqd->hw_tag_samples++ < kHwQueueSamples) return;
  bfqd->hw_tag = bfqd->max_rq_in_driver > kHwQueueThreshold;
  bfqd->max_rq_in_driver = 0;
  bfqd->hw_tag_samples = 0;
  bfqd->nonrot_with_queueing = bfqd->nonrot && bfqd->hw_tag;
}

}  // namespace

// bfq_update_inject_limit, on completion of the first request after the
// queue became non-empty in service: its total service time without
// injection is the base; with injection, a time within 1.5 times the base
// raises the limit, a longer one lowers it.
void bfq_update_inject_limit(BfqData* bfqd, BfqQueue* bfqq) {
  const std::uint64_t tot_time_ns = ktime(bfqd) - bfqd->last_empty_occupied_ns;
  const unsigned old_limit = bfqq->inject_limit;
  if (bfqq->last_serv_time_ns > 0 && bfqd->rqs_injected) {
    const std::uint64_t threshold = (bfqq->last_serv_time_ns * 3) >> 1;
    if (tot_time_ns >= threshold && old_limit > 0) {
      bfqq->inject_limit--;
      bfqq->decrease_time_jif = jiffies(bfqd);
    } else if (tot_time_ns < threshold &&
               old_limit <= static_cast<unsigned>(bfqd->max_rq_in_driver)) {
      bfqq->inject_limit++;
    }
  }
  // rq_in_driver == 1: only this request was in flight.
  if ((bfqq->last_serv_time_ns == 0 && bfqd->rq_in_driver == 1) ||
      tot_time_ns < bfqq->last_serv_time_ns) {
    if (bfqq->last_serv_time_ns == 0) bfqq->inject_limit = std::max(1u, old_limit);
    bfqq->last_serv_time_ns = tot_time_ns;
  } else if (!bfqd->rqs_injected && bfqd->rq_in_driver == 1) {
    bfqq->last_serv_time_ns = tot_time_ns;
  }
  bfqd->waited_rq = nullptr;
  bfqd->rqs_injected = false;
}

void bfq_completed_request(BfqData* bfqd, BfqQueue* bfqq) {
  bfq_update_hw_tag(bfqd);
  bfqd->rq_in_driver--;
  bfqq->dispatched--;
  if (!bfqq->dispatched && !bfqq->has(BFQQF_busy)) {
    bfqq->budget_timeout = jiffies(bfqd);
    bfq_del_bfqq_in_groups_with_pending_reqs(bfqq);
    bfq_weights_tree_remove(bfqd, bfqq);  // the request's reference keeps bfqq
  }
  const std::uint64_t now = ktime(bfqd);
  bfqq->ttime.last_end_request = now;
  const std::uint64_t delta_us = (now - bfqd->last_completion) / core::kNsPerUs;
  // A completion this late at this request size means a slow interval,
  // useless for the peak rate.
  if (delta_us > kMinTT / core::kNsPerUs &&
      (static_cast<std::uint64_t>(bfqd->last_rq_max_size) << kRateShift) / delta_us <
          (1u << (kRateShift - 10)))
    bfq_update_rate_reset(bfqd, nullptr);
  bfqd->last_completion = now;

  if (bfqq->has(BFQQF_softrt_update) && bfqq->dispatched == 0 && bfqq->sort_list.empty() &&
      bfqq->wr_coeff != bfqd->wr_coeff)
    bfqq->soft_rt_next_start = bfq_bfqq_softrt_next_start(bfqd, bfqq);

  if (bfqd->in_service_queue == bfqq) {
    if (bfq_bfqq_must_idle(bfqq)) {
      if (bfqq->dispatched == 0) bfq_arm_slice_timer(bfqd);
      return;
    }
    if (bfq_may_expire_for_budg_timeout(bfqd, bfqq))
      bfq_bfqq_expire(bfqd, bfqq, false, BfqExpire::BUDGET_TIMEOUT);
    else if (bfqq->sort_list.empty() && (bfqq->dispatched == 0 || !bfq_better_to_idle(bfqq)))
      bfq_bfqq_expire(bfqd, bfqq, false, BfqExpire::NO_MORE_REQUESTS);
  }
  if (!bfqd->rq_in_driver) bfq_schedule_dispatch(bfqd);
}

bool bfq_asymmetric_scenario(BfqData* bfqd, BfqQueue* bfqq) {
  const bool smallest_weight = bfqq && bfqq->weight_counter && bfqd->nr_weights &&
                               bfqq->weight_counter == bfqd->weights[0].weight;
  const bool varied_queue_weights = !smallest_weight && bfqd->nr_weights > 1;
  const unsigned* b = bfqd->busy_queues;
  const bool multiple_classes_busy = (b[0] && b[1]) || (b[0] && b[2]) || (b[1] && b[2]);
  // Groups with pending requests: idling keeps each group's share.
  return varied_queue_weights || multiple_classes_busy || bfqd->num_groups_with_pending_reqs > 1;
}

int bfq_calc_max_budget(const BfqData* bfqd) {
  const std::uint64_t timeout_ms = bfqd->timeout * 1000 / kBfqHz;
  return static_cast<int>((static_cast<std::uint64_t>(bfqd->peak_rate) * 1000 * timeout_ms) >>
                          kRateShift);
}

void bfq_end_wr(BfqData* bfqd) {
  for (core::ListHead* n = bfqd->all_queues.first(); n != &bfqd->all_queues; n = n->next) {
    BfqQueue* bfqq = core::list_entry<BfqQueue, &BfqQueue::all_node>(n);
    if (bfqq->wr_coeff > 1) bfq_bfqq_end_wr(bfqq);
  }
}

void bfq_put_queue(BfqQueue* bfqq) {
  if (--bfqq->ref) return;
  if (bfqq->pos_node.is_linked()) bfqq->pos_root->erase(bfqq->pos_root->iterator_to(*bfqq));
  if (BfqQueue** last = bfq_last_created_slot(bfqq); *last == bfqq) *last = nullptr;
  if (bfqq->burst_node.linked()) {
    bfqq->burst_node.del();
    // A process that exits no longer counts in the burst.
    if (bfqq->bic && bfqq->bfqd->burst_size > 0) bfqq->bfqd->burst_size--;
  }
  bfqq->all_node.del();
  delete bfqq;
}

bool bfq_bfqq_expire_raw(BfqData* bfqd, BfqQueue* bfqq, BfqExpire reason) {
  // A shared queue gone seeky: its processes do not cooperate any more.
  if (bfqq->has(BFQQF_coop) && bfqq_seeky(bfqq)) bfqq->mark(BFQQF_split_coop);
  // An empty queue leaves the service tree, unless a preempted queue must be
  // idled for: it is requeued to be served before later finish times.
  if (bfqq->sort_list.empty() &&
      !(reason == BfqExpire::PREEMPTED && idling_needed_for_service_guarantees(bfqd, bfqq))) {
    if (bfqq->dispatched == 0) bfqq->budget_timeout = jiffies(bfqd);
    bfq_del_bfqq_busy(bfqd, bfqq, true);
  } else {
    bfq_requeue_bfqq(bfqd, bfqq, true);
    if (!bfqd->nonrot_with_queueing && !bfqq->sort_list.empty()) bfq_pos_tree_add_move(bfqd, bfqq);
  }
  return bfq_bfqd_reset_in_service(bfqd);
}

void bfq_bfqq_expire(BfqData* bfqd, BfqQueue* bfqq, bool compensate, BfqExpire reason) {
  BfqEntity* e = &bfqq->entity;
  unsigned long delta = 0;
  const bool slow = bfq_bfqq_is_slow(bfqd, bfqq, compensate, &delta);
  // Slow queues, and those timed out with a third of their budget left,
  // are charged for the time they held the device.
  if (bfqq->wr_coeff == 1 && (slow || (reason == BfqExpire::BUDGET_TIMEOUT &&
                                       bfq_bfqq_budget_left(bfqq) >= e->budget / 3)))
    bfq_bfqq_charge_time(bfqd, bfqq, delta);
  if (bfqd->low_latency && bfqq->wr_coeff == 1) bfqq->last_wr_start_finish = jiffies(bfqd);
  if (bfqd->low_latency && bfqd->wr_max_softrt_rate > 0 && bfqq->sort_list.empty()) {
    if (bfqq->dispatched == 0)
      bfqq->soft_rt_next_start = bfq_bfqq_softrt_next_start(bfqd, bfqq);
    else if (bfqq->dispatched > 0)
      bfqq->mark(BFQQF_softrt_update);
  }
  // No total service time to measure any more.
  bfqd->rqs_injected = bfqd->wait_dispatch = false;
  bfqd->waited_rq = nullptr;
  bfq_bfqq_recalc_budget(bfqd, bfqq, reason);
  if (bfq_bfqq_expire_raw(bfqd, bfqq, reason)) return;  // freed
  if (!bfqq->has(BFQQF_busy) && reason != BfqExpire::BUDGET_TIMEOUT &&
      reason != BfqExpire::BUDGET_EXHAUSTED)
    bfqq->mark(BFQQF_non_blocking_wait_rq);  // may go on with this budget
  else
    e->service = 0;
  // The groups' budgets follow the queue's anyway: no need to keep theirs.
  bfq_reset_parents_service(bfqq);
}

// __bfq_insert_request.
void bfq_insert_request(BfqData* bfqd, Request* rq) {
  BfqQueue* bfqq = rq_bfqq(rq);
  if (BfqQueue* new_bfqq = bfq_setup_cooperator(bfqd, bfqq, rq_bic(rq), block::blk_rq_pos(rq))) {
    // The request goes to the shared queue, and its process too if it
    // has not moved yet.
    new_bfqq->allocated++;
    bfqq->allocated--;
    new_bfqq->ref++;
    if (rq_bic(rq)->bfqq[1] == bfqq) bfq_merge_bfqqs(bfqd, rq_bic(rq), bfqq, new_bfqq);
    bfqq->clear(BFQQF_just_created);
    bfq_put_queue(bfqq);
    rq->elv_priv[1] = new_bfqq;
    bfqq = new_bfqq;
  }
  bfq_update_io_thinktime(bfqd, bfqq);
  bfq_update_has_short_ttime(bfqd, bfqq);
  bfq_update_io_seektime(bfqd, bfqq, rq);
  bfq_add_request(bfqd, rq);
  rq->fifo_time = ktime(bfqd) + bfqd->fifo_expire[block::rq_is_sync(rq)];
  rq->queuelist.add_tail(&bfqq->fifo);
  bfq_rq_enqueued(bfqd, bfqq, rq);
}

Request* bfq_dispatch(BfqData* bfqd) {
  Request* rq = nullptr;
  if (!bfqd->dispatch.empty()) {
    rq = block::rq_from_queuelist(bfqd->dispatch.first());
    rq->queuelist.del();
    bfqd->dispatch_nonempty.store(!bfqd->dispatch.empty(), std::memory_order_release);
    if (BfqQueue* bfqq = rq_bfqq(rq)) {
      bfqq->dispatched++;
      bfqd->rq_in_driver++;
    }
    rq->rq_flags |= block::RQF_STARTED;
    return rq;
  }
  if (bfq_tot_busy_queues(bfqd) == 0) return nullptr;
  // strict_guarantees: one request at a time in the device.
  if (bfqd->strict_guarantees && bfqd->rq_in_driver > 0) return nullptr;
  BfqQueue* bfqq = bfq_select_queue(bfqd);
  if (!bfqq) return nullptr;
  rq = bfq_dispatch_rq_from_bfqq(bfqd, bfqq);
  bfqd->rq_in_driver++;
  rq->rq_flags |= block::RQF_STARTED;
  return rq;
}

// bfq_idle_slice_timer_body. Those who stop the idling hold bfqd->lock and
// only try to cancel the timer (hrtimer_try_to_cancel): waiting for this
// callback, which waits for their lock, would deadlock. A callback that ran
// anyway finds the wait_request flag cleared and does nothing.
void bfq_idle_slice_timer(BfqData* bfqd) {
  {
    core::LockGuard g(bfqd->lock);
    BfqQueue* bfqq = bfqd->in_service_queue;
    if (!bfqq || !bfqq->has(BFQQF_wait_request)) return;
    bfqq->clear(BFQQF_wait_request);
    if (bfq_bfqq_budget_timeout(bfqd, bfqq))
      bfq_bfqq_expire(bfqd, bfqq, true, BfqExpire::BUDGET_TIMEOUT);
    else if (bfqq->queued[0] == 0 && bfqq->queued[1] == 0)
      bfq_bfqq_expire(bfqd, bfqq, true, BfqExpire::TOO_IDLE);
    if (bfqd->queued.load(std::memory_order_relaxed) == 0) return;
  }
  bfq_run_queues(bfqd);
}

void bfq_run_queues(BfqData* bfqd) {
  if (bfqd->kick)
    bfqd->kick(bfqd->kick_arg);
  else if (bfqd->queue)
    block::blk_mq_run_hw_queues(bfqd->queue);
}

}  // namespace bfq

using namespace bfq;  // NOLINT: the kernel's function names, in this file only

Bfq::Bfq(block::RequestQueue* q) : Elevator(q) {
  d_.elv = this;
  d_.queue = q;
  d_.clock = q ? q->clock() : &core::real_clock();
  d_.nonrot = q ? !q->limits().rotational : true;
  d_.nonrot_with_queueing = d_.nonrot;
  d_.rate_dur_prod = kRefRate[d_.nonrot] * kRefWrDuration[d_.nonrot];
  d_.peak_rate = kRefRate[d_.nonrot] * 2 / 3;
  bfq_init_root_group(&d_);
  d_.root_group.sched_data.class_idle_last_service = d_.clock->coarse_now();
  d_.idle_slice_timer.fn = [](core::Timer* t) {
    bfq_idle_slice_timer(static_cast<BfqData*>(t->priv));
  };
  d_.idle_slice_timer.priv = &d_;
  d_.dispatch_timer.fn = [](core::Timer* t) { bfq_run_queues(static_cast<BfqData*>(t->priv)); };
  d_.dispatch_timer.priv = &d_;
}

Bfq::~Bfq() {
  d_.clock->cancel(&d_.idle_slice_timer);
  d_.clock->cancel(&d_.dispatch_timer);
  // Processes let go of their queues (exit_icq), then the scheduler of the
  // rest: async queues and idle entities (bfq_exit_queue).
  d_.icqs.clear();
  core::LockGuard g(d_.lock);
  while (!d_.dispatch.empty()) d_.dispatch.first()->del();
  while (!d_.burst_list.empty()) d_.burst_list.first()->del();
  bfq_for_each_group(&d_, [this](BfqGroup* g) {
    bfq_forget_all_idle(&d_, g);
    bfq_put_async_queues(&d_, g);
  });
  // Whatever a test left queued.
  bfq_for_each_group(&d_, [](BfqGroup* g) {
    g->rq_pos_tree.clear();
    for (BfqServiceTree& st : g->sched_data.service_tree) {
      st.active.clear();
      st.idle.clear();
    }
  });
  for (core::ListHead* n = d_.all_queues.first(); n != &d_.all_queues; n = n->next) {
    BfqQueue* bfqq = core::list_entry<BfqQueue, &BfqQueue::all_node>(n);
    if (bfqq->active_node.linked()) bfqq->active_node.del();
  }
  while (!d_.all_queues.empty()) {
    BfqQueue* bfqq = core::list_entry<BfqQueue, &BfqQueue::all_node>(d_.all_queues.first());
    bfqq->sort_list.clear();
    bfqq->all_node.del();
    delete bfqq;
  }
}

// --- depth (bfq_update_depths) ---

void Bfq::init_hctx(block::HwCtx* hctx) { depth_updated(hctx); }

void Bfq::depth_updated(block::HwCtx* hctx) {
  const unsigned bpw = hctx->sched_tags ? hctx->sched_tags->bits_per_word() : 64;
  core::LockGuard g(d_.lock);
  d_.word_depths[0][0] = std::max(bpw >> 1, 1u);        // async: 50%
  d_.word_depths[0][1] = std::max((bpw * 3) >> 2, 1u);  // sync writes: 75%
  d_.word_depths[1][0] = std::max((bpw * 3) >> 4, 1u);  // with raised queues: ~18%
  d_.word_depths[1][1] = std::max((bpw * 6) >> 4, 1u);  // ~37%
}

void Bfq::limit_depth(block::AllocData* data) {
  if (block::op_is_sync(data->cmd_flags) && !block::op_is_write(data->cmd_flags)) return;
  core::LockGuard g(d_.lock);
  data->shallow_depth = d_.word_depths[d_.wr_busy_queues != 0][block::op_is_sync(data->cmd_flags)];
}

// --- merging ---

bool Bfq::bio_merge(block::Bio* bio, unsigned nr_segs) {
  task::IoContext* ioc = task::current_io_context();
  auto* bic = ioc ? reinterpret_cast<BfqIoCq*>(task::ioc_lookup_icq(ioc, &d_)) : nullptr;
  Request* free = nullptr;
  bool ret;
  {
    core::LockGuard g(d_.lock);
    // The process's queues follow it to its cgroup before any merge.
    if (bic) bfq_bic_update_cgroup(&d_, bic, bio->bi_blkcg);
    d_.bio_bfqq = bic ? bic->bfqq[block::op_is_sync(bio->bi_opf)] : nullptr;
    d_.bio_bic = bic;
    ret = block::blk_mq_sched_try_merge(queue(), bio, nr_segs, &free);
  }
  if (free) block::blk_mq_free_request(free);
  return ret;
}

bool Bfq::allow_merge(Request* rq, block::Bio* bio) {
  // Never a sync bio into an async request, and only within its own queue.
  if (block::op_is_sync(bio->bi_opf) && !block::rq_is_sync(rq)) return false;
  BfqQueue* bfqq = d_.bio_bfqq;
  if (!bfqq) return false;
  // An early chance to merge the queues of cooperating processes.
  if (BfqQueue* new_bfqq = bfq_setup_cooperator(&d_, bfqq, d_.bio_bic, bio->bi_iter.bi_sector)) {
    bfq_merge_bfqqs(&d_, d_.bio_bic, bfqq, new_bfqq);
    bfqq = d_.bio_bfqq = new_bfqq;
  }
  return bfqq == rq_bfqq(rq);
}

block::ElvMerge Bfq::request_merge(Request** rq, block::Bio* bio) {
  BfqQueue* bfqq = d_.bio_bfqq;
  if (!bfqq) return block::ElvMerge::NONE;
  auto it = bfqq->sort_list.find(block::bio_end_sector(bio));
  if (it == bfqq->sort_list.end() || !block::elv_bio_merge_ok(&*it, bio))
    return block::ElvMerge::NONE;
  *rq = &*it;
  return block::ElvMerge::FRONT;
}

void Bfq::request_merged(Request* req, block::ElvMerge type) {
  if (type != block::ElvMerge::FRONT) return;
  BfqQueue* bfqq = rq_bfqq(req);
  if (!bfqq || !req->rb_node.is_linked()) return;
  // A front merge moved its start: re-sort it, maybe as the next request.
  bfqq->sort_list.erase(bfqq->sort_list.iterator_to(*req));
  bfqq->sort_list.insert(*req);
  Request* prev = bfqq->next_rq;
  bfqq->next_rq = bfq_choose_req(&d_, bfqq->next_rq, req, d_.last_position);
  if (prev != bfqq->next_rq) {
    bfq_updated_next_req(&d_, bfqq);
    if (!d_.nonrot_with_queueing) bfq_pos_tree_add_move(&d_, bfqq);
  }
}

void Bfq::requests_merged(Request* rq, Request* next) {
  BfqQueue* bfqq = rq_bfqq(rq);
  if (!bfqq) return;
  // The survivor keeps the older deadline and FIFO place of its queue.
  if (bfqq == rq_bfqq(next) && rq->queuelist.linked() && next->queuelist.linked() &&
      next->fifo_time < rq->fifo_time) {
    rq->queuelist.del();
    rq->queuelist.add_after(&next->queuelist);
    next->queuelist.del();
    rq->fifo_time = next->fifo_time;
  }
  if (bfqq->next_rq == next) bfqq->next_rq = rq;
  if (next->rb_node.is_linked()) bfq_remove_request(&d_, next);
}

Request* Bfq::former_request(Request* rq) {
  BfqQueue* bfqq = rq_bfqq(rq);
  if (!bfqq || !rq->rb_node.is_linked()) return nullptr;
  auto it = bfqq->sort_list.iterator_to(*rq);
  return it == bfqq->sort_list.begin() ? nullptr : &*--it;
}

Request* Bfq::next_request(Request* rq) {
  BfqQueue* bfqq = rq_bfqq(rq);
  if (!bfqq || !rq->rb_node.is_linked()) return nullptr;
  auto it = ++bfqq->sort_list.iterator_to(*rq);
  return it == bfqq->sort_list.end() ? nullptr : &*it;
}

// --- insertion, dispatch, completion ---

void Bfq::insert_requests(block::HwCtx*, core::ListHead* list, unsigned flags) {
  core::ListHead free;
  {
    core::LockGuard g(d_.lock);
    while (!list->empty()) {
      Request* rq = block::rq_from_queuelist(list->first());
      rq->queuelist.del();
      BfqQueue* bfqq = bfq_init_rq(&d_, rq);
      if (block::blk_mq_sched_try_insert_merge(queue(), rq, &free)) continue;
      block::blk_trace_rq_insert(rq);
      if (!bfqq || (flags & block::INSERT_AT_HEAD)) {
        if (flags & block::INSERT_AT_HEAD)
          rq->queuelist.add_head(&d_.dispatch);
        else
          rq->queuelist.add_tail(&d_.dispatch);
        d_.dispatch_nonempty.store(true, std::memory_order_release);
      } else {
        bfq_insert_request(&d_, rq);
        if (block::rq_mergeable(rq)) {
          rqhash_add(rq);
          if (!last_merge) last_merge = rq;
        }
      }
    }
  }
  block::blk_mq_free_requests(&free);
}

bool Bfq::has_work(block::HwCtx*) {
  return d_.dispatch_nonempty.load(std::memory_order_acquire) ||
         d_.queued.load(std::memory_order_acquire) > 0;
}

Request* Bfq::dispatch_request(block::HwCtx*) {
  core::LockGuard g(d_.lock);
  return bfq_dispatch(&d_);
}

void Bfq::completed_request(Request* rq, std::uint64_t) {
  BfqQueue* bfqq = rq_bfqq(rq);
  if (!bfqq) return;
  core::LockGuard g(d_.lock);
  if (rq == d_.waited_rq) bfq_update_inject_limit(&d_, bfqq);
  bfq_completed_request(&d_, bfqq);  // may drop the weight counter's reference
  if (BfqIoCq* bic = rq_bic(rq)) bic->requests--;
  rq->elv_priv[1] = nullptr;
  bfqq->allocated--;
  bfq_put_queue(bfqq);
}

void Bfq::requeue_request(Request* rq) {
  // A requeued request is done as far as bfq is concerned (and inserted
  // again later); one never dispatched just leaves.
  BfqQueue* bfqq = rq_bfqq(rq);
  if (!bfqq) return;
  core::LockGuard g(d_.lock);
  if (rq->rb_node.is_linked()) {
    bfq_remove_request(&d_, rq);
  } else {
    if (rq == d_.waited_rq) bfq_update_inject_limit(&d_, bfqq);
    bfq_completed_request(&d_, bfqq);
  }
  if (BfqIoCq* bic = rq_bic(rq)) bic->requests--;
  rq->elv_priv[1] = nullptr;
  bfqq->allocated--;
  bfq_put_queue(bfqq);
}

void Bfq::finish_request(Request* rq) {
  if (BfqQueue* bfqq = rq_bfqq(rq)) {
    // Never dispatched (merged away, or freed unissued).
    core::LockGuard g(d_.lock);
    if (rq->rb_node.is_linked()) bfq_remove_request(&d_, rq);
    if (BfqIoCq* bic = rq_bic(rq)) bic->requests--;
    rq->elv_priv[1] = nullptr;
    bfqq->allocated--;
    bfq_put_queue(bfqq);
  }
  if (BfqIoCq* bic = rq_bic(rq)) {
    rq->elv_priv[0] = nullptr;
    task::put_io_context(bic->icq.ioc);  // outside the lock: may release the icqs
  }
}

// --- introspection ---

std::vector<BfqQueueInfo> Bfq::queues() const {
  core::LockGuard g(d_.lock);
  std::vector<BfqQueueInfo> out;
  for (core::ListHead* n = d_.all_queues.first(); n != &d_.all_queues; n = n->next) {
    const BfqQueue* q = core::list_entry<BfqQueue, &BfqQueue::all_node>(n);
    const task::Blkcg* cg = q->entity.sched_data->group->blkcg;
    out.push_back({q->pid, cg ? cg->path : std::string(), q->has(BFQQF_sync), q->ioprio_class,
                   q->ioprio, q->entity.weight, q->wr_coeff, q->max_budget, q->entity.budget,
                   q == d_.in_service_queue, q->has(BFQQF_busy)});
  }
  return out;
}

unsigned Bfq::group_weight(const task::Blkcg* cg) const {
  core::LockGuard g(d_.lock);
  auto it = d_.groups.find(cg);
  return it == d_.groups.end() ? 0 : it->second->entity.weight;
}

int Bfq::max_budget() const {
  core::LockGuard g(d_.lock);
  return d_.bfq_max_budget;
}

std::uint32_t Bfq::peak_rate() const {
  core::LockGuard g(d_.lock);
  return d_.peak_rate;
}

bool Bfq::idling() const {
  core::LockGuard g(d_.lock);
  return d_.in_service_queue && d_.in_service_queue->has(BFQQF_wait_request);
}

int Bfq::in_service_pid() const {
  core::LockGuard g(d_.lock);
  return d_.in_service_queue ? d_.in_service_queue->pid : 0;
}

}  // namespace iostack::sched
