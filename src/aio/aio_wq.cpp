// The AIO worker pool: workers started on demand, hand-offs, idle exit.
#include "aio/aio_wq.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/aio_wait_stats.hpp"
#include "core/exec_stats.hpp"
#include "core/futex.hpp"
#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/tsc.hpp"

namespace iostack::aio {
namespace {

constexpr unsigned kDefaultMaxWorkers = 256;
constexpr int kDefaultIdleMs = 5000;  // io-wq's WORKER_IDLE_TIMEOUT
constexpr unsigned kMaxWakeBatch = 32;
// Work may wait for a worker coming back from a quick work, instead of
// waking a sleeping one, while by their average duration it waits at most
// kHandoffBudgetNs, and while there is at most one such work per busy
// worker. A waking costs both threads a context switch and a futex call;
// waking for every work the returning workers would not take at once (a
// share of a quarter of them) made O_DIRECT reads at depth 32 cost a third
// more CPU, on 2 cores, for no more throughput.
constexpr std::int64_t kHandoffBudgetNs = 200000;
// Where waking a sleeper is slow -- the CPUs are busy, a woken thread waits
// for one -- every waking costs what the program is waiting for: the
// budget then grows to kHandoffWakeFactor times the wake-up's latency, up
// to kHandoffBudgetMaxNs. (On 2 loaded cores a 500 us budget cost a fifth
// less CPU per read than 200 us and read more.)
constexpr std::int64_t kHandoffWakeFactor = 10;
constexpr std::int64_t kHandoffBudgetMaxNs = 1000000;
// Queued works a caller looks through for one of its own: the queue holds
// about one per busy worker, and a caller's own are usually first.
constexpr unsigned kCallerScan = 64;

// Worker::wake: on the idle list but not yet asleep, asleep in futex_wait,
// or claimed by a waker (off the idle list).
constexpr std::uint32_t kIdleAwake = 0;
constexpr std::uint32_t kIdleClaimed = 1;
constexpr std::uint32_t kIdleAsleep = 2;

std::int64_t now_ns() { return static_cast<std::int64_t>(core::monotonic_ns()); }

struct timespec deadline_in_ms(int ms) {
  return core::futex_deadline_after(ms / 1000, static_cast<std::int64_t>(ms % 1000) * 1000000);
}

class WorkPool;

// struct io_worker (io_uring/io-wq.c): what a worker needs while it sleeps.
struct Worker {
  WorkPool* pool = nullptr;
  core::ListHead idle_node;  // on the pool's idle list while asleep
  std::atomic<std::uint32_t> wake{kIdleAwake};
  bool completing = false;    // counted in nr_completing_
  std::int64_t woken_at = 0;  // when a waker claimed it asleep (for avg_wake_ns_)
};

thread_local Worker* t_worker = nullptr;

// Workers claimed under the lock, to wake (or start) once it is dropped.
struct WakeList {
  Worker* w[kMaxWakeBatch];
  unsigned n = 0;
  unsigned claimed = 0;
  unsigned spawn = 0;
  bool full() const { return claimed == kMaxWakeBatch; }
};

// struct io_wq with a single accounting class (AIO's works all end: a
// device's latency for direct I/O, a flush for fsync).
//
// Waking a sleeping thread costs a context switch on each side, and the
// thread calling io_submit is usually the program's critical path. So work
// that arrives while workers are busy with quick works (direct I/O) may wait
// for one of them to come back -- it then takes the next work without
// sleeping, as a thread doing its own pread loop would -- within the bounds
// set by kHandoffBudgetNs. Only the rest wakes or starts workers.
class WorkPool {
 public:
  WorkPool(unsigned max, int idle_ms) : max_(max), idle_ms_(idle_ms) {}

  void queue(AioWorkBatch* batch) {
    for (;;) {
      WakeList wl;
      {
        core::LockGuard g(lock_);
        if (batch->count != 0) {
          if (core::ExecStats::enabled()) stamp_queued(batch);
          nr_queued_ += batch->count;
          batch->list.splice_tail_init(&work_);
          batch->count = 0;
        }
        provide(&wl);
      }
      wake(wl);
      if (!wl.full()) return;
    }
  }

  unsigned set_max(unsigned n) {
    unsigned old;
    {
      core::LockGuard g(lock_);
      old = max_;
      if (n != 0) max_ = n;
    }
    // Sleeping workers above the bound wake up and leave.
    wake_idle();
    return old;
  }

