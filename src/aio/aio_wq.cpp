#include "aio/aio_wq.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>

#include "aio/futex.hpp"
#include "core/internal_thread.hpp"

namespace iostack::aio {
namespace {

constexpr unsigned kDefaultMaxWorkers = 256;
constexpr int kDefaultIdleMs = 5000;  // io-wq's WORKER_IDLE_TIMEOUT
constexpr unsigned kMaxWakeBatch = 32;

class WorkPool;

// struct io_worker (io_uring/io-wq.c): what a worker needs while it sleeps.
struct Worker {
  WorkPool* pool = nullptr;
  core::ListHead idle_node;  // on the pool's idle list while asleep
  std::atomic<std::uint32_t> wake{0};
  bool free_soon = false;  // counted in nr_finishing_ by aio_wq_free_soon()
};

thread_local Worker* t_worker = nullptr;

struct timespec deadline_in_ms(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_nsec -= 1000000000L;
    t.tv_sec += 1;
  }
  return t;
}

// struct io_wq with a single accounting class: every AIO work may block on
// I/O for a bounded time.
class WorkPool {
 public:
  WorkPool(unsigned max, int idle_ms) : max_(max), idle_ms_(idle_ms) {}

  void queue(AioWorkBatch* batch) {
    {
      std::lock_guard g(lock_);
      nr_queued_ += batch->count;
      batch->list.splice_tail_init(&work_);
      batch->count = 0;
    }
    provide_workers();
  }

  unsigned set_max(unsigned n) {
    unsigned old;
    {
      std::lock_guard g(lock_);
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
      std::lock_guard g(lock_);
      old = idle_ms_;
      idle_ms_ = ms;
    }
    wake_idle();  // so that the sleepers take the new timeout
    return old;
  }

  unsigned max() {
    std::lock_guard g(lock_);
    return max_;
  }

  AioWqStats stats() {
    std::lock_guard g(lock_);
    return AioWqStats{nr_workers_, nr_idle_};
  }

 private:
  // io_wq_enqueue(): every queued work needs a worker that will look at the
  // list: one already waking or starting, one just back from its last work
  // (it checks the list before sleeping), a sleeping one woken now, or,
  // below the bound, a new one.
  void provide_workers() {
    for (;;) {
      Worker* to_wake[kMaxWakeBatch];
      unsigned nwake = 0;
      unsigned spawn = 0;
      {
        std::lock_guard g(lock_);
        long deficit = static_cast<long>(nr_queued_) - static_cast<long>(nr_waking_) -
                       static_cast<long>(nr_finishing_.load(std::memory_order_relaxed));
        while (deficit > 0 && !idle_.empty() && nwake < kMaxWakeBatch) {
          to_wake[nwake++] = claim_idle_locked();
          --deficit;
        }
        if (nwake < kMaxWakeBatch) {
          while (deficit > 0 && nr_workers_ < max_) {
            ++nr_workers_;
            ++nr_waking_;
            ++spawn;
            --deficit;
          }
        }
      }
      for (unsigned i = 0; i < nwake; ++i) futex_wake(&to_wake[i]->wake, 1);
      for (unsigned i = 0; i < spawn; ++i) start_worker();
      if (nwake < kMaxWakeBatch) return;
    }
  }

  // Takes the most recently idle worker off the list and marks it woken;
  // the caller wakes its futex once the lock is dropped.
  Worker* claim_idle_locked() {
    Worker* w = core::list_entry<Worker, &Worker::idle_node>(idle_.first());
    w->idle_node.del();
    --nr_idle_;
    ++nr_waking_;
    w->wake.store(1, std::memory_order_relaxed);
    return w;
  }

  void wake_idle() {
    for (;;) {
      Worker* to_wake[kMaxWakeBatch];
      unsigned nwake = 0;
      {
        std::lock_guard g(lock_);
        while (!idle_.empty() && nwake < kMaxWakeBatch) to_wake[nwake++] = claim_idle_locked();
      }
      for (unsigned i = 0; i < nwake; ++i) futex_wake(&to_wake[i]->wake, 1);
      if (nwake < kMaxWakeBatch) return;
    }
  }

