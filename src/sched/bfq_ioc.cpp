// bfq's per-process state (block/bfq-iosched.c): the bfq_io_cq of each
// io_context, its sync and async queues, their priority and weight, and the
// references that keep queues alive.
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

BfqQueue** bfq_async_queue_prio(BfqData* bfqd, int ioprio_class, int level) {
  switch (ioprio_class) {
    case task::kClassRt:
      return &bfqd->async_bfqq[0][level];
    case task::kClassNone:
      level = task::kNorm;
      [[fallthrough]];
    case task::kClassBe:
      return &bfqd->async_bfqq[1][level];
    case task::kClassIdle:
      return &bfqd->async_idle_bfqq;
    default:
      return nullptr;
  }
}

// bfq_get_queue: a new sync queue, or the shared async queue of the class
// and level; with a process reference.
BfqQueue* bfq_get_queue(BfqData* bfqd, BfqIoCq* bic, bool is_sync, int pid) {
  BfqQueue** async_bfqq = nullptr;
  if (!is_sync) {
    async_bfqq =
        bfq_async_queue_prio(bfqd, task::prio_class(bic->ioprio), task::prio_level(bic->ioprio));
    if (async_bfqq && *async_bfqq) {
      (*async_bfqq)->ref++;
      return *async_bfqq;
    }
  }
  auto* bfqq = new BfqQueue;
  bfq_init_bfqq(bfqd, bfqq, bic, pid, is_sync);
  if (async_bfqq) {
    bfqq->ref++;  // the group's reference, until the scheduler goes
    *async_bfqq = bfqq;
  }
  bfqq->ref++;
  return bfqq;
}

// bfq_check_ioprio_change: a new priority moves the process to another
// async queue and re-weights its sync queue at its next activation.
void bfq_check_ioprio_change(BfqData* bfqd, BfqIoCq* bic, int ioprio, int pid) {
  if (bic->ioprio == ioprio) return;
  bic->ioprio = ioprio;
  if (BfqQueue* bfqq = bic->bfqq[0]) {
    bfq_release_process_ref(bfqd, bfqq);
    bic->bfqq[0] = bfq_get_queue(bfqd, bic, false, pid);
  }
  if (BfqQueue* bfqq = bic->bfqq[1]) bfq_set_next_ioprio_data(bfqq, bic);
}

void bfq_exit_icq_bfqq(BfqIoCq* bic, bool is_sync) {
  BfqQueue* bfqq = bic->bfqq[is_sync];
  if (!bfqq) return;
  BfqData* bfqd = bic->bfqd;
  core::LockGuard g(bfqd->lock);
  bfqq->bic = nullptr;
  // bfq_exit_bfqq
  if (bfqq == bfqd->in_service_queue) {
    bfq_bfqq_expire_raw(bfqd, bfqq, BfqExpire::BUDGET_TIMEOUT);
    bfq_schedule_dispatch(bfqd);
  }
  bfq_release_process_ref(bfqd, bfqq);
  bic->bfqq[is_sync] = nullptr;
}

void bfq_exit_icq(task::IoCq* icq) {
  BfqIoCq* bic = icq_to_bic(icq);
  bfq_exit_icq_bfqq(bic, false);
  bfq_exit_icq_bfqq(bic, true);
}

void bfq_free_icq(task::IoCq* icq) { delete icq_to_bic(icq); }

}  // namespace

int bfqq_process_refs(const BfqQueue* bfqq) {
  return bfqq->ref - bfqq->allocated - (bfqq->entity.on_st_or_in_serv ? 1 : 0) -
         (bfqq->weight_counter ? 1 : 0);
}

void bfq_release_process_ref(BfqData* bfqd, BfqQueue* bfqq) {
  // Nobody will send it requests: no point keeping an empty queue busy.
  if (bfqq->has(BFQQF_busy) && bfqq->sort_list.empty() && bfqq != bfqd->in_service_queue)
    bfq_del_bfqq_busy(bfqd, bfqq, false);
  bfq_put_queue(bfqq);
}

void bfq_put_async_queues(BfqData* bfqd) {
  for (auto& cls : bfqd->async_bfqq)
    for (BfqQueue*& bfqq : cls)
      if (bfqq) {
        bfq_put_queue(bfqq);
        bfqq = nullptr;
      }
  if (bfqd->async_idle_bfqq) {
    bfq_put_queue(bfqd->async_idle_bfqq);
    bfqd->async_idle_bfqq = nullptr;
  }
}

// bfq_init_rq: the request's queue, set up at insertion or merge time.
BfqQueue* bfq_init_rq(BfqData* bfqd, Request* rq) {
  BfqIoCq* bic = rq_bic(rq);
  if (!bic) return nullptr;
  if (BfqQueue* bfqq = rq_bfqq(rq)) return bfqq;
  const bool is_sync = block::rq_is_sync(rq);
  bfq_check_ioprio_change(bfqd, bic, rq->ioprio, rq->pid);
  BfqQueue* bfqq = bic->bfqq[is_sync];
  if (!bfqq) {
    bfqq = bfq_get_queue(bfqd, bic, is_sync, rq->pid);
    bic->bfqq[is_sync] = bfqq;
  }
  bfqq->allocated++;
  bfqq->ref++;
  rq->elv_priv[1] = bfqq;
  // Owned by this process alone.
  if (bfqq_process_refs(bfqq) == 1) bfqq->bic = bic;
  return bfqq;
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
