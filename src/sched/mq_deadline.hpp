// struct deadline_data (block/mq-deadline.c): the mq-deadline I/O scheduler.
// Per priority class and direction a sector-sorted tree and a FIFO of
// deadlines; dispatch batches in sector order, serves expired requests and
// starved writes, and lets old lower-priority requests overtake.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "block/elevator.hpp"
#include "block/request.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "core/per_thread.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched {

// enum dd_prio: the three queues; IOPRIO_CLASS_NONE is served as BE.
enum DdPrio : unsigned { DD_RT_PRIO = 0, DD_BE_PRIO = 1, DD_IDLE_PRIO = 2 };
constexpr unsigned kDdPrioCount = 3;

// enum dd_data_dir.
enum DdDir : unsigned { DD_READ = 0, DD_WRITE = 1 };
constexpr unsigned kDdDirCount = 2;

// A copy of struct io_stats_per_prio for callers.
using DdStats = block::ElvPrioStats;

// The mq-deadline queue class of an ioprio value (class in bits 13-15).
inline DdPrio dd_prio_of(std::uint16_t ioprio) {
  switch (task::prio_class(ioprio)) {
    case task::kClassRt:
      return DD_RT_PRIO;
    case task::kClassIdle:
      return DD_IDLE_PRIO;
    default:
      return DD_BE_PRIO;  // NONE and BE (invalid classes never get here)
  }
}

class MqDeadline final : public block::Elevator {
  class Hold;

 public:
  explicit MqDeadline(block::RequestQueue* q);
  ~MqDeadline() override;

  const char* name() const override { return "mq-deadline"; }

  // --- elevator_mq_ops ---
  void init_hctx(block::HwCtx* hctx) override;
  void depth_updated(block::HwCtx* hctx) override;
  void limit_depth(block::AllocData* data) override;
  bool bio_merge(block::Bio* bio, unsigned nr_segs) override EXCLUDES(lock_);
  // The calls below come from the block layer's merge helpers, which run
  // inside bio_merge / insert_requests with the scheduler lock already held
  // (stated here; the block layer's interface cannot name lock_).
  block::ElvMerge request_merge(block::Request** rq, block::Bio* bio) override REQUIRES(lock_);
  void request_merged(block::Request* rq, block::ElvMerge type) override REQUIRES(lock_);
  void requests_merged(block::Request* rq, block::Request* next) override REQUIRES(lock_);
  block::Request* former_request(block::Request* rq) override REQUIRES(lock_);
  block::Request* next_request(block::Request* rq) override REQUIRES(lock_);
  void finish_request(block::Request* rq) override;
  void insert_requests(block::HwCtx* hctx, core::ListHead* list, unsigned flags) override
      EXCLUDES(lock_);
  block::Request* dispatch_request(block::HwCtx* hctx) override EXCLUDES(lock_);
  bool has_work(block::HwCtx* hctx) override;
  // The batch and the insertion with it under one hold of lock_.
  unsigned dispatch_batch(block::HwCtx* hctx, core::ListHead* out, unsigned max,
                          bool* held_back) override EXCLUDES(lock_);
  unsigned insert_and_dispatch(block::HwCtx* hctx, core::ListHead* list, unsigned flags,
                               core::ListHead* out, unsigned max, bool* held_back) override
      EXCLUDES(lock_);

  // --- iosched/ tunables ---
  std::vector<std::string> attr_names() const override;
  int attr_show(const std::string& name, std::string* out) const override;
  int attr_store(const std::string& name, const std::string& value) override;

  // --- introspection (the debugfs files) ---
  DdStats stats(DdPrio prio) const;
  bool prio_stats(unsigned prio_class, block::ElvPrioStats* out) const override;
  // inserted - completed: requests of this class the scheduler is responsible for.
  std::uint32_t queued(DdPrio prio) const;
  // dispatched + merged - completed.
  std::uint32_t owned_by_driver(DdPrio prio) const;
  unsigned async_depth() const { return async_depth_.load(std::memory_order_relaxed); }
  unsigned batching() const;
  unsigned starved() const;
  // Requests inserted and dispatched by lone steps (without lock_), all threads.
  std::uint64_t lone_steps() const;
  // Lone steps a thread logs before its log is full and is folded (each
  // fold costs a process-wide barrier and a hold of lock_).
  static constexpr unsigned kLoneLog = 4096;

 private:
  // struct io_stats_per_prio: counters under lock_, except completed.
  struct IoStats {
    std::uint32_t inserted = 0;
    std::uint32_t merged = 0;
    std::uint32_t dispatched = 0;
    std::atomic<std::uint32_t> completed{0};
  };

