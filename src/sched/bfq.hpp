// struct bfq_data (block/bfq-iosched.c, bfq-iosched.h): the Budget Fair
// Queueing scheduler. Each process (io_context) gets a sync queue, async
// requests go to one queue per priority class and level; queues are served
// one at a time with a budget in sectors, chosen by B-WF2Q+ on their
// virtual start and finish times (bfq_wf2q.cpp), with idling for sync
// queues, budget timeouts and feedback, and weight raising for interactive
// and soft real-time queues. Groups (bfq_cgroup.cpp) nest queues and
// other groups under the io cgroups' weights.
#pragma once

#include <array>
#include <atomic>
#include <boost/intrusive/set.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "block/elevator.hpp"
#include "block/request.hpp"
#include "core/clock.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "task/icq.hpp"

namespace iostack::task {
struct Blkcg;
struct IoContext;
}  // namespace iostack::task

namespace iostack::sched {

class Bfq;
struct BfqData;
struct BfqGroup;
struct BfqQueue;
struct BfqSchedData;

// Classes of the service trees, in service order (ioprio class - 1).
constexpr unsigned kBfqClasses = 3;
constexpr unsigned kBfqWeightCoeff = 10;  // BFQ_WEIGHT_CONVERSION_COEFF
constexpr unsigned kBfqMinWeight = 1;
constexpr unsigned kBfqMaxWeight = 1000;
constexpr unsigned kBfqDefaultIoprio = 4;  // BFQ_DEFAULT_QUEUE_IOPRIO
// The kernel keeps timeout_sync in jiffies; this is the HZ of Debian's
// kernels (and of the machine the tunables were checked on).
constexpr unsigned kBfqHz = 250;

// bfq_ioprio_to_weight: level 0 -> 80 ... level 7 -> 10.
constexpr unsigned bfq_ioprio_to_weight(unsigned level) { return (8 - level) * kBfqWeightCoeff; }

// enum bfqq_expiration.
enum class BfqExpire { TOO_IDLE, BUDGET_TIMEOUT, BUDGET_EXHAUSTED, NO_MORE_REQUESTS, PREEMPTED };

// struct bfq_entity (bfq-iosched.h): what B-WF2Q+ schedules, a queue or a
// group, in the sched_data of its parent group.
struct BfqEntity {
  enum class Tree : std::uint8_t { NONE, ACTIVE, IDLE };
  boost::intrusive::set_member_hook<> rb_node;
  BfqQueue* bfqq = nullptr;               // the queue it is; nullptr: a group
  BfqEntity* parent = nullptr;            // its group's entity; nullptr: in the root group
  BfqSchedData* sched_data = nullptr;     // where it is scheduled
  BfqSchedData* my_sched_data = nullptr;  // a group's own
  BfqQueue* last_bfqq_created = nullptr;  // a group's candidate for stable merging
  bool in_groups_with_pending_reqs = false;
  Tree tree = Tree::NONE;
  bool on_st_or_in_serv = false;
  bool prio_changed = false;
  std::uint64_t start = 0, finish = 0;  // virtual times
  int budget = 0;
  int service = 0;
  unsigned weight = 0, orig_weight = 0, new_weight = 0;
};

// bfq_gt: a > b on wrapping virtual times.
inline bool bfq_gt(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::int64_t>(a - b) > 0;
}

struct BfqFinishKey {
  using type = std::uint64_t;
  std::uint64_t operator()(const BfqEntity& e) const { return e.finish; }
};
struct BfqFinishLess {
  bool operator()(std::uint64_t a, std::uint64_t b) const { return bfq_gt(b, a); }
};
using BfqTree = boost::intrusive::multiset<
    BfqEntity,
    boost::intrusive::member_hook<BfqEntity, boost::intrusive::set_member_hook<>,
                                  &BfqEntity::rb_node>,
    boost::intrusive::key_of_value<BfqFinishKey>, boost::intrusive::compare<BfqFinishLess>>;

// struct bfq_service_tree: active entities and idle ones that keep their
// finish time until the virtual time passes it, both ordered by finish.
// The kernel augments the active tree with the subtree's minimum start to
// find the first eligible entity in O(log n); few queues are ever active,
// so the lookup here walks the tree in finish order instead.
struct BfqServiceTree {
  BfqTree active;
  BfqTree idle;
  std::uint64_t vtime = 0;
  unsigned long wsum = 0;
};

// struct bfq_sched_data: a group's service trees.
struct BfqSchedData {
  BfqGroup* group = nullptr;  // whose it is
  BfqEntity* in_service_entity = nullptr;
  BfqEntity* next_in_service = nullptr;
  BfqServiceTree service_tree[kBfqClasses];
  std::uint64_t class_idle_last_service = 0;  // jiffies (ns)
};

// struct bfq_ttime.
struct BfqTtime {
  std::uint64_t last_end_request = 0;
  std::uint64_t ttime_total = 0;
  unsigned long ttime_samples = 0;
  std::uint64_t ttime_mean = 0;
};

// struct bfq_io_cq: one io_context's queues on this scheduler.
struct BfqIoCq {
  task::IoCq icq;  // first member: the icq callbacks cast back
  BfqData* bfqd = nullptr;
  BfqQueue* bfqq[2] = {nullptr, nullptr};  // [is_sync]
  int ioprio = -1;                         // the priority the queues were set up for
  std::uint64_t blkcg_serial = 0;          // the cgroup the queues belong to (0: none yet)
  BfqGroup* bfqg = nullptr;                // and its group
  // Stable merging: the queue created just before this process's, to be
  // merged with once both have run a while (bfq_iocq_bfqq_data).
  BfqQueue* stable_merge_bfqq = nullptr;
  bool stably_merged = false;
  int requests = 0;  // its requests in the scheduler or the device
  // The sync queue's state when it was merged, restored on a split.
  bool saved = false;
  unsigned saved_weight = 0;
  BfqTtime saved_ttime;
  bool saved_has_short_ttime = false, saved_IO_bound = false, saved_in_large_burst = false;
  std::uint64_t saved_io_start_time = 0, saved_tot_idle_time = 0;
  unsigned saved_wr_coeff = 1;
  unsigned long saved_service_from_wr = 0;
  std::uint64_t saved_wr_start_at_switch_to_srt = 0, saved_last_wr_start_finish = 0;
  std::uint64_t saved_wr_cur_max_time = 0;
};

// bfqq->flags (BFQQF_*).
enum BfqqFlag : unsigned {
  BFQQF_just_created = 1u << 0,
  BFQQF_busy = 1u << 1,
  BFQQF_wait_request = 1u << 2,
  BFQQF_non_blocking_wait_rq = 1u << 3,
  BFQQF_fifo_expire = 1u << 4,
  BFQQF_has_short_ttime = 1u << 5,
  BFQQF_sync = 1u << 6,
  BFQQF_IO_bound = 1u << 7,
  BFQQF_softrt_update = 1u << 8,
  BFQQF_coop = 1u << 9,  // shared by merged processes
  BFQQF_in_large_burst = 1u << 10,
  BFQQF_split_coop = 1u << 11,  // shared but seeky: split at the next request
};

// struct bfq_queue (bfq-iosched.h).
struct BfqQueue {
  int ref = 0;         // process, request, service-tree, weight-counter and stable-merge references
  int stable_ref = 0;  // processes planning a stable merge with it
  BfqQueue* new_bfqq = nullptr;     // the queue it is being merged into
  std::uint64_t creation_time = 0;  // jiffies (ns)
  int allocated = 0;                // requests holding a reference
  BfqEntity entity;
  BfqData* bfqd = nullptr;
  BfqIoCq* bic = nullptr;  // the one process using it (sync queues)
  block::SectorTree sort_list;
  block::Request* next_rq = nullptr;
  int queued[2] = {0, 0};  // [is_sync]
  int dispatched = 0;
  unsigned flags = 0;
  core::ListHead fifo;
  core::ListHead all_node;     // on BfqData::all_queues
  core::ListHead burst_node;   // on BfqData::burst_list while in the current burst
  core::ListHead active_node;  // on BfqData::active_list while on an active tree
  // On BfqData::pos_tree, by the position of next_rq (merge candidates).
  boost::intrusive::set_member_hook<> pos_node;
  // Injection: how many requests of other queues may be in flight while
  // this one, in service, is idled for (bfq_update_inject_limit).
  unsigned inject_limit = 0;
  std::uint64_t last_serv_time_ns = 0;
  std::uint64_t decrease_time_jif = 0;
  unsigned short ioprio = 0, ioprio_class = 0;
  unsigned short new_ioprio = 0, new_ioprio_class = 0;
  int max_budget = 0;
  std::uint64_t budget_timeout = 0;  // jiffies (ns)
  block::sector_t last_request_pos = 0;
  std::uint32_t seek_history = 0;
  BfqTtime ttime;
  std::uint64_t io_start_time = 0;  // bfq_update_io_intensity's window
  std::uint64_t tot_idle_time = 0;
  int pid = -1;
  struct BfqPosTree* pos_root = nullptr;  // the group's rq_pos_tree it is on
  unsigned weight_counter = 0;            // the weight counted in the weights table, 0: none
  // Weight raising (low_latency).
  unsigned wr_coeff = 1;
  std::uint64_t last_wr_start_finish = 0;
  std::uint64_t wr_cur_max_time = 0;
  std::uint64_t soft_rt_next_start = 0;
  std::uint64_t last_idle_bklogged = 0;
  unsigned long service_from_backlogged = 0;
  unsigned long service_from_wr = 0;
  std::uint64_t wr_start_at_switch_to_srt = 0;
  std::uint64_t split_time = 0;
  std::uint64_t first_IO_time = 0;

