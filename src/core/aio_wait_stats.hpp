// Where AIO requests wait, for `iostack exec --stats`: those served by
// workers in the worker pool's queue before a worker takes them, and all
// as events in the ring before io_getevents copies them out. Read against the time a
// worker spends in the read itself, they tell how many of the requests in
// flight the device actually holds. Counted only while ExecStats is on.
#pragma once

#include <atomic>
#include <cstdint>

namespace iostack::core {

struct AioWaitStats {
  std::atomic<std::uint64_t> taken{0};        // works a worker took from the queue
  std::atomic<std::uint64_t> queued_ns{0};    // their total time in the queue
  std::atomic<std::uint64_t> reaped{0};       // events io_getevents copied out
  std::atomic<std::uint64_t> ring_ns{0};      // their total time in the ring
  std::atomic<std::uint64_t> sleeps{0};       // io_getevents calls that slept
  std::atomic<std::uint64_t> caller_runs{0};  // works io_getevents ran instead of sleeping
  std::atomic<std::uint64_t> woken{0};        // sleeping workers woken for work
  std::atomic<std::uint64_t> wake_ns{0};      // their total time from the wake to the pool's lock

  void add(std::atomic<std::uint64_t>* count, std::atomic<std::uint64_t>* total, std::int64_t ns) {
    count->fetch_add(1, std::memory_order_relaxed);
    if (ns > 0) total->fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
  }
};

// This process's counters.
AioWaitStats& aio_wait_stats();

}  // namespace iostack::core