  int set_idle_ms(int ms) {
    int old;
    {
      core::LockGuard g(lock_);
      old = idle_ms_;
      idle_ms_ = ms;
    }
    wake_idle();  // so that the sleepers take the new timeout
    return old;
  }

  unsigned max() {
    core::LockGuard g(lock_);
    return max_;
  }

  AioWqStats stats() {
    core::LockGuard g(lock_);
    return AioWqStats{nr_workers_, nr_idle_, caller_runs_};
  }

  AioWork* take_for_caller(const void* group, std::uint64_t token, std::int64_t max_ns) {
    core::LockGuard g(lock_);
    if (nr_queued_ == 0) return nullptr;
    if (max_ns != INT64_MAX && (avg_quick_ns_ == 0 || avg_quick_ns_ > max_ns)) return nullptr;
    // Work a woken worker is on its way to take stays: the waking is paid
    // already, and the worker would find nothing and sleep again.
    if (nr_queued_ <= nr_waking_) return nullptr;
    unsigned seen = 0;
    for (core::ListHead* n = work_.first(); n != &work_ && seen < kCallerScan;
         n = n->next, ++seen) {
      AioWork* w = core::list_entry<AioWork, &AioWork::node>(n);
      if (w->quick && w->submitter == token && w->group == group) return take(n);
    }
    return nullptr;
  }

  void caller_ran(std::int64_t took) {
    core::LockGuard g(lock_);
    ++caller_runs_;
    note_quick(took);
  }

  static void worker_main(void* arg) {
    auto* self = static_cast<Worker*>(arg);
    t_worker = self;
    self->pool->run(self);
    t_worker = nullptr;
    delete self;
  }

