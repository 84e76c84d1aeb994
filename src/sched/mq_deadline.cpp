// The mq-deadline scheduler: insert, merge and dispatch.
#include "sched/mq_deadline.hpp"

#include "block/blk_mq.hpp"
#include "block/hctx.hpp"
#include "block/merge.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "core/sbitmap.hpp"
#include "core/tsc.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched {

using block::Request;

namespace {

// Defaults of block/mq-deadline.c, in milliseconds where they are times.
constexpr int kReadExpireMs = 500;
constexpr int kWriteExpireMs = 5000;
constexpr int kPrioAgingExpireMs = 10000;
constexpr int kWritesStarved = 2;
constexpr int kFifoBatch = 16;

unsigned rq_dir(const Request* rq) { return block::rq_data_dir_write(rq) ? DD_WRITE : DD_READ; }

// time_after / time_before_eq on a wrapping clock, as jiffies compare.
bool time_after(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(b - a) < 0; }
bool time_before(std::uint64_t a, std::uint64_t b) { return time_after(b, a); }

}  // namespace

MqDeadline::MqDeadline(block::RequestQueue* q)
    : Elevator(q),
      fifo_expire_ms_{kReadExpireMs, kWriteExpireMs},
      fifo_batch_(kFifoBatch),
      writes_starved_(kWritesStarved),
      front_merges_(1),
      prio_aging_expire_ms_(kPrioAgingExpireMs),
      lone_tsc_(core::tsc_in_step()) {
  // No completed_request op, as in the kernel; and no prepare_request: the
  // kernel's only clears elv.priv[0], which rq_init does for every request.
  leave_out(kPrepareRequest | kCompletedRequest);
  // has_work is nr_listed_ != 0, and bio_merge finds nothing without a listed
  // request: blk-mq reads the count itself.
  set_listed(&nr_listed_);
  // init_hctx sets this again; until then limit_depth must not see zero.
  if (q) async_depth_.store(q->nr_requests(), std::memory_order_relaxed);
  for (unsigned d = 0; d < kDdDirCount; ++d)
    lone_expire_ns_[d].store(static_cast<std::uint64_t>(fifo_expire_ms_[d]) * core::kNsPerMs,
                             std::memory_order_relaxed);
}

MqDeadline::~MqDeadline() {
  // The queue is frozen and drained before an elevator goes away; unlink
  // whatever a test left behind so the safe-mode hooks stay consistent.
  for (PerPrio& pp : per_prio_)
    for (auto& t : pp.sort_list) t.clear();
}

// --- depth ---

void MqDeadline::init_hctx(block::HwCtx* hctx) { depth_updated(hctx); }

void MqDeadline::depth_updated(block::HwCtx* hctx) {
  // Since Linux 6.10 no tags are held back for sync requests by default.
  async_depth_.store(hctx->queue->nr_requests(), std::memory_order_relaxed);
}

void MqDeadline::limit_depth(block::AllocData* data) {
  // Synchronous reads are never throttled.
  if (block::op_is_sync(data->cmd_flags) && !block::op_is_write(data->cmd_flags)) return;
  // dd_to_word_depth: async_depth is in requests; sbitmap_get_shallow wants
  // bits per word, so scale by bits_per_word / nr_requests, rounding up.
  block::HwCtx* hctx = data->hctx ? data->hctx : data->q->hctx(0);
  const unsigned nrr = data->q->nr_requests();
  const unsigned bpw = hctx->sched_tags ? hctx->sched_tags->bits_per_word() : 64;
  data->shallow_depth =
      core::sbitmap_word_depth(async_depth_.load(std::memory_order_relaxed), bpw, nrr);
}

// --- merging ---

bool MqDeadline::bio_merge(block::Bio* bio, unsigned nr_segs) {
  // Nothing listed, nothing to merge with (every candidate of the cache, the
  // hash and the sort trees is on a FIFO or the dispatch list): the lookup
  // would find none, so the lock is not taken for it.
  if (nr_listed_.load(std::memory_order_acquire) == 0) return false;
  // A contended lock skips the lookup, as Linux 6.9's dd_bio_merge did (6.18
  // waits for the lock). The plug is where related bios merge; one missed
  // here is rarely a loss.
  if (!lock_.try_lock()) return false;
  Request* free = nullptr;
  const bool ret = block::blk_mq_sched_try_merge(queue(), bio, nr_segs, &free);
  lock_.unlock();
  if (free) block::blk_mq_free_request(free);
  return ret;
}