  // struct dd_per_prio.
  struct PerPrio {
    block::SectorTree sort_list[kDdDirCount];
    core::ListHead fifo_list[kDdDirCount];
    block::sector_t latest_pos[kDdDirCount] = {0, 0};  // of the last dispatch
    IoStats stats;
  };

  // --- the lone step (mq_deadline_lone.cpp) ---
  // A request inserted alone into an empty scheduler, with only its own class
  // queued, is the one the next dispatch returns: insert_and_dispatch does
  // both without lock_ while the gate is open for that class. What the
  // locked calls would change besides (the batch position and count, the
  // class counters) goes to the thread's own slot, and the next holder of
  // lock_ folds every slot in in the order of the steps' TSC readings, as if
  // each step had taken the lock at that moment (a reading inside the
  // submitter's call: the step's own, or its plug's, see step_stamp). A
  // thread's slot:
  struct LoneEntry {
    std::atomic<std::uint64_t> key{0};  // TSC reading << 1 | direction
    std::atomic<block::sector_t> pos{0};
  };
  struct LoneThread {
    // Set around a lone step or a completion count: the gate's closer waits
    // for it to clear (a store-then-load handshake with gate_, whose fast
    // side is core::light_barrier and whose closer pays the heavy one).
    std::atomic<std::uint32_t> busy{0};
    std::atomic<std::uint32_t> head{0};  // entries written (by the owner)
    std::atomic<std::uint32_t> tail{0};  // entries folded (under lock_)
    // The index of the owner's last entry in each direction (the fold reads
    // the logs only back to the end of the last run of steps).
    std::atomic<std::uint32_t> last_of[kDdDirCount] = {};
    // Counts by the owner: lone steps per class, completions per class.
    std::atomic<std::uint32_t> inserted[kDdPrioCount] = {};
    std::atomic<std::uint32_t> completed[kDdPrioCount] = {};
    // What the closer has added to IoStats already (under lock_).
    std::uint32_t folded_inserted[kDdPrioCount] = {};
    std::uint32_t folded_completed[kDdPrioCount] = {};
    bool registered = false;  // on lone_threads_ (set by the owner under lock_)
    LoneEntry log[kLoneLog];
  };
  // The request of an insert_and_dispatch call that a lone step could take
  // (one request, neither at head nor a requeue), or null.
  static block::Request* lone_candidate(core::ListHead* list, unsigned flags, unsigned max);
  enum class Lone { kTaken, kClosed, kFull, kNot };
  Lone try_lone(block::Request* rq, core::ListHead* out) EXCLUDES(lock_);
  // try_lone, again after a first try that found the log full (after a
  // fold) or the gate closed (after the holder of lock_ that may open it
  // again: one that closed it for its fold or its own step); false when the
  // locked path is to take the request.
  bool lone_retry(block::Request* rq, core::ListHead* out, Lone first) EXCLUDES(lock_);
  // insert_and_dispatch past the lone step: both under lock_. `lone`: the
  // request could have been a lone step.
  unsigned insert_and_dispatch_locked(core::ListHead* list, unsigned flags, core::ListHead* out,
                                      unsigned max, bool* held_back, bool lone) EXCLUDES(lock_);
  // Counts a completion of class `prio` on the thread's slot; false when the
  // gate is closed (IoStats then takes it).
  bool lone_completed(unsigned prio);
  void register_lone() REQUIRES(lock_);
  // On taking lock_: close the gate, wait for steps under way, fold the slots.
  // `io`: taken for an I/O no lone step could make (the gate's cost).
  void close_gate(bool io) REQUIRES(lock_);
  // Waits until no step or count is under way on any thread (after a
  // process-wide barrier, so that one begun is seen). `self`: the calling
  // thread's slot, when it is known to be its own.
  void wait_lone_steps(const LoneThread* self) REQUIRES(lock_);
  // Folds the logged steps read before `cut` (all: ~0), as if taken in
  // their order.
  void fold_lone(std::uint64_t cut) REQUIRES(lock_);
  // A full log folded while the gate stays open: steps begun after the cut
  // stay for the next fold, which takes those with earlier readings first.
  void fold_cut(const LoneThread* self) EXCLUDES(lock_);
  // On releasing lock_ after a step that could have been lone: open the gate
  // when a lone step would be what the locked calls do.
  void open_gate() REQUIRES(lock_);
  void set_expire(unsigned dir, int ms) REQUIRES(lock_);
  PerPrio* prio_slot(unsigned prio) { return &per_prio_[prio]; }