  void start_worker() {
    auto* w = new (std::nothrow) Worker;
    int err = -ENOMEM;
    if (w != nullptr) {
      w->pool = this;
      err = core::start_internal_thread("iostack-aio-wq", worker_main, w);
    }
    if (err == 0) return;
    delete w;
    bool alone;
    {
      std::lock_guard g(lock_);
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
        std::lock_guard g(lock_);
        if (work_.empty()) return;
        w = take_locked();
      }
      w->fn(w);
    }
  }

  AioWork* take_locked() {
    core::ListHead* n = work_.first();
    n->del();
    --nr_queued_;
    return core::list_entry<AioWork, &AioWork::node>(n);
  }

  static void worker_main(void* arg) {
    auto* self = static_cast<Worker*>(arg);
    t_worker = self;
    self->pool->run(self);
    t_worker = nullptr;
    delete self;
  }

 public:
  void free_soon(Worker* self) {
    if (self->free_soon) return;
    self->free_soon = true;
    nr_finishing_.fetch_add(1, std::memory_order_relaxed);
  }

 private:

  // io_wq_worker(): runs queued work until it has been idle too long.
  void run(Worker* self) {
    std::unique_lock g(lock_);
    --nr_waking_;
    for (;;) {
      if (!work_.empty()) {
        AioWork* w = take_locked();
        g.unlock();
        w->fn(w);
        // Counted as available until it has looked at the list again.
        free_soon(self);
        g.lock();
        nr_finishing_.fetch_sub(1, std::memory_order_relaxed);
        self->free_soon = false;
        continue;
      }
      if (!sleep_idle(self, g)) return;
    }
  }

  // With the lock held: sleeps until queue() claims this worker (true) or
  // the worker should leave (false, already counted out).
  bool sleep_idle(Worker* self, std::unique_lock<std::mutex>& g) {
    if (nr_workers_ > max_) {
      --nr_workers_;
      return false;
    }
    self->wake.store(0, std::memory_order_relaxed);
    // Most recently idle first: it is warm, and the others can time out.
    self->idle_node.add_head(&idle_);
    ++nr_idle_;
    struct timespec deadline = deadline_in_ms(idle_ms_);
    bool timed = true;
    for (;;) {
      g.unlock();
      int r = 0;
      if (self->wake.load(std::memory_order_acquire) == 0) {
        r = futex_wait(&self->wake, 0, timed ? &deadline : nullptr);
      }
      g.lock();
      if (!self->idle_node.linked()) {
        --nr_waking_;
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
    }
  }

  std::mutex lock_;
  core::ListHead work_;  // queued, not yet taken
  unsigned nr_queued_ = 0;
  core::ListHead idle_;  // sleeping workers
  unsigned nr_idle_ = 0;
  unsigned nr_workers_ = 0;                  // alive or starting
  unsigned nr_waking_ = 0;                   // woken or starting: will look at work_
  std::atomic<unsigned> nr_finishing_{0};    // back from a work: will look at work_
  unsigned max_;
  int idle_ms_;
};

std::atomic<WorkPool*> g_pool{nullptr};
std::mutex g_pool_init;

void reset_after_fork() {
  // The child has none of the parent's threads, and the old pool's lock may
  // be held forever: start a fresh pool (the old one's memory stays behind).
  g_pool.store(nullptr, std::memory_order_relaxed);
  new (&g_pool_init) std::mutex();
}

unsigned max_from_env() {
  const char* e = std::getenv("IOSTACK_AIO_MAX_WORKERS");
  if (e != nullptr) {
    const long v = std::strtol(e, nullptr, 10);
    if (v > 0 && v < 100000) return static_cast<unsigned>(v);
  }
  return kDefaultMaxWorkers;
}

WorkPool* pool() {
  WorkPool* p = g_pool.load(std::memory_order_acquire);
  if (p != nullptr) return p;
  std::lock_guard g(g_pool_init);
  p = g_pool.load(std::memory_order_relaxed);
  if (p == nullptr) {
    static std::once_flag atfork;
    std::call_once(atfork, [] { pthread_atfork(nullptr, nullptr, reset_after_fork); });
    static const unsigned env_max = max_from_env();
    p = new WorkPool(env_max, kDefaultIdleMs);
    g_pool.store(p, std::memory_order_release);
  }
  return p;
}

}  // namespace

void aio_wq_free_soon() {
  if (Worker* w = t_worker) w->pool->free_soon(w);
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