  bool has(BfqqFlag f) const { return flags & f; }
  void mark(BfqqFlag f) { flags |= f; }
  void clear(BfqqFlag f) { flags &= ~f; }
};

// rq_pos_tree: a group's busy queues by the sector of their next request.
struct BfqPosKey {
  using type = block::sector_t;
  block::sector_t operator()(const BfqQueue& q) const { return block::blk_rq_pos(q.next_rq); }
};
struct BfqPosTree : boost::intrusive::multiset<
                        BfqQueue,
                        boost::intrusive::member_hook<BfqQueue, boost::intrusive::set_member_hook<>,
                                                      &BfqQueue::pos_node>,
                        boost::intrusive::key_of_value<BfqPosKey>> {};

// struct bfq_group (bfq-iosched.h): the scheduler's state for one io cgroup
// on this queue: its entity in the parent group, its own service trees,
// async queues and merge candidates.
struct BfqGroup {
  BfqEntity entity;
  BfqSchedData sched_data;
  BfqEntity* my_entity = nullptr;  // nullptr: the root group
  BfqData* bfqd = nullptr;
  const task::Blkcg* blkcg = nullptr;  // nullptr: the root cgroup
  std::uint64_t weight_gen = 0;        // the cgroup's weight writes seen
  BfqQueue* async_bfqq[2][8] = {};     // [RT, BE][level]
  BfqQueue* async_idle_bfqq = nullptr;
  int active_entities = 0;
  int num_queues_with_pending_reqs = 0;
  BfqPosTree rq_pos_tree;
};

// Per-process service counters for tests and the oracle comparison.
struct BfqQueueInfo {
  int pid;
  std::string cgroup;  // its group's cgroup path ("": the root)
  bool sync;
  unsigned ioprio_class, ioprio, weight, wr_coeff;
  int max_budget, budget;
  bool in_service, busy;
};

// struct bfq_data: the scheduler's state, used by the functions of
// bfq_internal.hpp with lock held.
struct BfqData {
  core::Mutex lock;  // bfqd->lock
  Bfq* elv = nullptr;
  block::RequestQueue* queue = nullptr;
  core::Clock* clock = nullptr;
  task::IcqList icqs;  // every bic, released with the scheduler
  core::ListHead all_queues;

