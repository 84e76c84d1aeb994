// The functions of block/bfq-iosched.c and bfq-wf2q.c that the bfq source
// files share; all run with bfqd->lock held.
#pragma once

#include "sched/bfq.hpp"

namespace iostack::sched::bfq {

// Time: jiffies-based fields use the coarse clock, the rest the fine one
// (both in ns here).
std::uint64_t jiffies(const BfqData* bfqd);
std::uint64_t ktime(const BfqData* bfqd);
// time_after(a, b) and friends on wrapping ns clocks.
inline bool time_after(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::int64_t>(b - a) < 0;
}
inline bool time_before(std::uint64_t a, std::uint64_t b) { return time_after(b, a); }
// bfq_smallest_from_now: the farthest past instant the comparisons handle.
inline std::uint64_t smallest_from_now(std::uint64_t now) {
  return now - (static_cast<std::uint64_t>(INT64_MAX) >> 1);
}

inline BfqQueue* rq_bfqq(const block::Request* rq) {
  return static_cast<BfqQueue*>(rq->elv_priv[1]);
}
inline BfqIoCq* rq_bic(const block::Request* rq) { return static_cast<BfqIoCq*>(rq->elv_priv[0]); }
inline bool bfq_class_idle(const BfqQueue* bfqq) { return bfqq->ioprio_class == 3; }
inline BfqQueue* bfq_entity_to_bfqq(const BfqEntity* e) { return e->bfqq; }
// Index of the service tree: RT 0, BE 1, IDLE 2; groups are BE
// (BFQ_DEFAULT_GRP_CLASS).
inline unsigned bfq_class_idx(const BfqEntity* e) {
  return e->bfqq ? e->bfqq->ioprio_class - 1u : 1u;
}
// bfqq_group: the group the queue is scheduled in.
inline BfqGroup* bfqq_group(const BfqQueue* bfqq) { return bfqq->entity.sched_data->group; }
// Where the queue's group remembers its newest queue (stable merging).
inline BfqQueue** bfq_last_created_slot(BfqQueue* bfqq) {
  return bfqq->entity.parent ? &bfqq->entity.parent->last_bfqq_created
                             : &bfqq->bfqd->last_bfqq_created;
}
inline int bfq_bfqq_budget_left(const BfqQueue* bfqq) {
  return bfqq->entity.budget - bfqq->entity.service;
}
inline unsigned bfq_tot_busy_queues(const BfqData* bfqd) {
  return bfqd->busy_queues[0] + bfqd->busy_queues[1] + bfqd->busy_queues[2];
}
// BFQQ_SEEKY: more than 19 of the last 32 requests were seeky.
inline bool bfqq_seeky(const BfqQueue* bfqq) { return __builtin_popcount(bfqq->seek_history) > 19; }

// --- bfq_wf2q.cpp ---
BfqServiceTree* bfq_entity_service_tree(BfqData* bfqd, BfqEntity* e);
void bfq_bfqq_served(BfqQueue* bfqq, int served);
void bfq_bfqq_charge_time(BfqData* bfqd, BfqQueue* bfqq, unsigned long time_ms);
void bfq_activate_bfqq(BfqData* bfqd, BfqQueue* bfqq);
void bfq_requeue_bfqq(BfqData* bfqd, BfqQueue* bfqq, bool expiration);
void bfq_deactivate_bfqq(BfqData* bfqd, BfqQueue* bfqq, bool ins_into_idle_tree, bool expiration);
void bfq_del_bfqq_busy(BfqData* bfqd, BfqQueue* bfqq, bool expiration);
void bfq_add_bfqq_busy(BfqData* bfqd, BfqQueue* bfqq);
BfqQueue* bfq_get_next_queue(BfqData* bfqd);
// Returns true when bfqq was freed.
bool bfq_bfqd_reset_in_service(BfqData* bfqd);
bool next_queue_may_preempt(BfqData* bfqd);
void bfq_entity_update_weight_prio(BfqData* bfqd, BfqEntity* e, bool update_class_too);
void bfq_weights_tree_add(BfqData* bfqd, BfqQueue* bfqq);
void bfq_weights_tree_remove(BfqData* bfqd, BfqQueue* bfqq);
void bfq_forget_all_idle(BfqData* bfqd, BfqGroup* bfqg);
// bfq_put_idle_entity: off the idle tree and forgotten.
void bfq_put_idle_entity(BfqServiceTree* st, BfqEntity* e);
void bfq_add_bfqq_in_groups_with_pending_reqs(BfqQueue* bfqq);
void bfq_del_bfqq_in_groups_with_pending_reqs(BfqQueue* bfqq);
// The parents of an expired queue start their next turn with no service.
void bfq_reset_parents_service(BfqQueue* bfqq);

// --- bfq_cgroup.cpp ---
void bfq_init_root_group(BfqData* bfqd);
// bfq_bio_bfqg + bfq_link_bfqg: the group of cgroup `cg`, made (with its
// parents) on first use.
BfqGroup* bfq_lookup_create_group(BfqData* bfqd, const task::Blkcg* cg);
// bfq_init_entity: a new queue is scheduled in `bfqg`.
void bfq_init_entity(BfqEntity* e, BfqGroup* bfqg);
// The cgroup's weight written since the group last looked: its new weight,
// applied at its next (re)queueing (bfq_group_set_weight).
void bfqg_check_weight(BfqGroup* bfqg);
// bfq_bic_update_cgroup: the process's queues follow it to `cg`.
void bfq_bic_update_cgroup(BfqData* bfqd, BfqIoCq* bic, const task::Blkcg* cg);
// The groups, root first then by cgroup.
template <typename Fn>
void bfq_for_each_group(BfqData* bfqd, Fn&& fn) {
  fn(&bfqd->root_group);
  for (auto& [cg, g] : bfqd->groups) fn(g.get());
}

// --- bfq.cpp ---
int bfq_serv_to_charge(BfqData* bfqd, block::Request* rq, BfqQueue* bfqq);
void bfq_remove_request(BfqData* bfqd, block::Request* rq);
void bfq_insert_request(BfqData* bfqd, block::Request* rq);  // __bfq_insert_request
block::Request* bfq_dispatch(BfqData* bfqd);                 // __bfq_dispatch_request
void bfq_completed_request(BfqData* bfqd, BfqQueue* bfqq);
void bfq_update_inject_limit(BfqData* bfqd, BfqQueue* bfqq);
void bfq_idle_slice_timer(BfqData* bfqd);
void bfq_run_queues(BfqData* bfqd);  // blk_mq_run_hw_queues, or the tests' hook
void bfq_put_queue(BfqQueue* bfqq);
bool bfq_asymmetric_scenario(BfqData* bfqd, BfqQueue* bfqq);
void bfq_schedule_dispatch(BfqData* bfqd);
void bfq_bfqq_expire(BfqData* bfqd, BfqQueue* bfqq, bool compensate, BfqExpire reason);
bool bfq_bfqq_expire_raw(BfqData* bfqd, BfqQueue* bfqq, BfqExpire reason);  // __bfq_bfqq_expire
int bfq_calc_max_budget(const BfqData* bfqd);
// The auto-tuned max budget once enough budgets were assigned, else the default.
int bfq_max_budget(const BfqData* bfqd);
// The duration of interactive weight raising: reference duration scaled
// by the reference rate over the estimated peak rate, within 3..25 s.
std::uint64_t bfq_wr_duration(const BfqData* bfqd);
void bfq_end_wr(BfqData* bfqd);

// --- bfq_ioc.cpp ---
BfqQueue* bfq_init_rq(BfqData* bfqd, block::Request* rq);
void bfq_release_process_ref(BfqData* bfqd, BfqQueue* bfqq);
void bfq_put_async_queues(BfqData* bfqd, BfqGroup* bfqg);
void bic_set_bfqq(BfqIoCq* bic, BfqQueue* bfqq, bool is_sync);
void bfq_put_cooperator(BfqQueue* bfqq);
int bfqq_process_refs(const BfqQueue* bfqq);
// bfq_setup_cooperator, stable merging only: the queue `bfqq`'s process is
// to be merged into now, or nullptr.
// `pos`: where the request or bio being queued starts.
BfqQueue* bfq_setup_cooperator(BfqData* bfqd, BfqQueue* bfqq, BfqIoCq* bic, block::sector_t pos);
// bfq_pos_tree_add_move: (re)files bfqq by its next request's position.
void bfq_pos_tree_add_move(BfqData* bfqd, BfqQueue* bfqq);
bool bfq_too_late_for_merging(const BfqData* bfqd, const BfqQueue* bfqq);
// bfq_merge_bfqqs: the process of `bic` moves from bfqq to new_bfqq.
void bfq_merge_bfqqs(BfqData* bfqd, BfqIoCq* bic, BfqQueue* bfqq, BfqQueue* new_bfqq);
bool idling_boosts_thr_without_issues(BfqData* bfqd, BfqQueue* bfqq);

}  // namespace iostack::sched::bfq