block::ElvMerge MqDeadline::request_merge(Request** rq, block::Bio* bio) {
  if (!front_merges_) return block::ElvMerge::NONE;
  // A queued request that starts where the bio ends can take it in front.
  PerPrio& pp = per_prio_[dd_prio_of(bio->bi_ioprio)];
  block::SectorTree& tree = pp.sort_list[block::op_is_write(bio->bi_opf) ? DD_WRITE : DD_READ];
  auto it = tree.find(block::bio_end_sector(bio));
  if (it == tree.end()) return block::ElvMerge::NONE;
  Request* cand = &*it;
  if (!block::elv_bio_merge_ok(cand, bio)) return block::ElvMerge::NONE;
  *rq = cand;
  return block::blk_discard_mergable(cand) ? block::ElvMerge::DISCARD : block::ElvMerge::FRONT;
}

void MqDeadline::request_merged(Request* rq, block::ElvMerge type) {
  // A front merge moved the start sector: re-sort the request.
  if (type != block::ElvMerge::FRONT) return;
  block::SectorTree& tree = tree_of(rq);
  tree.erase(tree.iterator_to(*rq));
  tree.insert(*rq);
}

void MqDeadline::requests_merged(Request* rq, Request* next) {
  PerPrio& pp = per_prio_[dd_prio_of(next->ioprio)];
  pp.stats.merged++;
  // The survivor inherits the earlier deadline and `next`'s FIFO slot.
  if (rq->queuelist.linked() && next->queuelist.linked() &&
      time_before(next->fifo_time, rq->fifo_time)) {
    rq->queuelist.del();
    rq->queuelist.add_after(&next->queuelist);
    rq->fifo_time = next->fifo_time;
  }
  remove_request(pp, next);
}

block::SectorTree& MqDeadline::tree_of(Request* rq) {
  return per_prio_of(rq).sort_list[rq_dir(rq)];
}

Request* MqDeadline::former_request(Request* rq) {
  if (!rq->rb_node.is_linked()) return nullptr;
  block::SectorTree& tree = tree_of(rq);
  auto it = tree.iterator_to(*rq);
  return it == tree.begin() ? nullptr : &*--it;
}

Request* MqDeadline::next_request(Request* rq) {
  if (!rq->rb_node.is_linked()) return nullptr;
  block::SectorTree& tree = tree_of(rq);
  auto it = ++tree.iterator_to(*rq);
  return it == tree.end() ? nullptr : &*it;
}

// deadline_remove_request: off the FIFO, the tree and the merge candidates.
void MqDeadline::remove_request(PerPrio& pp, Request* rq) {
  if (rq->queuelist.linked()) {
    rq->queuelist.del();
    listed_add(-1);
  }
  // An insert merge removes a request that never reached the tree.
  if (rq->rb_node.is_linked()) {
    block::SectorTree& tree = pp.sort_list[rq_dir(rq)];
    tree.erase(tree.iterator_to(*rq));
  }
  block::elv_request_removed(this, rq);
}

void MqDeadline::listed_add(int delta) {
  // Only changed under lock_; the atomic is for has_work's lock-free read.
  const unsigned v = nr_listed_.load(std::memory_order_relaxed);
  nr_listed_.store(v + static_cast<unsigned>(delta), std::memory_order_release);
}

// --- insertion and completion ---

void MqDeadline::insert_requests(block::HwCtx*, core::ListHead* list, unsigned flags) {
  core::ListHead free;
  {
    Hold g(*this);
    insert_list(list, flags, &free);
  }
  // Requests absorbed by insert merges are freed without the lock.
  block::blk_mq_free_requests(&free);
}

unsigned MqDeadline::insert_and_dispatch_locked(core::ListHead* list, unsigned flags,
                                                core::ListHead* out, unsigned max, bool* held_back,
                                                bool lone) {
  core::ListHead free;
  unsigned n;
  {
    Hold g(*this, lone ? Hold::kLoneStep : Hold::kIo);
    register_lone();
    insert_list(list, flags, &free);
    n = dispatch_batch_locked(out, max, held_back);
  }
  block::blk_mq_free_requests(&free);
  return n;
}

