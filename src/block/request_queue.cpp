// Request queue set-up, elevator switching and freezing (block/blk-mq.c,
// elevator.c, blk-mq-sched.c).
#include "block/request_queue.hpp"

#include <sched.h>

#include <chrono>
#include <thread>

#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/elevator_registry.hpp"
#include "block/plug.hpp"
#include "core/clock.hpp"
#include "core/membarrier.hpp"
#include "core/mutex.hpp"

namespace iostack::block {
namespace {

// BLKDEV_DEFAULT_RQ: the cap on the hardware depth used to size scheduler tags.
constexpr unsigned kBlkdevDefaultRq = 128;

unsigned sched_depth(unsigned queue_depth) {
  return 2 * (queue_depth < kBlkdevDefaultRq ? queue_depth : kBlkdevDefaultRq);
}

}  // namespace

RequestQueue::RequestQueue(BlockDriver* driver, const TagSetConfig& set, const QueueLimits& limits,
                           core::Clock* clock)
    : driver_(driver), set_(set), limits_(limits), clock_(clock), nr_requests_(set.queue_depth) {
  if (set_.nr_hw_queues == 0) set_.nr_hw_queues = 1;
  if (set_.queue_depth == 0) set_.queue_depth = 1;
  nr_requests_ = set_.queue_depth;
  blk_validate_limits(&limits_);
  if (const std::size_t n = driver_->cmd_size()) {
    flush_pdu_.reset(
        new std::max_align_t[(n + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)]());
    fq_.flush_rq.pdu = flush_pdu_.get();
  }
  for (unsigned i = 0; i < set_.nr_hw_queues; ++i) {
    tags_.push_back(std::make_unique<BlkMqTags>(set_.queue_depth, driver_->cmd_size()));
    auto h = std::make_unique<HwCtx>();
    h->queue = this;
    h->queue_num = i;
    h->tags = tags_.back().get();
    h->delay_timer.fn = [](core::Timer* t) { blk_mq_run_hw_queue(static_cast<HwCtx*>(t->priv)); };
    h->delay_timer.priv = h.get();
    hctxs_.push_back(std::move(h));
  }
}

RequestQueue::~RequestQueue() {
  for (auto& h : hctxs_) clock_->cancel(&h->delay_timer);
}

HwCtx* RequestQueue::map_queue() const {
  if (hctxs_.size() == 1) return hctxs_[0].get();
  const int cpu = sched_getcpu();
  return hctxs_[static_cast<std::size_t>(cpu < 0 ? 0 : cpu) % hctxs_.size()].get();
}

// blk_queue_enter: a store to the thread's slot, then the frozen check. The
// barrier pairs with freeze()'s heavy one (percpu_ref_tryget_live under
// rcu_read_lock against percpu_ref_kill's grace period): either the freezer
// sees this reference or this enter sees the queue frozen.
void RequestQueue::enter() {
  for (;;) {
    core::local_add(usage_.local()->refs, 1L);
    core::light_barrier();
    if (!frozen_.load(std::memory_order_acquire)) [[likely]]
      return;
    exit();
    core::UniqueLock lock(freeze_mu_);
    while (frozen_.load(std::memory_order_acquire)) freeze_cv_.wait(lock);
  }
}

void RequestQueue::exit() {
  core::local_add(usage_.local()->refs, -1L);
  core::light_barrier();
  // Only the sum can say whether this was the last reference: while frozen,
  // every exit wakes the freezer to add up again.
  if (frozen_.load(std::memory_order_acquire)) [[unlikely]] {
    core::LockGuard lock(freeze_mu_);
    freeze_cv_.notify_all();
  }
}

void RequestQueue::get_many(long n) {
  if (n) core::local_add(usage_.local()->refs, n);
}

long RequestQueue::usage() const {
  long n = 0;
  usage_.for_each([&](const UsageSlot& s) { n += s.refs.load(std::memory_order_acquire); });
  return n;
}

void RequestQueue::freeze() {
  frozen_.store(true, std::memory_order_seq_cst);
  // After it, no enter misses the flag, and every reference taken before is
  // in the sum. With no new references, a slot only goes down, so a sum
  // read slot by slot is never below the true count: zero means drained.
  core::heavy_barrier();
  blk_run_all();
  // The wait is a sleep: like schedule(), it flushes this thread's plug,
  // whose cached requests hold references.
  blk_flush_current_plug_before_sleep();
  core::UniqueLock lock(freeze_mu_);
  while (usage() != 0) {
    if (!clock_->wait(lock, freeze_cv_)) break;  // nothing left that could end them
  }
}

void RequestQueue::drain_for_teardown() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (usage() != 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
}

void RequestQueue::unfreeze() {
  {
    core::LockGuard lock(freeze_mu_);
    frozen_.store(false, std::memory_order_release);
  }
  freeze_cv_.notify_all();
}

void RequestQueue::blk_run_all() {
  for (auto& h : hctxs_) blk_mq_run_hw_queue(h.get());
}

void RequestQueue::alloc_sched_tags(unsigned nr) {
  sched_tags_.clear();
  for (auto& h : hctxs_) {
    sched_tags_.push_back(std::make_unique<BlkMqTags>(nr, driver_->cmd_size()));
    h->sched_tags = sched_tags_.back().get();
  }
}

int RequestQueue::switch_elevator(std::unique_ptr<Elevator> e) {
  core::lockdep_assert_held(sysfs_lock_);
  freeze();
  elevator_.reset();
  for (auto& h : hctxs_) h->sched_tags = nullptr;
  sched_tags_.clear();
  if (e) {
    nr_requests_ = sched_depth(set_.queue_depth);
    alloc_sched_tags(nr_requests_);
    elevator_ = std::move(e);
    for (auto& h : hctxs_) {
      elevator_->init_hctx(h.get());
      elevator_->depth_updated(h.get());
    }
  } else {
    nr_requests_ = set_.queue_depth;
  }
  unfreeze();
  return 0;
}

int RequestQueue::set_elevator(const std::string& name) {
  core::LockGuard lock(sysfs_lock_);
  const std::string cur = elevator_ ? elevator_->name() : "none";
  if (name == cur) return 0;
  if (name == "none") return switch_elevator(nullptr);
  std::unique_ptr<Elevator> e = elevator_create(name, this);
  if (!e) return -EINVAL;
  if (elevator_ && std::string(e->name()) == elevator_->name()) return 0;
  return switch_elevator(std::move(e));
}

void RequestQueue::init_default_elevator() {
  set_elevator(hctxs_.size() == 1 ? "mq-deadline" : "none");
}

int RequestQueue::set_nr_requests(unsigned nr) {
  // BLKDEV_MIN_RQ; without an elevator the hardware depth is the ceiling,
  // with one MAX_SCHED_RQ.
  if (nr < 4) nr = 4;
  if (nr == nr_requests_) return 0;
  if (!elevator_ && nr > set_.queue_depth) return -EINVAL;
  if (elevator_ && nr > 16 * kBlkdevDefaultRq) return -EINVAL;
  freeze();
  if (elevator_) {
    alloc_sched_tags(nr);
  } else {
    tags_.clear();
    for (auto& h : hctxs_) {
      tags_.push_back(std::make_unique<BlkMqTags>(nr, driver_->cmd_size()));
      h->tags = tags_.back().get();
    }
  }
  nr_requests_ = nr;
  if (elevator_)
    for (auto& h : hctxs_) elevator_->depth_updated(h.get());
  unfreeze();
  return 0;
}

int RequestQueue::store_limits(const QueueLimits& lim) {
  QueueLimits next = lim;
  if (int err = blk_validate_limits(&next)) return err;
  freeze();
  limits_ = next;
  unfreeze();
  return 0;
}

void RequestQueue::set_nomerges(int v) { nomerges_.store(v, std::memory_order_relaxed); }

}  // namespace iostack::block