  BfqGroup root_group;
  // The other groups, by cgroup; they live as long as the scheduler.
  std::map<const task::Blkcg*, std::unique_ptr<BfqGroup>> groups;
  int num_groups_with_pending_reqs = 0;
  BfqQueue* in_service_queue = nullptr;
  unsigned busy_queues[kBfqClasses] = {0, 0, 0};
  unsigned wr_busy_queues = 0;
  std::atomic<unsigned> queued{0};  // requests in the scheduler (has_work reads it unlocked)
  std::atomic<unsigned> tot_busy{0};
  int rq_in_driver = 0;
  int max_rq_in_driver = 0;
  int hw_tag = -1;
  int hw_tag_samples = 0;
  bool nonrot = false;
  bool nonrot_with_queueing = false;
  core::ListHead dispatch;  // at-head requests
  std::atomic<bool> dispatch_nonempty{false};

  // queue_weights_tree: counts of busy (or in-flight) non-raised queues by
  // weight, sorted by weight.
  struct WeightCount {
    unsigned weight;
    int num_active;
  };
  std::array<WeightCount, 32> weights{};
  unsigned nr_weights = 0;

  // Peak rate estimation and budget auto-tuning.
  std::uint32_t peak_rate_samples = 0;
  std::uint32_t sequential_samples = 0;
  std::uint64_t tot_sectors_dispatched = 0;
  std::uint32_t last_rq_max_size = 0;
  std::uint64_t delta_from_first = 0;
  std::uint64_t first_dispatch = 0;
  std::uint64_t last_dispatch = 0;
  std::uint64_t last_completion = 0;
  block::sector_t last_position = 0;
  block::sector_t in_serv_last_pos = 0;
  std::uint32_t peak_rate = 0;
  std::uint64_t rate_dur_prod = 0;
  std::uint64_t last_budget_start = 0;
  std::uint64_t last_idling_start = 0;
  int budgets_assigned = 0;