void MqDeadline::insert_list(core::ListHead* list, unsigned flags, core::ListHead* free) {
  const std::uint64_t now = queue()->jiffies();
  while (!list->empty()) {
    Request* rq = block::rq_from_queuelist(list->first());
    rq->queuelist.del();
    insert_request(rq, flags, free, now);
  }
}

void MqDeadline::insert_request(Request* rq, unsigned flags, core::ListHead* free,
                                std::uint64_t now) {
  core::lockdep_assert_held(lock_);
  PerPrio& pp = per_prio_of(rq);
  // A requeued request was counted on its first insertion.
  if (!rq->elv_priv[0]) pp.stats.inserted++;
  rq->elv_priv[0] = &pp;

  if (block::blk_mq_sched_try_insert_merge(queue(), rq, free)) return;

  block::blk_trace_rq_insert(rq);

  const unsigned dir = rq_dir(rq);
  if (flags & block::INSERT_AT_HEAD) {
    rq->queuelist.add_head(&dispatch_);
    rq->fifo_time = now;
  } else {
    pp.sort_list[dir].insert(*rq);
    if (block::rq_mergeable(rq)) {
      rqhash_add(rq);
      if (!last_merge) last_merge = rq;
    }
    rq->fifo_time = now + expire_ns(dir);
    rq->queuelist.add_tail(&pp.fifo_list[dir]);
  }
  listed_add(1);
}

bool MqDeadline::has_work(block::HwCtx*) { return nr_listed_.load(std::memory_order_acquire) != 0; }

// --- dispatch ---

std::uint64_t MqDeadline::expire_ns(unsigned dir) const {
  return static_cast<std::uint64_t>(fifo_expire_ms_[dir]) * core::kNsPerMs;
}

// dd_queued: requests of one class the scheduler is responsible for.
std::uint32_t MqDeadline::dd_queued(unsigned prio) const {
  const IoStats& s = per_prio_[prio].stats;
  return s.inserted - s.completed.load(std::memory_order_relaxed);
}

// Insertion time, recovered from the deadline with the current expire value.
bool MqDeadline::started_after(const Request* rq, std::uint64_t latest_start) const {
  return time_after(rq->fifo_time - expire_ns(rq_dir(rq)), latest_start);
}

// __dd_dispatch_request: the best request of one class that was inserted no
// later than `latest_start`.
Request* MqDeadline::dispatch_from(PerPrio& pp, std::uint64_t latest_start, std::uint64_t now) {
  core::lockdep_assert_held(lock_);
  Request* rq = nullptr;
  unsigned dir;
  // Continue the current batch in sector order from the last position.
  auto next_by_pos = [&](unsigned d) -> Request* {
    auto it = pp.sort_list[d].lower_bound(pp.latest_pos[d]);
    return it == pp.sort_list[d].end() ? nullptr : &*it;
  };
  rq = next_by_pos(last_dir_);
  const bool in_batch = rq && batching_ < static_cast<unsigned>(fifo_batch_);
  if (in_batch) {
    dir = rq_dir(rq);
  } else {
    // A new batch: reads, unless writes wait and have been starved enough.
    // The comparison is unsigned, as in the kernel (negative = never).
    if (!pp.fifo_list[DD_READ].empty()) {
      if (!pp.fifo_list[DD_WRITE].empty() && starved_++ >= static_cast<unsigned>(writes_starved_)) {
        starved_ = 0;
        dir = DD_WRITE;
      } else {
        dir = DD_READ;
      }
    } else if (!pp.fifo_list[DD_WRITE].empty()) {
      starved_ = 0;
      dir = DD_WRITE;
    } else {
      return nullptr;
    }
    // Expired deadline, or nothing at/after the last position: restart
    // from the oldest request; else carry on in sector order.
    Request* next = next_by_pos(dir);
    Request* head = block::rq_from_queuelist(pp.fifo_list[dir].first());
    const bool expired = !time_after(head->fifo_time, now);
    rq = (expired || !next) ? head : next;
    last_dir_ = static_cast<DdDir>(dir);
    batching_ = 0;
  }
  if (started_after(rq, latest_start)) return nullptr;
  batching_++;
  remove_request(pp, rq);
  return start_request(rq, dir);
}

