// io-wq: bounded and unbounded workers, queueing and cancellation.
#include "uring/io_wq.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include "core/fd_high.hpp"
#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"

namespace iostack::uring {

namespace {
// WORKER_IDLE_TIMEOUT (io_uring/io-wq.c): 5 seconds.
constexpr auto kIdleTimeout = std::chrono::seconds(5);
// How long work queued behind others waits for them (enqueue_behind).
constexpr std::int64_t kBehindMaxNs = 10'000'000;
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
thread_local bool t_is_worker = false;
thread_local IoWqWork* t_next = nullptr;  // set by run_next during a work's fn
}  // namespace

// struct io_worker (io_uring/io-wq.c)
struct IoWq::Worker {
  IoWqWork* cur = nullptr;  // under IoWq::mu_
  pthread_t thread{};
  IoWq* wq = nullptr;
  // An eventfd a cancel of `cur` writes to end wait_ready (made, under
  // IoWq::mu_, by the first wait: most workers never wait).
  int wake_fd = -1;
  int acct = 0;
  bool waiting = false;  // in wait_ready, under IoWq::mu_ (io_wq_worker_sleeping)
};

thread_local IoWq::Worker* IoWq::t_worker_ = nullptr;

IoWq::IoWq(unsigned bounded_max, unsigned unbounded_max) : owner_tid_(core::current_tid()) {
  acct_[0].max_workers = bounded_max ? bounded_max : 1;
  acct_[1].max_workers = unbounded_max ? unbounded_max : 1;
}

IoWq::~IoWq() {
  core::UniqueLock lock(mu_);
  stopping_ = true;
  cv_[0].notify_all();
  cv_[1].notify_all();
  while (live_threads_ != 0) exit_cv_.wait(lock);
}

void IoWq::put() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

bool IoWq::current_is_worker() { return t_is_worker; }

void IoWq::run_next(IoWqWork* next) { t_next = next; }

void IoWq::create_worker(int ai) {
  Acct& a = acct_[ai];
  if (a.nr_workers >= a.max_workers) return;
  a.nr_workers++;
  live_threads_++;
  auto* w = new Worker;
  std::thread t =
      core::start_internal_thread(core::ThreadKind::kIoWq, [this, w, ai] { worker_main(w, ai); });
  if (have_affinity_) pthread_setaffinity_np(t.native_handle(), sizeof(affinity_), &affinity_);
  t.detach();
}

void IoWq::enqueue(IoWqWork* work) {
  const int ai = (work->flags.load(std::memory_order_relaxed) & kWqWorkUnbound) ? 1 : 0;
  core::LockGuard lock(mu_);
  Acct& a = acct_[ai];
  work->list.add_tail(&a.work_list);
  a.nr_queued++;
  if (a.nr_queued > a.nr_idle) create_worker(ai);
  if (a.nr_idle > 0) cv_[ai].notify_one();
}

namespace {
bool is_request(const IoWqWork* work) {
  return !(work->flags.load(std::memory_order_relaxed) & kWqWorkTaskRun);
}
}  // namespace

bool IoWq::enqueue_behind(IoWqWork* work) {
  const int ai = (work->flags.load(std::memory_order_relaxed) & kWqWorkUnbound) ? 1 : 0;
  core::LockGuard lock(mu_);
  Acct& a = acct_[ai];
  bool ahead = false;
  for (core::ListHead* n = a.work_list.first(); n != &a.work_list && !ahead; n = n->next)
    ahead = is_request(core::list_entry<IoWqWork, &IoWqWork::list>(n));
  for (const Worker* w : workers_) {
    if (ahead) break;
    ahead = w != t_worker_ && w->acct == ai && w->cur && !w->waiting && is_request(w->cur);
  }
  if (!ahead) return false;
  work->flags.fetch_or(kWqWorkBehind, std::memory_order_relaxed);
  work->behind_until = steady_ns() + kBehindMaxNs;
  work->list.add_tail(&a.work_list);
  a.nr_queued++;
  // An idle worker takes it once the others are done (or time is up).
  if (a.nr_idle > 0) cv_[ai].notify_one();
  return true;
}

IoWqWork* IoWq::takeable(const Worker* w, int ai) const {
  const Acct& a = acct_[ai];
  if (a.work_list.empty()) return nullptr;
  IoWqWork* head = core::list_entry<IoWqWork, &IoWqWork::list>(a.work_list.first());
  return held_behind(head, w, ai, steady_ns()) ? nullptr : head;
}

bool IoWq::held_behind(const IoWqWork* work, const Worker* w, int ai, std::int64_t now_ns) const {
  if (!(work->flags.load(std::memory_order_relaxed) & kWqWorkBehind) ||
      now_ns >= work->behind_until)
    return false;
  for (const Worker* o : workers_)
    if (o != w && o->acct == ai && o->cur && !o->waiting && is_request(o->cur)) return true;
  return false;
}

void IoWq::worker_main(Worker* w, int ai) {
  t_is_worker = true;
  char name[16];
  std::snprintf(name, sizeof(name), "iou-wrk-%d", owner_tid_);
  pthread_setname_np(pthread_self(), name);
  core::uaccess_thread_init();
  w->thread = pthread_self();
  w->wq = this;
  w->acct = ai;
  t_worker_ = w;
  core::UniqueLock lock(mu_);
  workers_.push_back(w);
  Acct& a = acct_[ai];
  IoWqWork* linked = nullptr;
  for (;;) {
    IoWqWork* head = linked ? nullptr : takeable(w, ai);
    if (linked || head) {
      IoWqWork* work = linked;
      linked = nullptr;
      if (!work) {
        head->list.del();
        a.nr_queued--;
        work = head;
      }
      w->cur = work;
      const IoWqFn release = work->release;
      lock.unlock();
      // Without a release the work may be freed by its own fn; nothing but
      // that release touches it afterwards.
      work->fn(work);
      // A dependent link the work handed over runs next, on this worker.
      linked = std::exchange(t_next, nullptr);
      lock.lock();
      w->cur = nullptr;
      if (release) {
        lock.unlock();
        release(work);
        lock.lock();
      }
      continue;
    }
    if (stopping_) break;
    a.nr_idle++;
    const auto deadline = std::chrono::steady_clock::now() + kIdleTimeout;
    bool woke = true;
    while (woke && !takeable(w, ai) && !stopping_) {
      if (a.work_list.empty()) {
        woke = cv_[ai].wait_until(lock, deadline) == std::cv_status::no_timeout;
        continue;
      }
      // Work held behind others: looked at again when its time is up.
      const std::int64_t until =
          core::list_entry<IoWqWork, &IoWqWork::list>(a.work_list.first())->behind_until;
      cv_[ai].wait_until(lock, std::min(deadline, std::chrono::steady_clock::time_point(
                                                      std::chrono::nanoseconds(until))));
    }
    woke = woke || !a.work_list.empty() || stopping_;
    a.nr_idle--;
    // The last worker of a class stays, as io-wq keeps one around.
    if (!woke && a.nr_workers > 1) break;
  }
  a.nr_workers--;
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    if (*it == w) {
      workers_.erase(it);
      break;
    }
  }
  t_worker_ = nullptr;
  if (w->wake_fd >= 0) close(w->wake_fd);
  delete w;
  live_threads_--;
  if (live_threads_ == 0) exit_cv_.notify_all();
}

