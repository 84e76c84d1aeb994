// bfq's cgroup support (block/bfq-cgroup.c): a group per io cgroup, nested
// as the cgroups are, weighted by io.bfq.weight; processes' queues follow
// them from group to group.
#include "block/disk.hpp"
#include "block/request_queue.hpp"
#include "sched/bfq_internal.hpp"
#include "task/blkcg.hpp"

namespace iostack::sched::bfq {

namespace {

// The weight io.bfq.weight gives the cgroup on this queue's disk.
unsigned bfqg_cgroup_weight(const BfqGroup* bfqg) {
  const block::Disk* disk = bfqg->bfqd->queue ? bfqg->bfqd->queue->disk() : nullptr;
  return task::blkcg_bfq_weight(bfqg->blkcg, disk ? disk->major() : 0, disk ? disk->minor() : 0);
}

// bfq_bfqq_move: bfqq leaves its group (not for the idle tree) for bfqg.
void bfq_bfqq_move(BfqData* bfqd, BfqQueue* bfqq, BfqGroup* bfqg) {
  BfqEntity* e = &bfqq->entity;
  if (bfqq_group(bfqq) == bfqg) return;
  bfqq->ref++;  // the deactivation may drop the last other reference
  // Its pending requests count for the new group from now on.
  const bool pending = e->in_groups_with_pending_reqs;
  bfq_del_bfqq_in_groups_with_pending_reqs(bfqq);
  if (bfqq == bfqd->in_service_queue) bfq_bfqq_expire(bfqd, bfqq, false, BfqExpire::PREEMPTED);
  if (bfqq->has(BFQQF_busy))
    bfq_deactivate_bfqq(bfqd, bfqq, false, false);
  else if (e->on_st_or_in_serv)
    bfq_put_idle_entity(bfq_entity_service_tree(bfqd, e), e);
  BfqQueue** last = bfq_last_created_slot(bfqq);
  if (*last == bfqq) *last = nullptr;
  if (bfqq->pos_node.is_linked()) bfqq->pos_root->erase(bfqq->pos_root->iterator_to(*bfqq));
  bfq_init_entity(e, bfqg);
  if (pending) bfq_add_bfqq_in_groups_with_pending_reqs(bfqq);
  if (bfqq->has(BFQQF_busy)) {
    if (!bfqd->nonrot_with_queueing) bfq_pos_tree_add_move(bfqd, bfqq);
    bfq_activate_bfqq(bfqd, bfqq);
  }
  if (!bfqd->in_service_queue && !bfqd->rq_in_driver) bfq_schedule_dispatch(bfqd);
  bfq_put_queue(bfqq);
}

// bfq_sync_bfqq_move: a merged queue is not moved (other processes use
// it); the process leaves it if its merge chain spans groups.
void bfq_sync_bfqq_move(BfqData* bfqd, BfqQueue* sync_bfqq, BfqIoCq* bic, BfqGroup* bfqg) {
  if (!sync_bfqq->new_bfqq && !sync_bfqq->has(BFQQF_coop)) {
    bfq_bfqq_move(bfqd, sync_bfqq, bfqg);
    return;
  }
  for (BfqQueue* q = sync_bfqq; q; q = q->new_bfqq) {
    if (q->entity.sched_data == &bfqg->sched_data) continue;
    bfq_put_cooperator(sync_bfqq);
    bic_set_bfqq(bic, nullptr, true);
    bfq_release_process_ref(bfqd, sync_bfqq);
    return;
  }
}

}  // namespace

void bfq_init_root_group(BfqData* bfqd) {
  BfqGroup* root = &bfqd->root_group;
  root->bfqd = bfqd;
  root->sched_data.group = root;
  root->entity.my_sched_data = &root->sched_data;
  root->my_entity = nullptr;
}

BfqGroup* bfq_lookup_create_group(BfqData* bfqd, const task::Blkcg* cg) {
  if (!cg) return &bfqd->root_group;
  auto it = bfqd->groups.find(cg);
  if (it != bfqd->groups.end()) return it->second.get();
  BfqGroup* parent = bfq_lookup_create_group(bfqd, cg->parent);
  auto g = std::make_unique<BfqGroup>();
  // bfq_pd_init
  g->bfqd = bfqd;
  g->blkcg = cg;
  g->sched_data.group = g.get();
  g->my_entity = &g->entity;
  g->entity.my_sched_data = &g->sched_data;
  g->weight_gen = cg->bfq_weight_gen.load(std::memory_order_acquire);
  g->entity.weight = g->entity.orig_weight = g->entity.new_weight = bfqg_cgroup_weight(g.get());
  // bfq_group_set_parent
  g->entity.parent = parent->my_entity;
  g->entity.sched_data = &parent->sched_data;
  return bfqd->groups.emplace(cg, std::move(g)).first->second.get();
}

void bfq_init_entity(BfqEntity* e, BfqGroup* bfqg) {
  e->parent = bfqg->my_entity;
  e->sched_data = &bfqg->sched_data;
}

void bfqg_check_weight(BfqGroup* bfqg) {
  if (!bfqg->blkcg) return;
  const std::uint64_t gen = bfqg->blkcg->bfq_weight_gen.load(std::memory_order_acquire);
  if (gen == bfqg->weight_gen) return;
  bfqg->weight_gen = gen;
  // bfq_group_set_weight: flag only a real change (the flag with an
  // unchanged weight would reset a queue's weight to its priority's).
  const unsigned w = bfqg_cgroup_weight(bfqg);
  if (w == bfqg->entity.new_weight) return;
  bfqg->entity.new_weight = w;
  bfqg->entity.prio_changed = true;
}

void bfq_bic_update_cgroup(BfqData* bfqd, BfqIoCq* bic, const task::Blkcg* cg) {
  // The root's css has serial number 1.
  const std::uint64_t serial = cg ? cg->serial : 1;
  if (bic->blkcg_serial == serial) return;
  BfqGroup* bfqg = bfq_lookup_create_group(bfqd, cg);
  bic->bfqg = bfqg;
  // __bfq_bic_change_cgroup
  if (BfqQueue* async_bfqq = bic->bfqq[0];
      async_bfqq && async_bfqq->entity.sched_data != &bfqg->sched_data) {
    bic_set_bfqq(bic, nullptr, false);
    bfq_release_process_ref(bfqd, async_bfqq);
  }
  if (BfqQueue* sync_bfqq = bic->bfqq[1];
      sync_bfqq && sync_bfqq->entity.sched_data != &bfqg->sched_data)
    bfq_sync_bfqq_move(bfqd, sync_bfqq, bic, bfqg);
  bic->blkcg_serial = serial;
}

}  // namespace iostack::sched::bfq
