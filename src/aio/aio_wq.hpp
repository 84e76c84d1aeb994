// The worker pool that runs AIO the submitter cannot finish without
// blocking: reads and writes of OS files that would wait (the kernel's
// O_DIRECT bio wait, or RWF_NOWAIT's -EAGAIN), and fsync, which the kernel
// also sends to a workqueue (aio_fsync -> schedule_work). One pool per
// process; workers are created on demand up to a bound and then reused.
#pragma once

#include <cstdint>

#include "core/list.hpp"

namespace iostack::aio {

struct AioWork {
  core::ListHead node;
  void (*fn)(AioWork*) = nullptr;
  void* owner = nullptr;  // the object the work belongs to
};

// A batch built by one io_submit call and handed over at once.
struct AioWorkBatch {
  core::ListHead list;
  unsigned count = 0;
  void add(AioWork* w) {
    w->node.add_tail(&list);
    ++count;
  }
};

// Queues every work of `batch` (leaving it empty) and wakes enough workers.
void aio_wq_queue(AioWorkBatch* batch);
void aio_wq_queue_one(AioWork* w);

// The most workers the pool may hold (IOSTACK_AIO_MAX_WORKERS, default 256).
unsigned aio_wq_max_workers();

}  // namespace iostack::aio
