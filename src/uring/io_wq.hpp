// struct io_wq (io_uring/io-wq.c, io-wq.h): the pool of worker threads that
// runs requests which would block. Two accounting classes, bounded (regular
// file and block I/O, at most min(sq_entries, 4 * online CPUs) workers) and
// unbounded (everything that may wait without end: pipes, sockets, ...).
// Workers start on demand and leave after an idle period; one pool can be
// shared by several rings (IORING_SETUP_ATTACH_WQ).
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/list.hpp"
#include "core/mutex.hpp"

namespace iostack::uring {

// IO_WQ_WORK_* flags.
constexpr std::uint32_t kWqWorkCancel = 1;
constexpr std::uint32_t kWqWorkUnbound = 4;
constexpr std::uint32_t kWqWorkLinked = 8;    // handed over by the work before it (run_next)
constexpr std::uint32_t kWqWorkTaskRun = 16;  // a ring's task work run here, not a request
constexpr std::uint32_t kWqWorkBehind = 32;   // queued by enqueue_behind

// IoWqWork::state bits.
constexpr std::uint32_t kWorkHeld = 1;
constexpr std::uint32_t kWorkPosted = 2;
constexpr std::uint32_t kWorkCounted = 4;  // in its ring's nr_iowq_posted

struct IoWqWork;
using IoWqFn = void (*)(IoWqWork*);

// struct io_wq_work (io_uring/io-wq.h)
struct IoWqWork {
  core::ListHead list;
  std::atomic<std::uint32_t> flags{0};
  IoWqFn fn = nullptr;      // runs the work; may free it unless release is set
  IoWqFn cancel = nullptr;  // completes work removed before it ran
  // After fn, once a cancel can no longer find the work running: drops
  // what fn held of it (io_wq_free_work's put), so no cancel matches freed work.
  IoWqFn release = nullptr;
  // kWorkHeld: a worker runs it and holds its reference (io_wq_free_work
  // drops it); kWorkPosted: its request's CQE is posted (set before it is
  // visible), so a cancel no longer finds it running, though its worker may
  // not have left it yet; kWorkCounted: posted while held, counted until
  // a worker's put clears it (once, whichever worker that is).
  std::atomic<std::uint32_t> state{0};
  bool posted() const { return state.load(std::memory_order_relaxed) & kWorkPosted; }
  // kWqWorkBehind: until then (steady clock, ns) it waits for the requests
  // other workers run, under IoWq's mutex.
  std::int64_t behind_until = 0;
  const void* owner = nullptr;  // the ring it belongs to, for cancel matching
  void* data = nullptr;         // the request
  // The last ALL/ANY cancel search that matched it (under IoWq's mutex).
  std::uint32_t cancel_seq = 0;
};

// enum io_wq_cancel
enum class WqCancel { kOk, kRunning, kNotFound };

// ERESTARTSYS (include/linux/errno.h): what a wait of the kernel's worker
// returns when io-wq's cancel signals it; SPLICE and TEE post it as is.
constexpr int kErestartsys = 512;

class IoWq {
 public:
  IoWq(unsigned bounded_max, unsigned unbounded_max);
  ~IoWq();
  IoWq(const IoWq&) = delete;
  IoWq& operator=(const IoWq&) = delete;

  void get() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Drops a reference; the last one stops the workers (after the queue has
  // drained) and frees the pool.
  void put();

  void enqueue(IoWqWork* work);
  // Queues `work` behind the requests of its class that are queued or that
  // a worker runs (not one waiting, nor the caller's own). The kernel's
  // io_wq_enqueue creates no worker while one runs, and that one takes it
  // once done with those: here it is taken only when no other worker runs
  // a request of its class (or after kBehindMax, where the kernel's worker
  // would have slept in a blocking call and a new one taken it). False, and
  // nothing queued, if nothing is ahead of it.
  bool enqueue_behind(IoWqWork* work);
  // io_wq_cancel_cb(): pending matches are unlinked and their cancel hook
  // runs (outside the lock); running matches are flagged. With `all`, every
  // match, and kRunning if any of them runs; otherwise the first.
  WqCancel cancel(bool (*match)(IoWqWork*, void*), void* data, bool all);

  // IORING_REGISTER_IOWQ_MAX_WORKERS: 0 leaves a class unchanged; the
  // previous limits are written back.
  void max_workers(unsigned counts[2]);
  // IORING_REGISTER_IOWQ_AFF; null mask restores "any CPU".
  int set_affinity(const cpu_set_t* mask, std::size_t size);

  // Whether the calling thread is one of any pool's workers.
  static bool current_is_worker();
  // From a work's fn: the calling worker runs `next` once fn returns, as
  // io_worker_handle_work runs the link io_wq_free_work gives back.
  static void run_next(IoWqWork* next);
  // From a work's fn: waits until `fd` reports one of `events` (or an
  // error) where the kernel's worker would block, and ends early when a
  // cancel finds the work running, as the signal io_wq_worker_cancel sends
  // ends the kernel's wait: 0, or -kErestartsys. Off a worker: 0 at once.
  // With `timeout_ms` >= 0 it also returns 0 once that has passed (`fd`
  // may then be -1: a sleep a cancel ends).
  static int wait_ready(int fd, short events, int timeout_ms = -1);
  // From a work's fn: whether a cancel found `work` running on the calling
  // worker (and answered -EALREADY, counting on the work to end).
  static bool cancelled_running(const IoWqWork* work);

 private:
  struct Worker;
  struct Acct {
    core::ListHead work_list;
    unsigned max_workers = 0;
    unsigned nr_workers = 0;
    unsigned nr_idle = 0;
    unsigned nr_queued = 0;
  };

  void worker_main(Worker* w, int acct_index);
  // The head of class `ai`'s queue, if `w` may take it now.
  IoWqWork* takeable(const Worker* w, int ai) const REQUIRES(mu_);
  // Whether `work`, at the head of its queue, may not be taken by `w` yet.
  bool held_behind(const IoWqWork* work, const Worker* w, int ai, std::int64_t now_ns) const
      REQUIRES(mu_);
  void wake_cancelled(Worker* w) REQUIRES(mu_);

  static thread_local Worker* t_worker_;  // the calling thread's, on a worker
  void create_worker(int acct_index) REQUIRES(mu_);

  core::Mutex mu_;
  core::CondVar cv_[2];
  core::CondVar exit_cv_;
  Acct acct_[2] GUARDED_BY(mu_);
  // running workers (for cancel of running work)
  std::vector<Worker*> workers_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  unsigned live_threads_ GUARDED_BY(mu_) = 0;
  bool have_affinity_ GUARDED_BY(mu_) = false;
  cpu_set_t affinity_ GUARDED_BY(mu_){};
  std::atomic<int> refs_{1};
  // Workers are named "iou-wrk-TID" after the thread that made the ring, as
  // the kernel names them after the task whose io-wq they are.
  const int owner_tid_;
};

}  // namespace iostack::uring
