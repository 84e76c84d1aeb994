// The worker pool that runs AIO the submitter cannot finish without
// blocking: O_DIRECT reads and writes of OS files (the kernel queues a bio
// and returns; here a thread must wait for it) and fsync, which the kernel
// also hands to a workqueue (aio_fsync -> schedule_work). Built like the
// kernel's io-wq (io_uring/io-wq.c): one pool per process, a worker is
// created only when work is queued and no worker is free to take it, at
// most aio_wq_max_workers() of them, and idle ones leave after a timeout.
#pragma once

#include <cstdint>

#include "core/host_uring.hpp"
#include "core/list.hpp"

namespace iostack::aio {

struct AioWork {
  core::ListHead node;
  void (*fn)(AioWork*) = nullptr;
  void* owner = nullptr;  // the object the work belongs to
  // A direct read or write: its worker is back within a device's latency,
  // soon enough for work queued meanwhile to wait for it (see aio_wq.cpp).
  bool quick = false;
  std::int64_t queued_at = 0;  // for `iostack exec --stats`, when counting
  // Nonzero when nothing ties the work to a worker: it runs as well on the
  // thread that queued it (aio_wq_thread_token()), as the kernel's own
  // submitter would have issued it. `group` is whatever the work's result
  // goes to (the AIO context whose ring gets the event).
  std::uint64_t submitter = 0;
  const void* group = nullptr;
};

// A batch built by one io_submit call and handed over at once: work for
// the pool, and O_DIRECT requests for the kernel's io_uring (aio_host_flush).
struct AioWorkBatch {
  core::ListHead list;
  unsigned count = 0;
  core::HostUringReq* host[core::kHostUringBatchMax];
  unsigned host_nr = 0;
  void add(AioWork* w) {
    w->node.add_tail(&list);
    ++count;
  }
};

// Queues every work of `batch` (leaving it empty) and wakes or creates as
// many workers as the work needs.
void aio_wq_queue(AioWorkBatch* batch);
void aio_wq_queue_one(AioWork* w);

// Called by a work function right before it posts its result (the event in
// the ring): a program reacting to the event at once then finds this worker
// about to look for work rather than starting another. Does nothing outside
// a worker.
void aio_wq_completing();

// A number naming the calling thread for as long as the process lives
// (never reused, unlike a tid or a thread-local's address); never 0.
std::uint64_t aio_wq_thread_token();
// Whether `w` runs on the thread that queued it and may run there.
bool aio_wq_on_submitter(const AioWork* w);

// For a thread about to sleep until work it queued ends: takes the oldest
// queued quick work that this thread queued for `group`, so that the caller
// runs it (w->fn(w)) instead of sleeping, then reports with
// aio_wq_caller_ran(). Null when there is none, or when a quick work's
// measured duration exceeds `max_ns` (unknown counts as too long unless
// max_ns is INT64_MAX).
AioWork* aio_wq_take_for_caller(const void* group, std::int64_t max_ns);
void aio_wq_caller_ran(std::int64_t took_ns);

// The most workers the pool may hold (IOSTACK_AIO_MAX_WORKERS, default 256).
unsigned aio_wq_max_workers();

// For tests and tuning, like IORING_REGISTER_IOWQ_MAX_WORKERS: changes the
// bound (0 leaves it) and returns the previous one; workers above a lowered
// bound leave as soon as they are idle.
unsigned aio_wq_set_max_workers(unsigned n);
// How long an idle worker waits for work before it leaves (io-wq's
// WORKER_IDLE_TIMEOUT, 5 s); returns the previous value. The last worker
// stays, as in io-wq.
int aio_wq_set_idle_timeout_ms(int ms);

struct AioWqStats {
  unsigned nr_workers = 0;
  unsigned nr_idle = 0;
  std::uint64_t caller_runs = 0;  // works run by the thread that queued them
};
AioWqStats aio_wq_stats();

}  // namespace iostack::aio
