// bfq's per-process state (block/bfq-iosched.c): the bfq_io_cq of each
// io_context, its sync and async queues, their priority and weight, and the
// references that keep queues alive.
#include <algorithm>

#include "block/request_queue.hpp"
#include "sched/bfq_internal.hpp"
#include "task/current.hpp"
#include "task/icq.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched {

using block::Request;

namespace bfq {

namespace {

// bfq_activation_stable_merging / bfq_late_stable_merging (ms), and
// bfq_burst_interval (180 ms).
constexpr std::uint64_t kStableMergingMs = 600;
constexpr std::uint64_t kBurstInterval = 180 * core::kNsPerMs;

BfqIoCq* icq_to_bic(task::IoCq* icq) { return reinterpret_cast<BfqIoCq*>(icq); }

// bfq_set_next_ioprio_data: the class and weight applied at the next
// activation. Class NONE (only hand-made requests: the block layer resolves
// it from the task) is BE at the level of nice 0.
void bfq_set_next_ioprio_data(BfqQueue* bfqq, BfqIoCq* bic) {
  switch (task::prio_class(bic->ioprio)) {
    case task::kClassRt:
      bfqq->new_ioprio = static_cast<unsigned short>(task::prio_level(bic->ioprio));
      bfqq->new_ioprio_class = task::kClassRt;
      break;
    case task::kClassIdle:
      bfqq->new_ioprio = 7;
      bfqq->new_ioprio_class = task::kClassIdle;
      break;
    case task::kClassBe:
      bfqq->new_ioprio = static_cast<unsigned short>(task::prio_level(bic->ioprio));
      bfqq->new_ioprio_class = task::kClassBe;
      break;
    default:
      bfqq->new_ioprio = kBfqDefaultIoprio;
      bfqq->new_ioprio_class = task::kClassBe;
      break;
  }
  bfqq->entity.new_weight = bfq_ioprio_to_weight(bfqq->new_ioprio);
  bfqq->entity.prio_changed = true;
}

void bfq_init_bfqq(BfqData* bfqd, BfqQueue* bfqq, BfqIoCq* bic, int pid, bool is_sync) {
  const std::uint64_t now = jiffies(bfqd);
  bfqq->bfqd = bfqd;
  bfqq->entity.bfqq = bfqq;
  if (bic) bfq_set_next_ioprio_data(bfqq, bic);
  if (is_sync) {
    // Tentatively a short think time; idle-class queues are never idled for.
    if (bfqq->new_ioprio_class != task::kClassIdle) bfqq->mark(BFQQF_has_short_ttime);
    bfqq->mark(BFQQF_sync);
    bfqq->mark(BFQQF_just_created);
  }
  bfqq->ttime.last_end_request = ktime(bfqd) + 1;
  bfqq->creation_time = now;
  bfqq->decrease_time_jif = now;
  bfqq->io_start_time = ktime(bfqd);
  bfqq->mark(BFQQF_IO_bound);
  bfqq->pid = pid;
  // Tentative first budget, between throughput and latency.
  bfqq->max_budget = (2 * bfq_max_budget(bfqd)) / 3;
  bfqq->budget_timeout = smallest_from_now(now);
  bfqq->wr_coeff = 1;
  bfqq->last_wr_start_finish = now;
  bfqq->wr_start_at_switch_to_srt = smallest_from_now(now);
  bfqq->split_time = smallest_from_now(now);
  bfqq->soft_rt_next_start = now;
  bfqq->seek_history = 1;  // the first request is almost certainly seeky
  // bfq_init_entity
  bfqq->entity.weight = bfqq->entity.orig_weight = bfqq->entity.new_weight;
  bfqq->ioprio = bfqq->new_ioprio;
  bfqq->ioprio_class = bfqq->new_ioprio_class;
  bfqq->all_node.add_tail(&bfqd->all_queues);
}

BfqQueue** bfq_async_queue_prio(BfqGroup* bfqg, int ioprio_class, int level) {
  switch (ioprio_class) {
    case task::kClassRt:
      return &bfqg->async_bfqq[0][level];
    case task::kClassNone:
      level = task::kNorm;
      [[fallthrough]];
    case task::kClassBe:
      return &bfqg->async_bfqq[1][level];
    case task::kClassIdle:
      return &bfqg->async_idle_bfqq;
    default:
      return nullptr;
  }
}

void bfq_put_stable_ref(BfqQueue* bfqq) {
  bfqq->stable_ref--;
  bfq_put_queue(bfqq);
}

}  // namespace

// bic_set_bfqq.
void bic_set_bfqq(BfqIoCq* bic, BfqQueue* bfqq, bool is_sync) {
  BfqQueue* old = bic->bfqq[is_sync];
  if (old && old->bic == bic) old->bic = nullptr;
  bic->bfqq[is_sync] = bfqq;
  if (bfqq && bic->stable_merge_bfqq == bfqq) {
    bfq_put_stable_ref(bic->stable_merge_bfqq);
    bic->stable_merge_bfqq = nullptr;
  }
}

namespace {

// bfq_setup_merge: schedules bfqq's processes to move to new_bfqq (the
// end of its merge chain) and gives new_bfqq their references.
BfqQueue* bfq_setup_merge(BfqQueue* bfqq, BfqQueue* new_bfqq) {
  if (!bfqq_process_refs(new_bfqq)) return nullptr;
  while (BfqQueue* next = new_bfqq->new_bfqq) {
    if (next == bfqq) return nullptr;  // no cycles
    new_bfqq = next;
  }
  const int process_refs = bfqq_process_refs(bfqq);
  if (process_refs == 0 || bfqq_process_refs(new_bfqq) == 0) return nullptr;
  // Both in the same group (one may have moved since the choice).
  if (new_bfqq->entity.parent != bfqq->entity.parent) return nullptr;
  bfqq->new_bfqq = new_bfqq;
  new_bfqq->ref += process_refs;
  return new_bfqq;
}

// bfq_setup_stable_merge: a process created with another of the same
// priority (within the burst interval) joins that one's queue, unless
// idling would serve its own queue well.
BfqQueue* bfq_setup_stable_merge(BfqData* bfqd, BfqQueue* bfqq, BfqQueue* stable, BfqIoCq* bic) {
  const int proc_ref = std::min(bfqq_process_refs(bfqq), bfqq_process_refs(stable));
  BfqQueue* new_bfqq = nullptr;
  bic->stable_merge_bfqq = nullptr;
  if (!idling_boosts_thr_without_issues(bfqd, bfqq) && proc_ref != 0) {
    new_bfqq = bfq_setup_merge(bfqq, stable);
    if (new_bfqq) {
      bic->stably_merged = true;
      if (new_bfqq->bic) new_bfqq->bic->stably_merged = true;
    }
  }
  bfq_put_stable_ref(stable);
  return new_bfqq;
}

// bfq_do_or_sched_stable_merge: remembers the newest queue, and plans (or,
// on a non-rotational queueing device, does) the merge of a queue created
// right after one of the same priority.
BfqQueue* bfq_do_or_sched_stable_merge(BfqData* bfqd, BfqQueue* bfqq, BfqIoCq* bic) {
  // Each group remembers its own newest queue: no merging across groups.
  BfqQueue** source = bfq_last_created_slot(bfqq);
  BfqQueue* last = *source;
  if (!last ||
      time_before(last->creation_time + kStableMergingMs * core::kNsPerMs, bfqq->creation_time) ||
      bfqq->ioprio != last->ioprio || bfqq->ioprio_class != last->ioprio_class) {
    *source = bfqq;
  } else if (!time_after(bfqq->creation_time, last->creation_time + kBurstInterval)) {
    if (bfqd->nonrot_with_queueing) {
      // bfq_do_early_stable_merge
      BfqQueue* new_bfqq = bfq_setup_merge(bfqq, last);
      if (!new_bfqq) return bfqq;
      if (new_bfqq->bic) new_bfqq->bic->stably_merged = true;
      bic->stably_merged = true;
      bfqq->bic = bic;
      bfq_merge_bfqqs(bfqd, bic, bfqq, new_bfqq);
      return new_bfqq;
    }
    last->ref++;
    last->stable_ref++;
    bic->stable_merge_bfqq = last;
  }
  return bfqq;
}

// BFQQ_CLOSE_THR: within 8192 sectors.
bool close_to(block::sector_t a, block::sector_t b) { return (a > b ? a - b : b - a) <= 8 * 1024; }

// bfqq_find_close: the queue of bfqq's group whose next request starts at
// `sector`, or the nearer of its neighbours in position if close enough.
BfqQueue* bfqq_find_close(BfqQueue* bfqq, block::sector_t sector) {
  auto& tree = bfqq_group(bfqq)->rq_pos_tree;
  if (tree.empty()) return nullptr;
  auto it = tree.lower_bound(sector);
  if (it != tree.end() && block::blk_rq_pos(it->next_rq) == sector) return &*it;
  BfqQueue* after = it != tree.end() ? &*it : nullptr;
  BfqQueue* before = it != tree.begin() ? &*std::prev(it) : nullptr;
  BfqQueue* best = nullptr;
  for (BfqQueue* q : {before, after}) {
    if (!q || !close_to(block::blk_rq_pos(q->next_rq), sector)) continue;
    if (!best ||
        (block::blk_rq_pos(q->next_rq) > sector ? block::blk_rq_pos(q->next_rq) - sector
                                                : sector - block::blk_rq_pos(q->next_rq)) <
            (block::blk_rq_pos(best->next_rq) > sector ? block::blk_rq_pos(best->next_rq) - sector
                                                       : sector - block::blk_rq_pos(best->next_rq)))
      best = q;
  }
  return best;
}

bool bfq_may_be_close_cooperator(BfqData* bfqd, BfqQueue* bfqq, BfqQueue* new_bfqq) {
  if (bfq_too_late_for_merging(bfqd, new_bfqq)) return false;
  if (bfq_class_idle(bfqq) || bfq_class_idle(new_bfqq) ||
      bfqq->ioprio_class != new_bfqq->ioprio_class)
    return false;
  // Seeky I/O is unlikely to become sequential merged; only reads interleave.
  if (bfqq_seeky(bfqq) || bfqq_seeky(new_bfqq)) return false;
  return bfqq->has(BFQQF_sync) && new_bfqq->has(BFQQF_sync);
}

// bfq_bfqq_save_state: what the process's queue was like, for a split.
void bfq_bfqq_save_state(BfqData* bfqd, BfqQueue* bfqq) {
  BfqIoCq* bic = bfqq->bic;
  if (!bic) return;
  bic->saved = true;
  bic->saved_weight = bfqq->entity.orig_weight;
  bic->saved_ttime = bfqq->ttime;
  bic->saved_has_short_ttime = bfqq->has(BFQQF_has_short_ttime);
  bic->saved_IO_bound = bfqq->has(BFQQF_IO_bound);
  bic->saved_io_start_time = bfqq->io_start_time;
  bic->saved_tot_idle_time = bfqq->tot_idle_time;
  bic->saved_in_large_burst = bfqq->has(BFQQF_in_large_burst);
  if (bfqq->has(BFQQF_just_created) && !bfqq->has(BFQQF_in_large_burst) && bfqd->low_latency) {
    // Merged at creation: it would have been raised as a new queue.
    bic->saved_wr_coeff = bfqd->wr_coeff;
    bic->saved_wr_start_at_switch_to_srt = smallest_from_now(jiffies(bfqd));
    bic->saved_wr_cur_max_time = bfq_wr_duration(bfqd);
    bic->saved_last_wr_start_finish = jiffies(bfqd);
  } else {
    bic->saved_wr_coeff = bfqq->wr_coeff;
    bic->saved_wr_start_at_switch_to_srt = bfqq->wr_start_at_switch_to_srt;
    bic->saved_service_from_wr = bfqq->service_from_wr;
    bic->saved_last_wr_start_finish = bfqq->last_wr_start_finish;
    bic->saved_wr_cur_max_time = bfqq->wr_cur_max_time;
  }
}

// bfq_bfqq_resume_state: the state saved at the merge, on a split.
void bfq_bfqq_resume_state(BfqData* bfqd, BfqQueue* bfqq, BfqIoCq* bic, bool already_existing) {
  if (!bic->saved) return;
  unsigned old_wr_coeff = 1;
  const bool busy = already_existing && bfqq->has(BFQQF_busy);
  if (bic->saved_has_short_ttime)
    bfqq->mark(BFQQF_has_short_ttime);
  else
    bfqq->clear(BFQQF_has_short_ttime);
  if (bic->saved_IO_bound)
    bfqq->mark(BFQQF_IO_bound);
  else
    bfqq->clear(BFQQF_IO_bound);
  bfqq->entity.new_weight = bic->saved_weight;
  bfqq->ttime = bic->saved_ttime;
  bfqq->io_start_time = bic->saved_io_start_time;
  bfqq->tot_idle_time = bic->saved_tot_idle_time;
  if (bfqd->low_latency) {
    old_wr_coeff = bfqq->wr_coeff;
    bfqq->wr_coeff = bic->saved_wr_coeff;
  }
  bfqq->service_from_wr = bic->saved_service_from_wr;
  bfqq->wr_start_at_switch_to_srt = bic->saved_wr_start_at_switch_to_srt;
  bfqq->last_wr_start_finish = bic->saved_last_wr_start_finish;
  bfqq->wr_cur_max_time = bic->saved_wr_cur_max_time;
  const std::uint64_t now = jiffies(bfqd);
  if (bfqq->wr_coeff > 1 &&
      (bfqq->has(BFQQF_in_large_burst) ||
       time_before(bfqq->last_wr_start_finish + bfqq->wr_cur_max_time, now))) {
    if (bfqq->wr_cur_max_time == bfqd->wr_rt_max_time && !bfqq->has(BFQQF_in_large_burst) &&
        !time_after(now, bfqq->wr_start_at_switch_to_srt + bfq_wr_duration(bfqd))) {
      bfqq->wr_coeff = bfqd->wr_coeff;
      bfqq->wr_cur_max_time = bfq_wr_duration(bfqd);
      bfqq->last_wr_start_finish = bfqq->wr_start_at_switch_to_srt;
    } else {
      bfqq->wr_coeff = 1;
    }
  }
  bfqq->entity.prio_changed = true;
  if (!busy) return;
  if (old_wr_coeff == 1 && bfqq->wr_coeff > 1)
    bfqd->wr_busy_queues++;
  else if (old_wr_coeff > 1 && bfqq->wr_coeff == 1)
    bfqd->wr_busy_queues--;
}

}  // namespace

// bfq_put_cooperator: the references a planned merge took on its chain.
void bfq_put_cooperator(BfqQueue* bfqq) {
  BfqQueue* q = bfqq->new_bfqq;
  while (q) {
    BfqQueue* next = q->new_bfqq;
    bfq_put_queue(q);
    q = next;
  }
}

namespace {

// bfq_get_queue: a new sync queue, or the shared async queue of the class
// and level; with a process reference.
BfqQueue* bfq_get_queue(BfqData* bfqd, BfqIoCq* bic, BfqGroup* bfqg, bool is_sync, int pid,
                        bool respawn = false) {
  BfqQueue** async_bfqq = nullptr;
  if (!is_sync) {
    async_bfqq =
        bfq_async_queue_prio(bfqg, task::prio_class(bic->ioprio), task::prio_level(bic->ioprio));
    if (async_bfqq && *async_bfqq) {
      (*async_bfqq)->ref++;
      return *async_bfqq;
    }
  }
  auto* bfqq = new BfqQueue;
  bfq_init_bfqq(bfqd, bfqq, bic, pid, is_sync);
  bfq_init_entity(&bfqq->entity, bfqg);
  if (async_bfqq) {
    bfqq->ref++;  // the group's reference, until the scheduler goes
    *async_bfqq = bfqq;
  }
  bfqq->ref++;
  if (is_sync && !respawn) bfqq = bfq_do_or_sched_stable_merge(bfqd, bfqq, bic);
  return bfqq;
}

// bfq_check_ioprio_change: a new priority moves the process to another
// async queue and re-weights its sync queue at its next activation.
void bfq_check_ioprio_change(BfqData* bfqd, BfqIoCq* bic, BfqGroup* bfqg, int ioprio, int pid) {
  if (bic->ioprio == ioprio) return;
  bic->ioprio = ioprio;
  if (BfqQueue* bfqq = bic->bfqq[0]) {
    bfq_release_process_ref(bfqd, bfqq);
    bic->bfqq[0] = bfq_get_queue(bfqd, bic, bfqg, false, pid);
  }
  if (BfqQueue* bfqq = bic->bfqq[1]) bfq_set_next_ioprio_data(bfqq, bic);
}

void bfq_exit_icq_bfqq(BfqIoCq* bic, bool is_sync) {
  BfqQueue* bfqq = bic->bfqq[is_sync];
  if (!bfqq) return;
  BfqData* bfqd = bic->bfqd;
  core::LockGuard g(bfqd->lock);
  bic_set_bfqq(bic, nullptr, is_sync);
  // bfq_exit_bfqq
  if (bfqq == bfqd->in_service_queue) {
    bfq_bfqq_expire_raw(bfqd, bfqq, BfqExpire::BUDGET_TIMEOUT);
    bfq_schedule_dispatch(bfqd);
  }
  bfq_put_cooperator(bfqq);
  bfq_release_process_ref(bfqd, bfqq);
}

void bfq_exit_icq(task::IoCq* icq) {
  BfqIoCq* bic = icq_to_bic(icq);
  if (bic->stable_merge_bfqq) {
    core::LockGuard g(bic->bfqd->lock);
    bfq_put_stable_ref(bic->stable_merge_bfqq);
    bic->stable_merge_bfqq = nullptr;
  }
  bfq_exit_icq_bfqq(bic, true);
  bfq_exit_icq_bfqq(bic, false);
}

void bfq_free_icq(task::IoCq* icq) { delete icq_to_bic(icq); }

}  // namespace

int bfqq_process_refs(const BfqQueue* bfqq) {
  return bfqq->ref - bfqq->allocated - (bfqq->entity.on_st_or_in_serv ? 1 : 0) -
         (bfqq->weight_counter ? 1 : 0) - bfqq->stable_ref;
}

void bfq_release_process_ref(BfqData* bfqd, BfqQueue* bfqq) {
  // Nobody will send it requests: no point keeping an empty queue busy.
  if (bfqq->has(BFQQF_busy) && bfqq->sort_list.empty() && bfqq != bfqd->in_service_queue)
    bfq_del_bfqq_busy(bfqd, bfqq, false);
  BfqQueue** last = bfq_last_created_slot(bfqq);
  if (*last == bfqq) *last = nullptr;
  bfq_put_queue(bfqq);
}

void bfq_put_async_queues(BfqData*, BfqGroup* bfqg) {
  for (auto& cls : bfqg->async_bfqq)
    for (BfqQueue*& bfqq : cls)
      if (bfqq) {
        bfq_put_queue(bfqq);
        bfqq = nullptr;
      }
  if (bfqg->async_idle_bfqq) {
    bfq_put_queue(bfqg->async_idle_bfqq);
    bfqg->async_idle_bfqq = nullptr;
  }
}

// bfq_handle_burst: queues created within burst_interval of each other form
// a burst; from large_burst_thresh queues on, the burst is large and its
// queues are neither raised nor (for throughput's sake) idled for alone.
void bfq_handle_burst(BfqData* bfqd, BfqQueue* bfqq) {
  const std::uint64_t now = jiffies(bfqd);
  // Already in the burst, or split (from a merge) less than 10 ms ago.
  if (bfqq->burst_node.linked() || bfqq->has(BFQQF_in_large_burst) ||
      !time_before(bfqq->split_time + 10 * core::kNsPerMs, now))
    return;
  if (time_before(bfqd->last_ins_in_burst + bfqd->burst_interval, now)) {
    // bfq_reset_burst_list: a new burst, maybe starting with bfqq.
    bfqd->large_burst = false;
    while (!bfqd->burst_list.empty()) bfqd->burst_list.first()->del();
    if (bfq_tot_busy_queues(bfqd) == 0) {
      bfqq->burst_node.add_head(&bfqd->burst_list);
      bfqd->burst_size = 1;
    } else {
      bfqd->burst_size = 0;
    }
  } else if (bfqd->large_burst) {
    bfqq->mark(BFQQF_in_large_burst);
  } else if (++bfqd->burst_size == bfqd->large_burst_thresh) {
    // bfq_add_to_burst: large now; mark everyone and drop the list.
    bfqd->large_burst = true;
    for (core::ListHead* n = bfqd->burst_list.first(); n != &bfqd->burst_list; n = n->next)
      core::list_entry<BfqQueue, &BfqQueue::burst_node>(n)->mark(BFQQF_in_large_burst);
    bfqq->mark(BFQQF_in_large_burst);
    while (!bfqd->burst_list.empty()) bfqd->burst_list.first()->del();
  } else {
    bfqq->burst_node.add_head(&bfqd->burst_list);
  }
  bfqd->last_ins_in_burst = now;
}

// bfq_init_rq: the request's queue, set up at insertion or merge time.
BfqQueue* bfq_init_rq(BfqData* bfqd, Request* rq) {
  BfqIoCq* bic = rq_bic(rq);
  if (!bic) return nullptr;
  if (BfqQueue* bfqq = rq_bfqq(rq)) return bfqq;
  const bool is_sync = block::rq_is_sync(rq);
  // The cgroup first (the kernel checks the priority first, with the
  // bio's group at hand; the queues end up in the same places).
  bfq_bic_update_cgroup(bfqd, bic, rq->bio ? rq->bio->bi_blkcg : nullptr);
  BfqGroup* bfqg = bic->bfqg;
  bfq_check_ioprio_change(bfqd, bic, bfqg, rq->ioprio, rq->pid);
  BfqQueue* bfqq = bic->bfqq[is_sync];
  bool split = false, already_existing = false;
  if (!bfqq) {
    bfqq = bfq_get_queue(bfqd, bic, bfqg, is_sync, rq->pid);
    bic_set_bfqq(bic, bfqq, is_sync);
  } else if (bfqq->has(BFQQF_coop) && bfqq->has(BFQQF_split_coop) && !bic->stably_merged) {
    // The shared queue went seeky: this process gets its own queue back.
    if (bfqq->has(BFQQF_in_large_burst)) bic->saved_in_large_burst = true;
    split = true;
    if (bfqq_process_refs(bfqq) == 1) {  // bfq_split_bfqq: the last one keeps it
      bfqq->pid = rq->pid;
      bfqq->clear(BFQQF_coop);
      bfqq->clear(BFQQF_split_coop);
      already_existing = true;
    } else {
      bic_set_bfqq(bic, nullptr, true);
      bfq_put_cooperator(bfqq);
      bfq_release_process_ref(bfqd, bfqq);
      bfqq = bfq_get_queue(bfqd, bic, bfqg, is_sync, rq->pid, true);
      bic_set_bfqq(bic, bfqq, is_sync);
      if (bic->saved_in_large_burst)
        bfqq->mark(BFQQF_in_large_burst);
      else
        bfqq->clear(BFQQF_in_large_burst);
      bfqq->split_time = jiffies(bfqd);
    }
  }
  bfqq->allocated++;
  bfqq->ref++;
  bic->requests++;
  rq->elv_priv[1] = bfqq;
  // Owned by this process alone.
  if (!bfqq->new_bfqq && bfqq_process_refs(bfqq) == 1) {
    bfqq->bic = bic;
    if (split) bfq_bfqq_resume_state(bfqd, bfqq, bic, already_existing);
  }
  // A new queue may belong to a burst, if one is going on or nothing else
  // is active.
  if (bfqq->has(BFQQF_just_created) && (bfqd->burst_size > 0 || bfq_tot_busy_queues(bfqd) == 0))
    bfq_handle_burst(bfqd, bfqq);
  return bfqq;
}

BfqQueue* bfq_setup_cooperator(BfqData* bfqd, BfqQueue* bfqq, BfqIoCq* bic, block::sector_t pos) {
  if (bfqq->new_bfqq) return bfqq->new_bfqq;
  // Stable merging, once both queues have run for a while.
  const std::uint64_t late = kStableMergingMs * core::kNsPerMs;
  const std::uint64_t now = jiffies(bfqd);
  if (!bfqd->nonrot_with_queueing && bic && bfqq->has(BFQQF_sync) && bic->stable_merge_bfqq &&
      !bfqq->has(BFQQF_just_created) && time_before(bfqq->split_time + late, now) &&
      time_before(bfqq->creation_time + late, now))
    return bfq_setup_stable_merge(bfqd, bfqq, bic->stable_merge_bfqq, bic);
  // Interleaved I/O of cooperating processes: a queue whose next request is
  // close to this one's (a device that reorders by itself needs no help).
  if (bfqd->nonrot_with_queueing || bfq_too_late_for_merging(bfqd, bfqq) ||
      bfq_tot_busy_queues(bfqd) == 1)
    return nullptr;
  BfqQueue* in_serv = bfqd->in_service_queue;
  if (in_serv && in_serv != bfqq && close_to(pos, bfqd->in_serv_last_pos) &&
      bfq_may_be_close_cooperator(bfqd, bfqq, in_serv))
    if (BfqQueue* new_bfqq = bfq_setup_merge(bfqq, in_serv)) return new_bfqq;
  BfqQueue* close = bfqq_find_close(bfqq, pos);
  if (close && close != bfqq && bfq_may_be_close_cooperator(bfqd, bfqq, close))
    return bfq_setup_merge(bfqq, close);
  return nullptr;
}

bool bfq_too_late_for_merging(const BfqData* bfqd, const BfqQueue* bfqq) {
  // True cooperators start their I/O within bfq_merge_time_limit (HZ/10).
  return bfqq->service_from_backlogged > 0 &&
         time_before(bfqq->first_IO_time + core::kNsPerSec / 10, jiffies(bfqd));
}

void bfq_pos_tree_add_move(BfqData* bfqd, BfqQueue* bfqq) {
  if (bfqq->pos_node.is_linked()) bfqq->pos_root->erase(bfqq->pos_root->iterator_to(*bfqq));
  if (bfq_too_late_for_merging(bfqd, bfqq) || bfq_class_idle(bfqq) || !bfqq->next_rq) return;
  BfqPosTree* tree = &bfqq_group(bfqq)->rq_pos_tree;
  // One queue per position.
  if (tree->find(block::blk_rq_pos(bfqq->next_rq)) != tree->end()) return;
  bfqq->pos_root = tree;
  tree->insert(*bfqq);
}

void bfq_merge_bfqqs(BfqData* bfqd, BfqIoCq* bic, BfqQueue* bfqq, BfqQueue* new_bfqq) {
  // Both processes' states, to restore them if the queue is split again.
  bfq_bfqq_save_state(bfqd, bfqq);
  bfq_bfqq_save_state(bfqd, new_bfqq);
  if (bfqq->has(BFQQF_IO_bound)) new_bfqq->mark(BFQQF_IO_bound);
  bfqq->clear(BFQQF_IO_bound);
  // The shared queue inherits a raising period in progress.
  if (new_bfqq->wr_coeff == 1 && bfqq->wr_coeff > 1) {
    new_bfqq->wr_coeff = bfqq->wr_coeff;
    new_bfqq->wr_cur_max_time = bfqq->wr_cur_max_time;
    new_bfqq->last_wr_start_finish = bfqq->last_wr_start_finish;
    new_bfqq->wr_start_at_switch_to_srt = bfqq->wr_start_at_switch_to_srt;
    if (new_bfqq->has(BFQQF_busy)) bfqd->wr_busy_queues++;
    new_bfqq->entity.prio_changed = true;
  }
  if (bfqq->wr_coeff > 1) {
    bfqq->wr_coeff = 1;
    bfqq->entity.prio_changed = true;
    if (bfqq->has(BFQQF_busy)) bfqd->wr_busy_queues--;
  }
  bic_set_bfqq(bic, new_bfqq, true);
  new_bfqq->mark(BFQQF_coop);
  new_bfqq->bic = nullptr;  // shared: no single process owns it
  new_bfqq->pid = -1;
  bfqq->bic = nullptr;
  BfqQueue** last = bfq_last_created_slot(bfqq);
  if (*last == bfqq) *last = new_bfqq;
  bfq_release_process_ref(bfqd, bfqq);
}

}  // namespace bfq

void Bfq::assign_ioc(Request* rq, task::IoContext* ioc) {
  rq->elv_priv[0] = rq->elv_priv[1] = nullptr;
  if (!ioc) return;
  auto* bic = reinterpret_cast<BfqIoCq*>(task::ioc_lookup_icq(ioc, &d_));
  if (!bic) {
    auto* fresh = new BfqIoCq;
    fresh->icq.q = &d_;
    fresh->icq.exit_icq = &bfq::bfq_exit_icq;
    fresh->icq.free_icq = &bfq::bfq_free_icq;
    fresh->bfqd = &d_;
    bic = reinterpret_cast<BfqIoCq*>(task::ioc_insert_icq(ioc, &fresh->icq, &d_.icqs));
    if (bic != fresh) delete fresh;
  }
  task::get_io_context(ioc);
  rq->elv_priv[0] = bic;
}

void Bfq::prepare_request(Request* rq) { assign_ioc(rq, task::current_io_context()); }

}  // namespace iostack::sched
