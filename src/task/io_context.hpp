// struct io_context (include/linux/iocontext.h, block/blk-ioc.c): the I/O
// state one or more tasks share. Schedulers hang per-queue state off it (the
// icq, see icq.hpp); CLONE_IO children share their parent's.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace iostack::task {

struct IoCq;

// struct io_context (block/blk-ioc.c)
struct IoContext {
  // Three counts as in the kernel before 5.17 folded nr_tasks away:
  // refcount keeps the memory, active_ref counts users that may still issue
  // I/O (tasks, in-flight requests), nr_tasks counts tasks sharing it.
  std::atomic<long> refcount{1};
  std::atomic<int> active_ref{1};
  std::atomic<int> nr_tasks{1};
  std::atomic<std::uint16_t> ioprio{0};

  std::mutex lock;          // guards icqs
  std::vector<IoCq*> icqs;  // one per queue; few queues per process
};

// Allocates an io_context with every count at 1 (kmem_cache_alloc of a
// zeroed object plus the init in create_task_io_context). nullptr when the
// allocation fails, really or by inject_ioc_alloc_failures().
IoContext* alloc_io_context();

// Makes the next `count` allocations fail (tests of the -ENOMEM paths).
void inject_ioc_alloc_failures(int count);

void get_io_context(IoContext* ioc);
// Drops a reference; the last one releases the icqs and frees the memory.
void put_io_context(IoContext* ioc);
// Drops an active user (and its reference); the last one exits the icqs.
void put_io_context_active(IoContext* ioc);
// A new task starts sharing `ioc` (CLONE_IO): every count goes up.
void ioc_task_link(IoContext* ioc);

}  // namespace iostack::task