// dd_start_request: the class's position and count, and RQF_STARTED.
Request* MqDeadline::start_request(Request* rq, unsigned dir) {
  PerPrio& owner = per_prio_of(rq);
  owner.latest_pos[dir] = block::blk_rq_pos(rq);
  owner.stats.dispatched++;
  rq->rq_flags |= block::RQF_STARTED;
  return rq;
}

// dd_dispatch_prio_aged_requests: when several classes have work, a BE or
// IDLE request inserted more than prio_aging_expire ago goes first.
Request* MqDeadline::dispatch_aged(std::uint64_t now) {
  core::lockdep_assert_held(lock_);
  const int busy =
      (dd_queued(DD_RT_PRIO) != 0) + (dd_queued(DD_BE_PRIO) != 0) + (dd_queued(DD_IDLE_PRIO) != 0);
  if (busy < 2) return nullptr;
  const std::uint64_t aged_before =
      now - static_cast<std::uint64_t>(prio_aging_expire_ms_) * core::kNsPerMs;
  for (unsigned prio = DD_BE_PRIO; prio <= DD_IDLE_PRIO; ++prio)
    if (Request* rq = dispatch_from(per_prio_[prio], aged_before, now)) return rq;
  return nullptr;
}

Request* MqDeadline::dispatch_request(block::HwCtx*) {
  Hold g(*this);
  return dispatch_locked();
}

unsigned MqDeadline::dispatch_batch(block::HwCtx*, core::ListHead* out, unsigned max,
                                    bool* held_back) {
  // has_work first, without the lock, as blk-mq asks before each call.
  if (nr_listed_.load(std::memory_order_acquire) == 0) return 0;
  Hold g(*this);
  return dispatch_batch_locked(out, max, held_back);
}

unsigned MqDeadline::dispatch_batch_locked(core::ListHead* out, unsigned max, bool* held_back) {
  return block::elv_dispatch_batch(
      out, max, held_back, [&] { return nr_listed_.load(std::memory_order_relaxed) != 0; },
      [&] {
        core::lockdep_assert_held(lock_);  // held by the caller, around this loop
        return dispatch_locked();
      });
}

// dd_dispatch_request's body.
Request* MqDeadline::dispatch_locked() {
  core::lockdep_assert_held(lock_);
  if (!dispatch_.empty()) {
    Request* rq = block::rq_from_queuelist(dispatch_.first());
    rq->queuelist.del();
    listed_add(-1);
    return start_request(rq, rq_dir(rq));
  }
  const std::uint64_t now = queue()->jiffies();
  if (Request* rq = dispatch_aged(now)) return rq;
  // Strict priority: a class with queued requests (even ones the driver
  // still holds) keeps lower classes waiting.
  for (unsigned prio = DD_RT_PRIO; prio <= DD_IDLE_PRIO; ++prio) {
    Request* rq = dispatch_from(per_prio_[prio], now, now);
    if (rq || dd_queued(prio)) return rq;
  }
  return nullptr;
}

// --- introspection ---

DdStats MqDeadline::stats(DdPrio prio) const {
  Hold g(*this, Hold::kInspect);
  const IoStats& s = per_prio_[prio].stats;
  return {s.inserted, s.merged, s.dispatched, s.completed.load(std::memory_order_relaxed)};
}

bool MqDeadline::prio_stats(unsigned prio_class, block::ElvPrioStats* out) const {
  if (prio_class >= kDdPrioCount) return false;
  *out = stats(static_cast<DdPrio>(prio_class));
  return true;
}

std::uint32_t MqDeadline::queued(DdPrio prio) const {
  Hold g(*this, Hold::kInspect);
  return dd_queued(prio);
}

std::uint32_t MqDeadline::owned_by_driver(DdPrio prio) const {
  Hold g(*this, Hold::kInspect);
  const IoStats& s = per_prio_[prio].stats;
  return s.dispatched + s.merged - s.completed.load(std::memory_order_relaxed);
}

unsigned MqDeadline::batching() const {
  Hold g(*this, Hold::kInspect);
  return batching_;
}

unsigned MqDeadline::starved() const {
  Hold g(*this, Hold::kInspect);
  return starved_;
}

}  // namespace iostack::sched
