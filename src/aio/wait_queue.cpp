// io_getevents sleepers and their wake-ups.
#include "aio/wait_queue.hpp"

#include "core/futex.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {

void WaitQueue::add(AioWaiter* w) {
  core::LockGuard g(lock_);
  w->woken.store(0, std::memory_order_relaxed);
  w->entry.add_tail(&head_);
  nr_.fetch_add(1, std::memory_order_seq_cst);
}

void WaitQueue::remove(AioWaiter* w) {
  core::LockGuard g(lock_);
  if (w->entry.linked()) {
    w->entry.del();
    nr_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void WaitQueue::wake(unsigned avail) {
  core::LockGuard g(lock_);
  core::ListHead* n = head_.first();
  while (n != &head_) {
    core::ListHead* next = n->next;
    AioWaiter* w = core::list_entry<AioWaiter, &AioWaiter::entry>(n);
    if (static_cast<long>(avail) >= w->min_nr) {
      n->del();
      nr_.fetch_sub(1, std::memory_order_relaxed);
      w->woken.store(1, std::memory_order_release);
      core::futex_wake(&w->woken, 1);
    }
    n = next;
  }
}

void WaitQueue::wake_all() {
  core::LockGuard g(lock_);
  while (!head_.empty()) {
    core::ListHead* n = head_.first();
    n->del();
    nr_.fetch_sub(1, std::memory_order_relaxed);
    AioWaiter* w = core::list_entry<AioWaiter, &AioWaiter::entry>(n);
    w->woken.store(1, std::memory_order_release);
    core::futex_wake(&w->woken, 1);
  }
}

}  // namespace iostack::aio
