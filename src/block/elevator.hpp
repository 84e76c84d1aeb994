// struct elevator_queue and elevator_mq_ops (block/elevator.h, elevator.c):
// the interface an I/O scheduler implements, plus the state every scheduler
// shares: the one-hit merge cache and the hash of requests by end sector.
#pragma once

#include <atomic>
#include <boost/intrusive/set.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "block/blk_mq_internal.hpp"
#include "block/request.hpp"
#include "core/list.hpp"

namespace iostack::block {

class RequestQueue;
struct HwCtx;

enum class ElvMerge { NONE, FRONT, BACK, DISCARD };

// blk_insert_t
enum InsertFlags : unsigned { INSERT_NONE = 0, INSERT_AT_HEAD = 1u << 0 };

// Per I/O priority class (RT, BE, IDLE) counters a scheduler may keep, as
// mq-deadline's debugfs shows them (queued, owned_by_driver...).
constexpr unsigned kElvPrioClasses = 3;
struct ElvPrioStats {
  std::uint32_t inserted = 0;
  std::uint32_t merged = 0;  // request-request merges (the `next` side)
  std::uint32_t dispatched = 0;
  std::uint32_t completed = 0;
};

// struct blk_mq_alloc_data, as seen by limit_depth.
struct AllocData {
  RequestQueue* q;
  std::uint32_t cmd_flags;
  unsigned shallow_depth;  // 0: unlimited; else bits per tag word (sbitmap_get_shallow)
  HwCtx* hctx;
};

// Sector-sorted tree of requests (the elv_rb_* helpers), intrusive through
// Request::rb_node; mq-deadline keeps one per class and direction.
struct RqSectorKey {
  using type = sector_t;
  sector_t operator()(const Request& rq) const { return rq.__sector; }
};
using SectorTree = boost::intrusive::multiset<
    Request,
    boost::intrusive::member_hook<Request, boost::intrusive::set_member_hook<>, &Request::rb_node>,
    boost::intrusive::key_of_value<RqSectorKey>>;

class Elevator {
 public:
  explicit Elevator(RequestQueue* q);
  virtual ~Elevator() = default;
  Elevator(const Elevator&) = delete;
  Elevator& operator=(const Elevator&) = delete;

  virtual const char* name() const = 0;

  // --- elevator_mq_ops ---
  virtual void init_hctx(HwCtx*) {}
  virtual void depth_updated(HwCtx*) {}
  virtual void limit_depth(AllocData*) {}
  virtual bool allow_merge(Request*, Bio*) { return true; }
  // Try to merge `bio` into a queued request (ops.bio_merge). On success a
  // request that became redundant through a request-request merge is freed.
  virtual bool bio_merge(Bio* bio, unsigned nr_segs) = 0;
  // The scheduler's own merge lookup after the hash (ops.request_merge).
  virtual ElvMerge request_merge(Request**, Bio*) { return ElvMerge::NONE; }
  virtual void request_merged(Request*, ElvMerge) {}
  // `next` was merged into `rq` and will be freed.
  virtual void requests_merged(Request*, Request*) {}
  // Called only where has_op(kPrepareRequest).
  virtual void prepare_request(Request*) {}
  virtual void finish_request(Request*) {}
  virtual void insert_requests(HwCtx* hctx, core::ListHead* list, unsigned flags) = 0;
  virtual Request* dispatch_request(HwCtx* hctx) = 0;
  virtual bool has_work(HwCtx* hctx) = 0;
  // One batch of __blk_mq_do_dispatch_sched's loop: while there is work, up
  // to `max` requests in dispatch_request's order onto `out`, each taking a
  // driver tag as it joins (elv_dispatch_add); stops after the first that
  // gets none. *held_back is set when work is left that dispatch_request
  // returned nothing for. A scheduler whose lock serialises dispatch_request
  // may hold it across the batch: the requests and their order are those of
  // the same calls with no other CPU taking the lock in between.
  virtual unsigned dispatch_batch(HwCtx* hctx, core::ListHead* out, unsigned max, bool* held_back);
  // insert_requests then dispatch_batch, as one step where the scheduler's
  // lock covers both (the inserting CPU's queue run reaching the lock first).
  virtual unsigned insert_and_dispatch(HwCtx* hctx, core::ListHead* list, unsigned flags,
                                       core::ListHead* out, unsigned max, bool* held_back);
  // Called only where has_op(kCompletedRequest).
  virtual void completed_request(Request*, std::uint64_t /*now_ns*/) {}
  virtual void requeue_request(Request*) {}
  virtual Request* former_request(Request*) { return nullptr; }
  virtual Request* next_request(Request*) { return nullptr; }

