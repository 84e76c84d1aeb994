#include "aio/aio_wq.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "aio/futex.hpp"

namespace iostack::aio {
namespace {

struct Worker {
  std::atomic<std::uint32_t> wake{0};
};

class WorkPool {
 public:
  explicit WorkPool(unsigned max) : max_(max) { idle_.reserve(max); }

  void queue(AioWorkBatch* batch) {
    constexpr unsigned kMaxWake = 128;
    Worker* to_wake[kMaxWake];
    unsigned nwake = 0;
    unsigned spawn = 0;
    {
      std::lock_guard g(lock_);
      pending_ += batch->count;
      batch->list.splice_tail_init(&work_);
      unsigned want = batch->count;
      batch->count = 0;
      while (want > 0 && !idle_.empty() && nwake < kMaxWake) {
        to_wake[nwake++] = idle_.back();
        idle_.pop_back();
        --want;
      }
      while (want > 0 && idle_.empty() && nr_workers_ < max_) {
        ++nr_workers_;
        ++spawn;
        --want;
      }
    }
    for (unsigned i = 0; i < nwake; ++i) {
      to_wake[i]->wake.store(1, std::memory_order_release);
      futex_wake(&to_wake[i]->wake, 1);
    }
    for (unsigned i = 0; i < spawn; ++i) {
      try {
        std::thread([this] { run(); }).detach();
      } catch (...) {
        std::lock_guard g(lock_);
        --nr_workers_;
      }
    }
  }

 private:
  void run() {
    // Workers never take the process's signals; their blocking calls then
    // finish instead of failing with EINTR.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    Worker self;
    for (;;) {
      AioWork* w = nullptr;
      {
        std::lock_guard g(lock_);
        if (!work_.empty()) {
          core::ListHead* n = work_.first();
          n->del();
          --pending_;
          w = core::list_entry<AioWork, &AioWork::node>(n);
        } else {
          self.wake.store(0, std::memory_order_relaxed);
          idle_.push_back(&self);
        }
      }
      if (w != nullptr) {
        w->fn(w);
        continue;
      }
      while (self.wake.load(std::memory_order_acquire) == 0) futex_wait(&self.wake, 0, nullptr);
    }
  }

  std::mutex lock_;
  core::ListHead work_;
  std::vector<Worker*> idle_;
  unsigned pending_ = 0;
  unsigned nr_workers_ = 0;
  const unsigned max_;
};

std::atomic<WorkPool*> g_pool{nullptr};
std::mutex g_pool_init;

void reset_after_fork() {
  // The child has none of the parent's threads: start a fresh pool (the old
  // one's memory is left behind, as its lock may be held forever).
  g_pool.store(nullptr, std::memory_order_relaxed);
  new (&g_pool_init) std::mutex();
}

WorkPool* pool() {
  WorkPool* p = g_pool.load(std::memory_order_acquire);
  if (p != nullptr) return p;
  std::lock_guard g(g_pool_init);
  p = g_pool.load(std::memory_order_relaxed);
  if (p == nullptr) {
    static std::once_flag atfork;
    std::call_once(atfork, [] { pthread_atfork(nullptr, nullptr, reset_after_fork); });
    p = new WorkPool(aio_wq_max_workers());
    g_pool.store(p, std::memory_order_release);
  }
  return p;
}

}  // namespace

unsigned aio_wq_max_workers() {
  static const unsigned n = [] {
    const char* e = std::getenv("IOSTACK_AIO_MAX_WORKERS");
    if (e != nullptr) {
      const long v = std::strtol(e, nullptr, 10);
      if (v > 0 && v < 100000) return static_cast<unsigned>(v);
    }
    return 256u;
  }();
  return n;
}

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