WqCancel IoWq::cancel(bool (*match)(IoWqWork*, void*), void* data, bool all) {
  core::ListHead removed;
  bool running = false;
  {
    core::LockGuard lock(mu_);
    for (Acct& a : acct_) {
      for (core::ListHead* n = a.work_list.first(); n != &a.work_list;) {
        core::ListHead* next = n->next;
        IoWqWork* work = core::list_entry<IoWqWork, &IoWqWork::list>(n);
        if (match(work, data)) {
          n->del();
          a.nr_queued--;
          work->list.add_tail(&removed);
          if (!all) goto pending_done;
        }
        n = next;
      }
    }
  pending_done:
    if (removed.empty() || all) {
      for (Worker* w : workers_) {
        if (w->cur && match(w->cur, data)) {
          w->cur->flags.fetch_or(kWqWorkCancel, std::memory_order_relaxed);
          wake_cancelled(w);
          running = true;
          if (!all) break;
        }
      }
    }
  }
  const bool found = !removed.empty();
  while (!removed.empty()) {
    core::ListHead* n = removed.first();
    n->del();
    IoWqWork* work = core::list_entry<IoWqWork, &IoWqWork::list>(n);
    work->flags.fetch_or(kWqWorkCancel, std::memory_order_relaxed);
    work->cancel(work);
  }
  // With `all`, a running match outweighs the pending ones removed: the
  // kernel answers RUNNING then, and an ALL or ANY cancel on a worker
  // matches itself (fuzz seed 875732: it cancels the queued FADVISE and
  // answers 0).
  if (running) return WqCancel::kRunning;
  return found ? WqCancel::kOk : WqCancel::kNotFound;
}

