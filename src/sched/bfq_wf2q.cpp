// Hierarchical B-WF2Q+ (block/bfq-wf2q.c): virtual start and finish times,
// the active and idle trees of each class in each group, the choice of the
// next queue to serve from the root down, and the busy-queue bookkeeping.
#include "core/clock.hpp"
#include "sched/bfq_internal.hpp"

namespace iostack::sched::bfq {

namespace {

constexpr unsigned kServiceShift = 22;  // WFQ_SERVICE_SHIFT
// BFQ_CL_IDLE_TIMEOUT (HZ / 5): the idle class is served at least this often.
constexpr std::uint64_t kClassIdleTimeout = core::kNsPerSec / 5;

// bfq_delta: service mapped to virtual time.
std::uint64_t bfq_delta(unsigned long service, unsigned long weight) {
  return (static_cast<std::uint64_t>(service) << kServiceShift) / weight;
}

void bfq_calc_finish(BfqEntity* e, unsigned long service) {
  e->finish = e->start + bfq_delta(service, e->weight);
}

BfqGroup* entity_group(const BfqEntity* e) { return e->my_sched_data->group; }
BfqData* sd_bfqd(const BfqSchedData* sd) { return sd->group->bfqd; }

void bfq_get_entity(BfqEntity* e) {
  if (e->bfqq) e->bfqq->ref++;
}

// bfq_inc/dec_active_entities: a group counts its active children (the root
// group does not need to).
void bfq_inc_active_entities(BfqEntity* e) {
  BfqGroup* g = e->sched_data->group;
  if (g != &g->bfqd->root_group) g->active_entities++;
}
void bfq_dec_active_entities(BfqEntity* e) {
  BfqGroup* g = e->sched_data->group;
  if (g != &g->bfqd->root_group) g->active_entities--;
}

void bfq_active_insert(BfqServiceTree* st, BfqEntity* e) {
  st->active.insert(*e);
  e->tree = BfqEntity::Tree::ACTIVE;
  if (BfqQueue* bfqq = e->bfqq) bfqq->active_node.add_head(&bfqq->bfqd->active_list);
  bfq_inc_active_entities(e);
}

void bfq_active_extract(BfqServiceTree* st, BfqEntity* e) {
  st->active.erase(st->active.iterator_to(*e));
  e->tree = BfqEntity::Tree::NONE;
  if (BfqQueue* bfqq = e->bfqq) bfqq->active_node.del();
  bfq_dec_active_entities(e);
}

void bfq_idle_insert(BfqServiceTree* st, BfqEntity* e) {
  st->idle.insert(*e);
  e->tree = BfqEntity::Tree::IDLE;
}

void bfq_idle_extract(BfqServiceTree* st, BfqEntity* e) {
  st->idle.erase(st->idle.iterator_to(*e));
  e->tree = BfqEntity::Tree::NONE;
}

// bfq_forget_entity: off every tree; a queue drops its service-tree
// reference unless still in service (reset_in_service drops it then).
void bfq_forget_entity(BfqServiceTree* st, BfqEntity* e, bool is_in_service) {
  e->on_st_or_in_serv = false;
  st->wsum -= e->weight;
  if (e->bfqq && !is_in_service) bfq_put_queue(e->bfqq);
}

// bfq_forget_idle: once the virtual time passes an idle entity's finish
// time it has nothing to recover; forget one per call, or the whole idle
// tree when nothing is active.
void bfq_forget_idle(BfqServiceTree* st) {
  if (st->active.empty() && !st->idle.empty()) {
    BfqEntity& last = *st->idle.rbegin();
    if (!bfq_gt(last.finish, st->vtime)) st->vtime = last.finish;
  }
  if (!st->idle.empty()) {
    BfqEntity& first = *st->idle.begin();
    if (!bfq_gt(first.finish, st->vtime)) bfq_put_idle_entity(st, &first);
  }
}

void bfq_update_fin_time_enqueue(BfqData* bfqd, BfqEntity* e, bool backshifted) {
  // The entity is on no tree: its class (or a group its weight) may change now.
  if (!e->bfqq) bfqg_check_weight(entity_group(e));
  bfq_entity_update_weight_prio(bfqd, e, true);
  BfqServiceTree* st = bfq_entity_service_tree(bfqd, e);
  bfq_calc_finish(e, static_cast<unsigned long>(e->budget));
  // Back-shifted timestamps may have fallen far behind the virtual time:
  // push them up to it (less so for weight-raised queues).
  if (backshifted && bfq_gt(st->vtime, e->finish)) {
    std::uint64_t delta = st->vtime - e->finish;
    if (e->bfqq) delta /= e->bfqq->wr_coeff;
    e->start += delta;
    e->finish += delta;
  }
  bfq_active_insert(st, e);
}

// __bfq_activate_entity: a true activation, maybe from the idle tree.
void bfq_activate_entity(BfqData* bfqd, BfqEntity* e, bool non_blocking_wait_rq) {
  BfqServiceTree* st = bfq_entity_service_tree(bfqd, e);
  bool backshifted = false;
  std::uint64_t min_vstart;
  if (non_blocking_wait_rq && bfq_gt(st->vtime, e->finish)) {
    backshifted = true;
    min_vstart = e->finish;
  } else {
    min_vstart = st->vtime;
  }
  if (e->tree == BfqEntity::Tree::IDLE) {
    bfq_idle_extract(st, e);
    e->start = bfq_gt(min_vstart, e->finish) ? min_vstart : e->finish;
  } else {
    // Its finish time is in the past, or it would still be on the idle tree.
    e->start = min_vstart;
    st->wsum += e->weight;
    bfq_get_entity(e);
    e->on_st_or_in_serv = true;
  }
  bfq_update_fin_time_enqueue(bfqd, e, backshifted);
}

// __bfq_requeue_entity: after service (start moves past what was served),
// or a group whose budget changed with its next child.
void bfq_requeue_entity(BfqData* bfqd, BfqEntity* e) {
  BfqServiceTree* st = bfq_entity_service_tree(bfqd, e);
  if (e == e->sched_data->in_service_entity) {
    bfq_calc_finish(e, static_cast<unsigned long>(e->service));
    e->start = e->finish;
    // A group with several active children stayed on its tree.
    if (e->tree == BfqEntity::Tree::ACTIVE) bfq_active_extract(st, e);
  } else {
    bfq_active_extract(st, e);
  }
  bfq_update_fin_time_enqueue(bfqd, e, false);
}

void bfq_activate_requeue_entity_one(BfqData* bfqd, BfqEntity* e, bool non_blocking_wait_rq) {
  if (e->sched_data->in_service_entity == e || e->tree == BfqEntity::Tree::ACTIVE)
    bfq_requeue_entity(bfqd, e);
  else
    bfq_activate_entity(bfqd, e, non_blocking_wait_rq);
}

void bfq_update_vtime(BfqServiceTree* st, std::uint64_t new_value) {
  if (new_value > st->vtime) {
    st->vtime = new_value;
    bfq_forget_idle(st);
  }
}

// bfq_calc_vtime_jump: the virtual time at which some entity is eligible.
std::uint64_t bfq_calc_vtime_jump(BfqServiceTree* st) {
  bool any = false;
  std::uint64_t min_start = 0;
  for (BfqEntity& e : st->active)
    if (!any || bfq_gt(min_start, e.start)) {
      min_start = e.start;
      any = true;
    }
  return any && bfq_gt(min_start, st->vtime) ? min_start : st->vtime;
}

// bfq_first_active_entity: the eligible entity with the smallest finish.
BfqEntity* bfq_first_active_entity(BfqServiceTree* st, std::uint64_t vtime) {
  for (BfqEntity& e : st->active)
    if (!bfq_gt(e.start, vtime)) return &e;
  return nullptr;
}

BfqEntity* lookup_in_tree(BfqServiceTree* st, bool in_service) {
  if (st->active.empty()) return nullptr;
  const std::uint64_t new_vtime = bfq_calc_vtime_jump(st);
  // With an entity in service, that one is eligible already: leave vtime.
  if (!in_service) bfq_update_vtime(st, new_vtime);
  return bfq_first_active_entity(st, new_vtime);
}

// bfq_lookup_next_entity: RT before BE before IDLE, except that the idle
// class gets a turn when it has not been served for BFQ_CL_IDLE_TIMEOUT.
BfqEntity* bfq_lookup_next_entity(BfqSchedData* sd, bool expiration) {
  BfqServiceTree* idle_st = &sd->service_tree[kBfqClasses - 1];
  unsigned class_idx = 0;
  const std::uint64_t now = jiffies(sd_bfqd(sd));
  if (time_before(sd->class_idle_last_service + kClassIdleTimeout, now)) {
    if (!idle_st->active.empty()) class_idx = kBfqClasses - 1;
    sd->class_idle_last_service = now;
  }
  for (; class_idx < kBfqClasses; ++class_idx)
    if (BfqEntity* e =
            lookup_in_tree(&sd->service_tree[class_idx], sd->in_service_entity && !expiration))
      return e;
  return nullptr;
}

// bfq_update_parent_budget: a group's budget is that of its next child;
// a smaller one may let the group go before others at its parent's level.
bool bfq_update_parent_budget(BfqEntity* next_in_service) {
  BfqEntity* group_entity = next_in_service->sched_data->group->my_entity;
  if (!group_entity) return false;  // the root group is never in service
  const bool ret = group_entity->budget > next_in_service->budget;
  group_entity->budget = next_in_service->budget;
  return ret;
}

// bfq_no_longer_next_in_service: an entity set in service leaves its tree,
// unless it is a group whose other active children may come next.
bool bfq_no_longer_next_in_service(BfqEntity* e) {
  return e->bfqq || entity_group(e)->active_entities == 1;
}

// bfq_update_next_in_service. True when the parent level's choice may
// change as a result.
bool bfq_update_next_in_service(BfqSchedData* sd, BfqEntity* new_entity, bool expiration) {
  BfqEntity* next = sd->next_in_service;
  bool change_without_lookup = false;
  if (new_entity && new_entity != next) {
    change_without_lookup = true;
    if (next) {
      const unsigned idx = bfq_class_idx(new_entity);
      BfqServiceTree* st = &sd->service_tree[idx];
      change_without_lookup = idx == bfq_class_idx(next) && !bfq_gt(new_entity->start, st->vtime) &&
                              bfq_gt(next->finish, new_entity->finish);
    }
    if (change_without_lookup) next = new_entity;
  }
  if (!change_without_lookup) next = bfq_lookup_next_entity(sd, expiration);
  bool parent_sched_may_change = false;
  if (next) {
    const bool new_budget_triggers_change = bfq_update_parent_budget(next);
    parent_sched_may_change = !sd->next_in_service || new_budget_triggers_change;
  }
  sd->next_in_service = next;
  return parent_sched_may_change;
}

// bfq_activate_requeue_entity: the entity, then its ancestors as long as
// their level's choice may change (all of them on a requeue at expiration).
void bfq_activate_requeue_entity(BfqData* bfqd, BfqEntity* e, bool non_blocking_wait_rq,
                                 bool requeue, bool expiration) {
  for (; e != nullptr; e = e->parent) {
    bfq_activate_requeue_entity_one(bfqd, e, non_blocking_wait_rq);
    if (!bfq_update_next_in_service(e->sched_data, e, expiration) && !requeue) break;
  }
}

// __bfq_deactivate_entity.
bool bfq_deactivate_entity_raw(BfqData* bfqd, BfqEntity* e, bool ins_into_idle_tree) {
  if (!e->on_st_or_in_serv) return false;
  BfqSchedData* sd = e->sched_data;
  BfqServiceTree* st = bfq_entity_service_tree(bfqd, e);
  const bool is_in_service = e == sd->in_service_entity;
  bfq_calc_finish(e, static_cast<unsigned long>(e->service));
  if (is_in_service)
    sd->in_service_entity = nullptr;
  else
    e->service = 0;  // nobody resets it at an expiration
  if (e->tree == BfqEntity::Tree::ACTIVE)
    bfq_active_extract(st, e);
  else if (!is_in_service && e->tree == BfqEntity::Tree::IDLE)
    bfq_idle_extract(st, e);
  if (!ins_into_idle_tree || !bfq_gt(e->finish, st->vtime))
    bfq_forget_entity(st, e, is_in_service);
  else
    bfq_idle_insert(st, e);
  return true;
}

// bfq_deactivate_entity: the entity, and its groups that are left with
// nothing active; the remaining ancestors are requeued or repositioned.
void bfq_deactivate_entity(BfqData* bfqd, BfqEntity* e, bool ins_into_idle_tree, bool expiration) {
  BfqEntity* parent = nullptr;
  for (; e != nullptr; e = parent) {
    parent = e->parent;
    BfqSchedData* sd = e->sched_data;
    if (!bfq_deactivate_entity_raw(bfqd, e, ins_into_idle_tree)) return;
    if (sd->next_in_service == e) bfq_update_next_in_service(sd, nullptr, expiration);
    // The parent is still active: its schedule is updated below.
    if (sd->next_in_service || sd->in_service_entity) break;
    // Parents go to the idle tree, to keep their service guarantees.
    ins_into_idle_tree = true;
  }
  e = parent;
  for (; e != nullptr; e = e->parent) {
    bfq_requeue_entity(bfqd, e);
    if (!bfq_update_next_in_service(e->sched_data, e, expiration) && !expiration) break;
  }
}

}  // namespace

void bfq_put_idle_entity(BfqServiceTree* st, BfqEntity* e) {
  bfq_idle_extract(st, e);
  bfq_forget_entity(st, e, e == e->sched_data->in_service_entity);
}

BfqServiceTree* bfq_entity_service_tree(BfqData*, BfqEntity* e) {
  return &e->sched_data->service_tree[bfq_class_idx(e)];
}

// __bfq_entity_update_weight_prio: applies a pending weight or class
// change; the class only when the entity is on no tree.
void bfq_entity_update_weight_prio(BfqData* bfqd, BfqEntity* e, bool update_class_too) {
  if (!e->prio_changed) return;
  BfqQueue* bfqq = e->bfqq;
  BfqServiceTree* old_st = bfq_entity_service_tree(bfqd, e);
  old_st->wsum -= e->weight;
  if (e->new_weight != e->orig_weight) {
    if (e->new_weight < kBfqMinWeight) e->new_weight = kBfqMinWeight;
    if (e->new_weight > kBfqMaxWeight) e->new_weight = kBfqMaxWeight;
    e->orig_weight = e->new_weight;
    if (bfqq) {
      // bfq_weight_to_ioprio
      const int prio = static_cast<int>(8 * kBfqWeightCoeff) - static_cast<int>(e->orig_weight);
      bfqq->ioprio = static_cast<unsigned short>(prio > 0 ? prio : 0);
    }
  }
  if (bfqq && update_class_too) bfqq->ioprio_class = bfqq->new_ioprio_class;
  if (!bfqq || bfqq->ioprio_class == bfqq->new_ioprio_class) e->prio_changed = false;
  BfqServiceTree* new_st = bfq_entity_service_tree(bfqd, e);
  const unsigned prev_weight = e->weight;
  const unsigned new_weight = e->orig_weight * (bfqq ? bfqq->wr_coeff : 1);
  // A changed weight moves to its own counter, unless the queue is raised.
  if (prev_weight != new_weight && bfqq) bfq_weights_tree_remove(bfqd, bfqq);
  e->weight = new_weight;
  if (prev_weight != new_weight && bfqq && bfqq->wr_coeff == 1) bfq_weights_tree_add(bfqd, bfqq);
  new_st->wsum += e->weight;
  if (new_st != old_st) e->start = new_st->vtime;
}

void bfq_bfqq_served(BfqQueue* bfqq, int served) {
  BfqData* bfqd = bfqq->bfqd;
  BfqEntity* e = &bfqq->entity;
  if (!bfqq->service_from_backlogged) bfqq->first_IO_time = jiffies(bfqd);
  if (bfqq->wr_coeff > 1) bfqq->service_from_wr += static_cast<unsigned long>(served);
  bfqq->service_from_backlogged += static_cast<unsigned long>(served);
  for (; e != nullptr; e = e->parent) {
    BfqServiceTree* st = bfq_entity_service_tree(bfqd, e);
    e->service += served;
    st->vtime += bfq_delta(static_cast<unsigned long>(served), st->wsum);
    bfq_forget_idle(st);
  }
}

// bfq_bfqq_charge_time: a slow queue is charged what a queue at the peak
// rate would have received in the same time, for time fairness.
void bfq_bfqq_charge_time(BfqData* bfqd, BfqQueue* bfqq, unsigned long time_ms) {
  BfqEntity* e = &bfqq->entity;
  int tot = e->service;
  // The kernel uses the default timeout here, not the tunable.
  const unsigned long timeout_ms = (kBfqHz / 8) * 1000 / kBfqHz;
  if (time_ms > 0 && time_ms < timeout_ms)
    tot = static_cast<int>(static_cast<long>(bfqd->bfq_max_budget) * static_cast<long>(time_ms) /
                           static_cast<long>(timeout_ms));
  if (tot < e->service) tot = e->service;
  if (tot > e->budget) e->budget = tot;
  bfq_bfqq_served(bfqq, tot - e->service > 0 ? tot - e->service : 0);
}

void bfq_activate_bfqq(BfqData* bfqd, BfqQueue* bfqq) {
  bfq_activate_requeue_entity(bfqd, &bfqq->entity, bfqq->has(BFQQF_non_blocking_wait_rq), false,
                              false);
  bfqq->clear(BFQQF_non_blocking_wait_rq);
}

void bfq_requeue_bfqq(BfqData* bfqd, BfqQueue* bfqq, bool expiration) {
  bfq_activate_requeue_entity(bfqd, &bfqq->entity, false, bfqq == bfqd->in_service_queue,
                              expiration);
}

void bfq_deactivate_bfqq(BfqData* bfqd, BfqQueue* bfqq, bool ins_into_idle_tree, bool expiration) {
  bfq_deactivate_entity(bfqd, &bfqq->entity, ins_into_idle_tree, expiration);
}

// A group has pending requests while one of its queues is busy or has
// requests in the device; several such groups make the scenario asymmetric.
void bfq_add_bfqq_in_groups_with_pending_reqs(BfqQueue* bfqq) {
  BfqEntity* e = &bfqq->entity;
  if (e->in_groups_with_pending_reqs) return;
  e->in_groups_with_pending_reqs = true;
  if (bfqq_group(bfqq)->num_queues_with_pending_reqs++ == 0)
    bfqq->bfqd->num_groups_with_pending_reqs++;
}

void bfq_del_bfqq_in_groups_with_pending_reqs(BfqQueue* bfqq) {
  BfqEntity* e = &bfqq->entity;
  if (!e->in_groups_with_pending_reqs) return;
  e->in_groups_with_pending_reqs = false;
  if (--bfqq_group(bfqq)->num_queues_with_pending_reqs == 0)
    bfqq->bfqd->num_groups_with_pending_reqs--;
}

void bfq_del_bfqq_busy(BfqData* bfqd, BfqQueue* bfqq, bool expiration) {
  bfqq->clear(BFQQF_busy);
  bfqd->busy_queues[bfqq->ioprio_class - 1]--;
  bfqd->tot_busy.store(bfq_tot_busy_queues(bfqd), std::memory_order_release);
  if (bfqq->wr_coeff > 1) bfqd->wr_busy_queues--;
  // The queue may be freed by the deactivation when it holds no other
  // reference, so the weight counter goes last.
  bfqq->ref++;
  bfq_deactivate_bfqq(bfqd, bfqq, true, expiration);
  if (!bfqq->dispatched) {
    bfq_del_bfqq_in_groups_with_pending_reqs(bfqq);
    bfq_weights_tree_remove(bfqd, bfqq);
  }
  bfq_put_queue(bfqq);
}

void bfq_add_bfqq_busy(BfqData* bfqd, BfqQueue* bfqq) {
  bfq_activate_bfqq(bfqd, bfqq);
  bfqq->mark(BFQQF_busy);
  bfqd->busy_queues[bfqq->ioprio_class - 1]++;
  bfqd->tot_busy.store(bfq_tot_busy_queues(bfqd), std::memory_order_release);
  if (!bfqq->dispatched) {
    bfq_add_bfqq_in_groups_with_pending_reqs(bfqq);
    if (bfqq->wr_coeff == 1) bfq_weights_tree_add(bfqd, bfqq);
  }
  if (bfqq->wr_coeff > 1) bfqd->wr_busy_queues++;
}

// bfq_get_next_queue: from the root down, each level's next entity goes in
// service; then each level's next candidate is looked up again, leaf first.
BfqQueue* bfq_get_next_queue(BfqData* bfqd) {
  if (bfq_tot_busy_queues(bfqd) == 0) return nullptr;
  BfqEntity* e = nullptr;
  for (BfqSchedData* sd = &bfqd->root_group.sched_data; sd; sd = e->my_sched_data) {
    e = sd->next_in_service;
    if (!e) return nullptr;
    sd->in_service_entity = e;
    if (bfq_no_longer_next_in_service(e)) bfq_active_extract(bfq_entity_service_tree(bfqd, e), e);
  }
  BfqQueue* bfqq = e->bfqq;
  bfqq->entity.service = 0;
  for (; e != nullptr; e = e->parent) {
    if (!bfq_update_next_in_service(e->sched_data, nullptr, false)) break;
  }
  return bfqq;
}

bool bfq_bfqd_reset_in_service(BfqData* bfqd) {
  BfqQueue* bfqq = bfqd->in_service_queue;
  bfqq->clear(BFQQF_wait_request);
  bfqd->clock->try_cancel(&bfqd->idle_slice_timer);
  bfqd->in_service_queue = nullptr;
  // Every in-service entity on the path was deactivated or requeued.
  for (BfqEntity* e = &bfqq->entity; e; e = e->parent) e->sched_data->in_service_entity = nullptr;
  if (!bfqq->entity.on_st_or_in_serv) {
    const bool freed = bfqq->ref == 1;
    bfq_put_queue(bfqq);
    return freed;
  }
  return false;
}

void bfq_reset_parents_service(BfqQueue* bfqq) {
  for (BfqEntity* e = bfqq->entity.parent; e; e = e->parent) e->service = 0;
}

bool next_queue_may_preempt(BfqData* bfqd) {
  const BfqSchedData& sd = bfqd->root_group.sched_data;
  return sd.next_in_service != sd.in_service_entity;
}

// The weight counters: queue_weights_tree as a short array sorted by weight.
// When it is full a queue goes uncounted, as on the kernel's kzalloc failure.
void bfq_weights_tree_add(BfqData* bfqd, BfqQueue* bfqq) {
  if (bfqq->weight_counter) return;
  const unsigned w = bfqq->entity.weight;
  unsigned i = 0;
  while (i < bfqd->nr_weights && bfqd->weights[i].weight < w) ++i;
  if (i == bfqd->nr_weights || bfqd->weights[i].weight != w) {
    if (bfqd->nr_weights == bfqd->weights.size()) return;
    for (unsigned j = bfqd->nr_weights; j > i; --j) bfqd->weights[j] = bfqd->weights[j - 1];
    bfqd->weights[i] = {w, 0};
    bfqd->nr_weights++;
  }
  bfqd->weights[i].num_active++;
  bfqq->weight_counter = w;
  bfqq->ref++;
}

void bfq_weights_tree_remove(BfqData* bfqd, BfqQueue* bfqq) {
  if (!bfqq->weight_counter) return;
  unsigned i = 0;
  while (i < bfqd->nr_weights && bfqd->weights[i].weight != bfqq->weight_counter) ++i;
  if (i < bfqd->nr_weights && --bfqd->weights[i].num_active == 0) {
    for (unsigned j = i; j + 1 < bfqd->nr_weights; ++j) bfqd->weights[j] = bfqd->weights[j + 1];
    bfqd->nr_weights--;
  }
  bfqq->weight_counter = 0;
  bfq_put_queue(bfqq);
}

// bfq_exit_queue: idle entities let go of their service-tree references.
void bfq_forget_all_idle(BfqData*, BfqGroup* bfqg) {
  for (BfqServiceTree& st : bfqg->sched_data.service_tree)
    while (!st.idle.empty()) bfq_put_idle_entity(&st, &*st.idle.begin());
}

}  // namespace iostack::sched::bfq