  void completing(Worker* self) {
    if (self->completing) return;
    self->completing = true;
    nr_completing_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  // io_wq_enqueue() / io_wqe_activate_free_worker(): every queued work needs
  // a worker that will look at the list: one woken or starting, one coming
  // back from a quick work within the hand-off bounds, a sleeping one woken
  // now, or -- unless a worker finishing its work right now will take it --
  // below the bound, a new one.
  void provide(WakeList* wl) REQUIRES(lock_) {
    long deficit = static_cast<long>(nr_queued_) - static_cast<long>(nr_waking_);
    if (deficit <= 0) return;
    if (nr_busy_quick_ != 0) {
      // Before the first quick work has ended its duration is unknown: one
      // work may wait for each busy worker.
      const long busy = static_cast<long>(nr_busy_quick_);
      const long by_time =
          avg_quick_ns_ != 0 ? static_cast<long>(handoff_budget() * nr_busy_quick_ / avg_quick_ns_)
                             : busy;
      deficit -= busy < by_time ? busy : by_time;
    }
    while (deficit > 0 && !idle_.empty() && !wl->full()) {
      claim_idle(wl);
      --deficit;
    }
    if (wl->full()) return;
    // A worker that has posted its event (or is about to) looks at the list
    // next: a program reacting to that event at once must not get a new
    // thread for it. Only sleepers are woken on that account, as such a
    // worker may be preempted by the very thread it woke.
    deficit -= static_cast<long>(nr_completing_.load(std::memory_order_relaxed));
    while (deficit > 0 && nr_workers_ < max_) {
      ++nr_workers_;
      ++nr_waking_;
      ++wl->spawn;
      --deficit;
    }
  }

  std::int64_t handoff_budget() const REQUIRES(lock_) {
    const std::int64_t by_wake = kHandoffWakeFactor * avg_wake_ns_;
    if (by_wake <= kHandoffBudgetNs) return kHandoffBudgetNs;
    return by_wake < kHandoffBudgetMaxNs ? by_wake : kHandoffBudgetMaxNs;
  }

  void wake(const WakeList& wl) {
    for (unsigned i = 0; i < wl.n; ++i) core::futex_wake(&wl.w[i]->wake, 1);
    for (unsigned i = 0; i < wl.spawn; ++i) start_worker();
  }

  // Takes the most recently idle worker off the list and marks it claimed;
  // one already asleep goes on `wl` for a futex wake once the lock is
  // dropped (one not yet asleep sees the mark and does not sleep).
  void claim_idle(WakeList* wl) REQUIRES(lock_) {
    Worker* w = core::list_entry<Worker, &Worker::idle_node>(idle_.first());
    w->idle_node.del();
    --nr_idle_;
    ++nr_waking_;
    if (w->wake.exchange(kIdleClaimed, std::memory_order_acq_rel) == kIdleAsleep) {
      wl->w[wl->n++] = w;
      w->woken_at = now_ns();
    }
    ++wl->claimed;
  }

  void wake_idle() {
    for (;;) {
      WakeList wl;
      {
        core::LockGuard g(lock_);
        while (!idle_.empty() && !wl.full()) claim_idle(&wl);
      }
      wake(wl);
      if (!wl.full()) return;
    }
  }

  void start_worker() {
    auto* w = new (std::nothrow) Worker;
    int err = -ENOMEM;
    if (w != nullptr) {
      w->pool = this;
      err = core::start_detached_internal_thread(core::ThreadKind::kAio, worker_main, w);
    }
    if (err == 0) return;
    delete w;
    bool alone;
    {
      core::LockGuard g(lock_);
      --nr_workers_;
      --nr_waking_;
      alone = nr_workers_ == 0;
    }
    // Nobody would ever run the queued work: run it here, blocking the
    // submitter rather than losing requests.
    if (alone) run_queued_inline();
  }

  void run_queued_inline() {
    for (;;) {
      AioWork* w;
      {
        core::LockGuard g(lock_);
        if (work_.empty()) return;
        w = take(work_.first());
      }
      w->fn(w);
    }
  }

  AioWork* take(core::ListHead* n) REQUIRES(lock_) {
    n->del();
    --nr_queued_;
    AioWork* w = core::list_entry<AioWork, &AioWork::node>(n);
    if (w->queued_at != 0) {
      core::AioWaitStats& s = core::aio_wait_stats();
      s.add(&s.taken, &s.queued_ns, now_ns() - w->queued_at);
      w->queued_at = 0;
    }
    return w;
  }

  static void stamp_queued(AioWorkBatch* batch) {
    const std::int64_t now = now_ns();
    for (core::ListHead* n = batch->list.first(); n != &batch->list; n = n->next)
      core::list_entry<AioWork, &AioWork::node>(n)->queued_at = now;
  }

  // io_wq_worker(): runs queued work until it has been idle too long.
  void run(Worker* self) {
    core::UniqueLock g(lock_);
    --nr_waking_;
    for (;;) {
      if (work_.empty()) {
        if (!sleep_idle(self)) return;
        continue;
      }
      AioWork* w = take(work_.first());
      const bool quick = w->quick;
      if (quick) ++nr_busy_quick_;
      // Work still waiting beyond what the workers coming back will take
      // gets a sleeping worker now (the pool's conditions may have changed
      // since it was queued).
      WakeList wl;
      if (nr_queued_ != 0) provide(&wl);
      g.unlock();
      wake(wl);
      const std::int64_t start = quick ? now_ns() : 0;
      w->fn(w);  // may free w
      completing(self);
      const std::int64_t took = quick ? now_ns() - start : 0;
      g.lock();
      nr_completing_.fetch_sub(1, std::memory_order_relaxed);
      self->completing = false;
      if (quick) {
        --nr_busy_quick_;
        note_quick(took);
      }
    }
  }

  void note_quick(std::int64_t took) REQUIRES(lock_) {
    avg_quick_ns_ += (took - avg_quick_ns_) / 8;
    if (avg_quick_ns_ <= 0) avg_quick_ns_ = 1;
    // Few wakings are measured while the budget is large: the last
    // measure fades (half in about 700 works) so it cannot stay large
    // once the CPUs are free.
    avg_wake_ns_ -= avg_wake_ns_ / 1024;
  }

  // How long a claimed sleeper took to get back here, the lock included:
  // how busy the CPUs are.
  void note_wake_latency(Worker* self) REQUIRES(lock_) {
    if (self->woken_at == 0) return;
    const std::int64_t took = now_ns() - self->woken_at;
    self->woken_at = 0;
    avg_wake_ns_ += (took - avg_wake_ns_) / 8;
    if (core::ExecStats::enabled()) {
      core::AioWaitStats& s = core::aio_wait_stats();
      s.add(&s.woken, &s.wake_ns, took);
    }
  }

  // With the lock held: sleeps until queue() claims this worker (true) or
  // the worker should leave (false, already counted out).
  bool sleep_idle(Worker* self) REQUIRES(lock_) {
    if (nr_workers_ > max_) {
      --nr_workers_;
      return false;
    }
    self->wake.store(kIdleAwake, std::memory_order_relaxed);
    // Most recently idle first: it is warm, and the others can time out.
    self->idle_node.add_head(&idle_);
    ++nr_idle_;
    struct timespec deadline = deadline_in_ms(idle_ms_);
    bool timed = true;
    for (;;) {
      lock_.unlock();
      int r = 0;
      std::uint32_t awake = kIdleAwake;
      if (self->wake.compare_exchange_strong(awake, kIdleAsleep, std::memory_order_acq_rel)) {
        r = core::futex_wait(&self->wake, kIdleAsleep, timed ? &deadline : nullptr);
      }
      lock_.lock();
      if (!self->idle_node.linked()) {
        --nr_waking_;
        note_wake_latency(self);
        return true;
      }
      if (r == -ETIMEDOUT) {
        if (nr_workers_ > 1) {
          self->idle_node.del();
          --nr_idle_;
          --nr_workers_;
          return false;
        }
        timed = false;
      }
      self->wake.store(kIdleAwake, std::memory_order_relaxed);
    }
  }

  core::Mutex lock_;
  core::ListHead work_ GUARDED_BY(lock_);  // queued, not yet taken
  unsigned nr_queued_ GUARDED_BY(lock_) = 0;
  core::ListHead idle_ GUARDED_BY(lock_);  // sleeping workers
  unsigned nr_idle_ GUARDED_BY(lock_) = 0;
  unsigned nr_workers_ GUARDED_BY(lock_) = 0;        // alive or starting
  unsigned nr_waking_ GUARDED_BY(lock_) = 0;         // woken or starting: will look at work_
  std::atomic<unsigned> nr_completing_{0};           // ending a work: will look at work_
  unsigned nr_busy_quick_ GUARDED_BY(lock_) = 0;     // running a quick work
  std::int64_t avg_quick_ns_ GUARDED_BY(lock_) = 0;  // a quick work's duration, averaged
  std::int64_t avg_wake_ns_ GUARDED_BY(lock_) = 0;   // a sleeper's wake-up latency, averaged
  std::uint64_t caller_runs_ GUARDED_BY(lock_) = 0;
  unsigned max_ GUARDED_BY(lock_);
  int idle_ms_ GUARDED_BY(lock_);
};

unsigned max_from_env() {
  const char* e = std::getenv("IOSTACK_AIO_MAX_WORKERS");
  if (e != nullptr) {
    const long v = std::strtol(e, nullptr, 10);
    if (v > 0 && v < 100000) return static_cast<unsigned>(v);
  }
  return kDefaultMaxWorkers;
}

// The process's pool (a forked child gets a fresh one: the parent's
// threads, and any lock they held, stay behind).
struct ProcessPool {
  WorkPool pool{max_from_env(), kDefaultIdleMs};
};
WorkPool* pool() { return &core::Process::current().state<ProcessPool>().pool; }

}  // namespace

std::uint64_t aio_wq_thread_token() {
  static std::atomic<std::uint64_t> next{1};
  thread_local std::uint64_t token = 0;
  if (token == 0) token = next.fetch_add(1, std::memory_order_relaxed);
  return token;
}

bool aio_wq_on_submitter(const AioWork* w) {
  return w->submitter != 0 && w->submitter == aio_wq_thread_token();
}

AioWork* aio_wq_take_for_caller(const void* group, std::int64_t max_ns) {
  return pool()->take_for_caller(group, aio_wq_thread_token(), max_ns);
}

void aio_wq_caller_ran(std::int64_t took_ns) { pool()->caller_ran(took_ns); }

void aio_wq_completing() {
  if (Worker* w = t_worker) w->pool->completing(w);
}

unsigned aio_wq_max_workers() { return pool()->max(); }
unsigned aio_wq_set_max_workers(unsigned n) { return pool()->set_max(n); }
int aio_wq_set_idle_timeout_ms(int ms) { return pool()->set_idle_ms(ms); }
AioWqStats aio_wq_stats() { return pool()->stats(); }

void aio_wq_queue(AioWorkBatch* batch) {
  if (batch->count == 0) return;
  pool()->queue(batch);
}

void aio_wq_queue_one(AioWork* w) {
  AioWorkBatch b;
  b.add(w);
  aio_wq_queue(&b);
}

}  // namespace iostack::aio