void IoWq::wake_cancelled(Worker* w) {
  const std::uint64_t one = 1;
  if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof(one)) < 0) {
    // Full counter: a wakeup is pending anyway.
  }
}

int IoWq::wait_ready(int fd, short events, int timeout_ms) {
  Worker* w = t_worker_;
  if (!w || !w->cur) return 0;
  IoWq* wq = w->wq;
  {
    core::LockGuard lock(wq->mu_);
    if (w->wake_fd < 0) w->wake_fd = core::move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    // A sleeping worker no longer runs: what waits behind it gets a worker.
    w->waiting = true;
    Acct& a = wq->acct_[w->acct];
    if (a.nr_queued && a.nr_idle)
      wq->cv_[w->acct].notify_one();
    else if (a.nr_queued)
      wq->create_worker(w->acct);
  }
  struct Awake {
    Worker* w;
    ~Awake() {
      core::LockGuard lock(w->wq->mu_);
      w->waiting = false;
    }
  } awake{w};
  // The flag is set before the eventfd is written, both under mu_: a
  // cancel either came before the check or wakes the poll.
  for (;;) {
    if (w->cur->flags.load(std::memory_order_acquire) & kWqWorkCancel) return -kErestartsys;
    struct pollfd p[2] = {{fd, events, 0}, {w->wake_fd, POLLIN, 0}};
    const int n = poll(p, w->wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) return 0;  // the retry finds what is wrong
    if (n == 0) return 0;                   // timed out
    if (n > 0 && p[1].revents) {
      std::uint64_t v;
      if (read(w->wake_fd, &v, sizeof(v)) < 0) {
        // Drained by an earlier read: nothing to do.
      }
    }
    if (n > 0 && p[0].revents) return 0;
  }
}

bool IoWq::cancelled_running(const IoWqWork* work) {
  const Worker* w = t_worker_;
  return w && w->cur == work && (work->flags.load(std::memory_order_acquire) & kWqWorkCancel);
}

void IoWq::max_workers(unsigned counts[2]) {
  core::LockGuard lock(mu_);
  for (int i = 0; i < 2; ++i) {
    const unsigned prev = acct_[i].max_workers;
    if (counts[i]) acct_[i].max_workers = counts[i];
    counts[i] = prev;
  }
}

int IoWq::set_affinity(const cpu_set_t* mask, std::size_t size) {
  core::LockGuard lock(mu_);
  if (mask) {
    CPU_ZERO(&affinity_);
    std::memcpy(&affinity_, mask, size < sizeof(affinity_) ? size : sizeof(affinity_));
    have_affinity_ = true;
  } else {
    have_affinity_ = false;
    CPU_ZERO(&affinity_);
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &affinity_);
  }
  for (Worker* w : workers_) pthread_setaffinity_np(w->thread, sizeof(affinity_), &affinity_);
  return 0;
}

}  // namespace iostack::uring