  PerPrio& per_prio_of(const block::Request* rq) REQUIRES(lock_) {
    return per_prio_[dd_prio_of(rq->ioprio)];
  }
  block::SectorTree& tree_of(block::Request* rq) REQUIRES(lock_);
  void insert_list(core::ListHead* list, unsigned flags, core::ListHead* free) REQUIRES(lock_);
  void insert_request(block::Request* rq, unsigned flags, core::ListHead* free, std::uint64_t now)
      REQUIRES(lock_);
  block::Request* dispatch_locked() REQUIRES(lock_);
  unsigned dispatch_batch_locked(core::ListHead* out, unsigned max, bool* held_back)
      REQUIRES(lock_);
  void remove_request(PerPrio& pp, block::Request* rq) REQUIRES(lock_);
  block::Request* dispatch_from(PerPrio& pp, std::uint64_t latest_start, std::uint64_t now)
      REQUIRES(lock_);
  block::Request* dispatch_aged(std::uint64_t now) REQUIRES(lock_);
  block::Request* start_request(block::Request* rq, unsigned dir) REQUIRES(lock_);
  bool started_after(const block::Request* rq, std::uint64_t latest_start) const REQUIRES(lock_);
  std::uint64_t expire_ns(unsigned dir) const REQUIRES(lock_);
  std::uint32_t dd_queued(unsigned prio) const REQUIRES(lock_);
  void listed_add(int delta) REQUIRES(lock_);

  // dd->lock, a spinlock in the kernel too: held for a few list and tree
  // operations, by submitters and dispatchers of every CPU.
  mutable core::SpinLock lock_;
  // At-head inserts of every class, served before anything else (one list
  // as in Linux 6.18; earlier 6.x kept one per class).
  core::ListHead dispatch_ GUARDED_BY(lock_);
  PerPrio per_prio_[kDdPrioCount] GUARDED_BY(lock_);

  DdDir last_dir_ GUARDED_BY(lock_) = DD_WRITE;  // direction of the last dispatch
  unsigned batching_ GUARDED_BY(lock_) = 0;      // requests dispatched in the current batch
  unsigned starved_ GUARDED_BY(lock_) = 0;       // times reads were chosen over waiting writes

  // Tunables, in the units sysfs shows (milliseconds for times).
  int fifo_expire_ms_[kDdDirCount] GUARDED_BY(lock_);
  int fifo_batch_ GUARDED_BY(lock_);
  int writes_starved_ GUARDED_BY(lock_);
  int front_merges_ GUARDED_BY(lock_);
  int prio_aging_expire_ms_ GUARDED_BY(lock_);
  std::atomic<unsigned> async_depth_{0};  // read without the lock by limit_depth

  // Requests on any dispatch list or FIFO; lets has_work skip the lock.
  std::atomic<unsigned> nr_listed_{0};

  // The lone step's state. gate_ is read by every submitter and written
  // only when lock_ is taken after lone steps, so it has a line of its own.
  alignas(64) std::atomic<int> gate_{-1};  // the class lone steps may take; -1: closed
  std::atomic<std::uint64_t> lone_expire_ns_[kDdDirCount] = {};  // fifo_expire, for lone steps
  // Lone steps carry TSC readings once a second thread takes them (one
  // thread's log is in order already).
  std::atomic<bool> lone_stamped_{false};
  const bool lone_tsc_;  // the readings are the TSC's (else CLOCK_MONOTONIC's)
  alignas(64) unsigned lone_prio_ GUARDED_BY(lock_) = DD_BE_PRIO;  // the class last opened for
  // Closing costs a process-wide barrier: after a gate that other calls
  // closed again within a few lone steps, that many lone-eligible locked
  // steps (doubling each time) leave it closed.
  unsigned lone_backoff_ GUARDED_BY(lock_) = 0;
  unsigned lone_skip_ GUARDED_BY(lock_) = 0;
  std::vector<LoneThread*> lone_threads_ GUARDED_BY(lock_);
  // fold_lone's cursors, one per registered thread (kept to allocate once).
  struct FoldCursor {
    LoneThread* t;
    std::uint32_t tail, end;  // the entries to fold: [tail, end)
    std::uint32_t at;         // read back to here
    std::uint64_t key;        // of the entry before `at`
  };
  std::vector<FoldCursor> fold_cursors_ GUARDED_BY(lock_);
  core::PerThread<LoneThread> lone_;
};

// dd->lock as every locked call takes it: the gate is closed and the lone
// steps folded in first; after a step that could have been lone, the gate
// opens again on release where it may. Const callers (the debugfs reads)
// fold too: that changes how the state is kept, not what it is.
class SCOPED_CAPABILITY MqDeadline::Hold {
 public:
  enum Why {
    kIo,        // an insert or dispatch no lone step could make
    kLoneStep,  // a step that could have been lone
    kInspect,   // a counter, tunable or state read or written (not counted against the gate)
  };
  explicit Hold(const MqDeadline& dd, Why why = kIo) ACQUIRE(dd.lock_);
  ~Hold() RELEASE();
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  MqDeadline& dd_;
  Why why_;
};

}  // namespace iostack::sched