  BfqQueue* bio_bfqq = nullptr;  // the merging bio's queue (bfq_bio_merge)
  BfqIoCq* bio_bic = nullptr;
  BfqQueue* last_bfqq_created = nullptr;  // the root group's candidate for stable merging
  // Queues on an active tree, newest first (the injection candidates).
  core::ListHead active_list;
  // Injection state (bfq_update_inject_limit).
  bool rqs_injected = false;
  bool wait_dispatch = false;
  block::Request* waited_rq = nullptr;
  std::uint64_t last_empty_occupied_ns = 0;
  std::uint64_t last_idling_start_jiffies = 0;

  // Large-burst detection: queues created shortly after each other.
  core::ListHead burst_list;
  int burst_size = 0;
  bool large_burst = false;
  std::uint64_t last_ins_in_burst = 0;  // jiffies (ns)
  int large_burst_thresh = 8;
  std::uint64_t burst_interval = 180 * core::kNsPerMs;

  unsigned word_depths[2][2] = {{0, 0}, {0, 0}};  // [wr busy][sync]

  core::Timer idle_slice_timer;
  core::Timer dispatch_timer;     // bfq_schedule_dispatch, run off the caller's stack
  void (*kick)(void*) = nullptr;  // replaces the queue runs (tests)
  void* kick_arg = nullptr;

  // Tunables (bfqd->bfq_*); times in ns except timeout, in jiffies.
  int bfq_max_budget = 16 * 1024;
  unsigned long user_max_budget = 0;
  std::uint64_t fifo_expire[2] = {core::kNsPerSec / 4, core::kNsPerSec / 8};  // [is_sync]
  unsigned long back_max = 16 * 1024;
  unsigned long back_penalty = 2;
  std::uint64_t slice_idle = core::kNsPerSec / 125;
  unsigned long timeout = kBfqHz / 8;
  bool strict_guarantees = false;
  bool low_latency = true;
  unsigned wr_coeff = 30;
  std::uint64_t wr_rt_max_time = 300 * core::kNsPerMs;
  std::uint64_t wr_min_idle_time = 2000 * core::kNsPerMs;
  std::uint64_t wr_min_inter_arr_async = 500 * core::kNsPerMs;
  unsigned long wr_max_softrt_rate = 7000;
};

class Bfq final : public block::Elevator {
 public:
  explicit Bfq(block::RequestQueue* q);
  ~Bfq() override;

  const char* name() const override { return "bfq"; }

  // --- elevator_mq_ops ---
  void init_hctx(block::HwCtx* hctx) override;
  void depth_updated(block::HwCtx* hctx) override;
  void limit_depth(block::AllocData* data) override;
  bool bio_merge(block::Bio* bio, unsigned nr_segs) override;
  // The merge helpers below run inside bio_merge and insert_requests, with
  // the scheduler lock held.
  bool allow_merge(block::Request* rq, block::Bio* bio) override;
  block::ElvMerge request_merge(block::Request** rq, block::Bio* bio) override;
  void request_merged(block::Request* rq, block::ElvMerge type) override;
  void requests_merged(block::Request* rq, block::Request* next) override;
  block::Request* former_request(block::Request* rq) override;
  block::Request* next_request(block::Request* rq) override;
  // Binds the request to the submitting task's io_context.
  void prepare_request(block::Request* rq) override;
  void finish_request(block::Request* rq) override;
  void requeue_request(block::Request* rq) override;
  void completed_request(block::Request* rq, std::uint64_t now_ns) override;
  void insert_requests(block::HwCtx* hctx, core::ListHead* list, unsigned flags) override;
  block::Request* dispatch_request(block::HwCtx* hctx) override;
  bool has_work(block::HwCtx* hctx) override;

  // prepare_request for a given io_context (the tests' processes); holds a
  // reference on it until the request is freed. nullptr: no io_context.
  void assign_ioc(block::Request* rq, task::IoContext* ioc);
  // Tests that dispatch by hand: what the timers would do instead of
  // running the hardware queues.
  void set_kick(void (*fn)(void*), void* arg) {
    d_.kick = fn;
    d_.kick_arg = arg;
  }

  // --- iosched/ tunables ---
  std::vector<std::string> attr_names() const override;
  int attr_show(const std::string& name, std::string* out) const override;
  int attr_store(const std::string& name, const std::string& value) override;

  // --- introspection ---
  std::vector<BfqQueueInfo> queues() const;
  // The weight of the group of cgroup `cg` (0: no such group yet).
  unsigned group_weight(const task::Blkcg* cg) const;
  int max_budget() const;  // bfqd->bfq_max_budget
  std::uint32_t peak_rate() const;
  bool idling() const;  // the in-service queue waits for a request
  int in_service_pid() const;

 private:
  mutable BfqData d_;
};

}  // namespace iostack::sched
