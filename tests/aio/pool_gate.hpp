// Holds the AIO worker pool of a process at a known point:
// the pool is bounded to `workers` threads and each runs a work that waits
// until the gate opens, so requests queued meanwhile wait in the queue with
// their descriptors, priorities and limits as io_submit left them.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "aio/aio_wq.hpp"
#include "aio_backends.hpp"

namespace iostack::aio::testing {

class PoolGate {
 public:
  explicit PoolGate(unsigned workers) : n_(workers < kMax ? workers : kMax) {
    old_max_ = aio_wq_set_max_workers(n_);
    // Idle workers above the bound, left by earlier tests of this process,
    // leave first: none of them may take a request meant to wait.
    for (int ms = 0; ms < 2000 && aio_wq_stats().nr_workers > n_; ++ms)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (unsigned i = 0; i < n_; ++i) {
      works_[i].fn = hold;
      works_[i].owner = this;
      aio_wq_queue_one(&works_[i]);
    }
    // Every worker is inside hold() now.
    for (unsigned got = entered_.load(); got < n_; got = entered_.load()) entered_.wait(got);
  }
  ~PoolGate() {
    open();
    for (unsigned got = left_.load(); got < n_; got = left_.load()) left_.wait(got);
    aio_wq_set_max_workers(old_max_);
  }
  PoolGate(const PoolGate&) = delete;
  PoolGate& operator=(const PoolGate&) = delete;

  void open() {
    open_.store(true);
    open_.notify_all();
  }

 private:
  static constexpr unsigned kMax = 8;
  WorkersServeDirectIo workers_only_;
  static void hold(AioWork* w) {
    auto* g = static_cast<PoolGate*>(w->owner);
    g->entered_.fetch_add(1);
    g->entered_.notify_all();
    g->open_.wait(false);
    g->left_.fetch_add(1);
    g->left_.notify_all();
  }

  unsigned n_;
  unsigned old_max_ = 0;
  AioWork works_[kMax];
  std::atomic<unsigned> entered_{0};
  std::atomic<unsigned> left_{0};
  std::atomic<bool> open_{false};
};

}  // namespace iostack::aio::testing
