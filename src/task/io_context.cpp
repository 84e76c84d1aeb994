// io_context allocation and reference counts.
#include "task/io_context.hpp"

#include <cassert>
#include <new>

#include "task/icq.hpp"

namespace iostack::task {
namespace {

std::atomic<int> g_alloc_failures{0};

// Consumes one injected failure, if any are pending.
bool take_injected_failure() {
  int n = g_alloc_failures.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_alloc_failures.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace

IoContext* alloc_io_context() {
  if (take_injected_failure()) return nullptr;
  return new (std::nothrow) IoContext;
}

void inject_ioc_alloc_failures(int count) {
  g_alloc_failures.store(count, std::memory_order_relaxed);
}

void get_io_context(IoContext* ioc) {
  assert(ioc->refcount.load(std::memory_order_relaxed) > 0);
  ioc->refcount.fetch_add(1, std::memory_order_relaxed);
}

void put_io_context(IoContext* ioc) {
  if (ioc == nullptr) return;
  assert(ioc->refcount.load(std::memory_order_relaxed) > 0);
  // acq_rel: the freeing thread must see every other holder's writes.
  if (ioc->refcount.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  ioc_release_icqs(ioc);
  delete ioc;
}

void put_io_context_active(IoContext* ioc) {
  if (ioc->active_ref.fetch_sub(1, std::memory_order_acq_rel) == 1) ioc_exit_icqs(ioc);
  put_io_context(ioc);
}

void ioc_task_link(IoContext* ioc) {
  assert(ioc->refcount.load(std::memory_order_relaxed) > 0);
  assert(ioc->active_ref.load(std::memory_order_relaxed) > 0);
  assert(ioc->nr_tasks.load(std::memory_order_relaxed) > 0);
  ioc->refcount.fetch_add(1, std::memory_order_relaxed);
  ioc->active_ref.fetch_add(1, std::memory_order_relaxed);
  ioc->nr_tasks.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace iostack::task