  // --- debugfs: per priority class counters; false when it keeps none ---
  virtual bool prio_stats(unsigned /*prio_class*/, ElvPrioStats*) const { return false; }

  // --- tunables: the iosched/ directory ---
  virtual std::vector<std::string> attr_names() const { return {}; }
  // 0 and the value, or -ENOENT.
  virtual int attr_show(const std::string& name, std::string* out) const;
  // 0, -ENOENT for an unknown name, -EINVAL for a bad value.
  virtual int attr_store(const std::string& name, const std::string& value);

  // Ops of every I/O that a scheduler may leave out: blk-mq skips their
  // calls, as it skips an elevator_mq_ops entry left NULL.
  enum OptionalOp : unsigned { kPrepareRequest = 1u << 0, kCompletedRequest = 1u << 1 };
  bool has_op(OptionalOp op) const { return !(left_out_ & op); }
  // has_work and bio_merge's first question, read inline: a scheduler that
  // counts the requests it holds (has_work is that count being non-zero, and
  // with none there is nothing to merge with) publishes the count here; null
  // when it does not.
  bool elv_has_work(HwCtx* hctx) {
    if (listed_) return listed_->load(std::memory_order_acquire) != 0;
    return has_work(hctx);
  }
  bool may_merge() const { return !listed_ || listed_->load(std::memory_order_acquire) != 0; }

  // --- shared state and helpers (elevator.c) ---
  RequestQueue* queue() const { return q_; }
  // Whether the scheduler orders steps of different threads by the TSC: a
  // request it takes then has its time read in order (blk_plug_stamp).
  bool wants_stamp() const { return wants_stamp_.load(std::memory_order_relaxed); }
  Request* last_merge = nullptr;
  void rqhash_add(Request* rq);
  void rqhash_del(Request* rq);
  void rqhash_reposition(Request* rq);
  // A hashed request ending at `offset` (candidate for a back merge).
  Request* rqhash_find(sector_t offset);

 protected:
  void set_wants_stamp(bool on) { wants_stamp_.store(on, std::memory_order_relaxed); }
  // For a scheduler's constructor: the OptionalOps it does not implement.
  void leave_out(unsigned ops) { left_out_ |= ops; }
  // For a scheduler's constructor: its count of the requests it holds (see
  // elv_has_work).
  void set_listed(const std::atomic<unsigned>* count) { listed_ = count; }

 private:
  std::atomic<bool> wants_stamp_{false};
  unsigned left_out_ = 0;
  const std::atomic<unsigned>* listed_ = nullptr;
  static constexpr unsigned kHashBits = 6;  // ELV_HASH_BITS
  core::ListHead hash_[1u << kHashBits];
  RequestQueue* q_;
};

// Adds a dispatched request to a batch and takes its driver tag; false when
// none is free (the batch ends there).
inline bool elv_dispatch_add(Request* rq, core::ListHead* out) {
  rq->queuelist.add_tail(out);
  return blk_mq_get_driver_tag(rq);
}

// The loop of Elevator::dispatch_batch over a scheduler's own has_work and
// dispatch calls (a scheduler holding its lock across the batch passes its
// locked forms).
template <class HasWork, class Dispatch>
unsigned elv_dispatch_batch(core::ListHead* out, unsigned max, bool* held_back, HasWork has_work,
                            Dispatch dispatch) {
  unsigned n = 0;
  while (n < max && has_work()) {
    Request* rq = dispatch();
    if (!rq) {
      *held_back = true;
      break;
    }
    ++n;
    if (!elv_dispatch_add(rq, out)) break;
  }
  return n;
}

// Removes a request from merge candidacy (hash and last_merge): elv_merged /
// __elv_rqhash_del callers use this when a request leaves the scheduler.
void elv_request_removed(Elevator* e, Request* rq);

}  // namespace iostack::block
