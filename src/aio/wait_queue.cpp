// io_getevents sleepers and their wake-ups.
#include "aio/wait_queue.hpp"

#include "core/futex.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {
namespace {

constexpr unsigned kWakeBatch = 8;  // waiters woken per pass over the list

}  // namespace

void WaitQueue::add(AioWaiter* w) {
  core::LockGuard g(lock_);
  w->woken.store(AioWaiter::kAwake, std::memory_order_relaxed);
  w->entry.add_tail(&head_);
  nr_.fetch_add(1, std::memory_order_seq_cst);
}

void WaitQueue::remove(AioWaiter* w) {
  // A waker unlinks the waiter before it marks it woken: nothing to do, and
  // no lock to take while that waker may still hold it.
  if (w->woken.load(std::memory_order_acquire) == AioWaiter::kWoken) return;
  core::LockGuard g(lock_);
  if (w->entry.linked()) {
    w->entry.del();
    nr_.fetch_sub(1, std::memory_order_relaxed);
  }
}

// The futex wakes come after the lock is dropped: a waiter woken on this
// CPU would otherwise preempt this thread while it holds the lock and
// sleep on it at once. A waiter may return as soon as it is marked: the
// wake then hits its dead word, which the kernel does not read (a private
// futex is keyed by address), at worst waking early a later sleeper there,
// whose loop sleeps again.
void WaitQueue::wake(unsigned avail) {
  for (;;) {
    std::atomic<std::uint32_t>* words[kWakeBatch];
    unsigned n = 0;
    bool more = false;
    {
      core::LockGuard g(lock_);
      core::ListHead* node = head_.first();
      while (node != &head_) {
        core::ListHead* next = node->next;
        AioWaiter* w = core::list_entry<AioWaiter, &AioWaiter::entry>(node);
        if (static_cast<long>(avail) >= w->min_nr) {
          if (n == kWakeBatch) {
            more = true;
            break;
          }
          node->del();
          nr_.fetch_sub(1, std::memory_order_relaxed);
          if (w->woken.exchange(AioWaiter::kWoken, std::memory_order_acq_rel) == AioWaiter::kAsleep)
            words[n++] = &w->woken;
        }
        node = next;
      }
    }
    for (unsigned i = 0; i < n; ++i) core::futex_wake(words[i], 1);
    if (!more) return;
  }
}

void WaitQueue::wake_all() {
  core::LockGuard g(lock_);
  while (!head_.empty()) {
    core::ListHead* n = head_.first();
    n->del();
    nr_.fetch_sub(1, std::memory_order_relaxed);
    AioWaiter* w = core::list_entry<AioWaiter, &AioWaiter::entry>(n);
    if (w->woken.exchange(AioWaiter::kWoken, std::memory_order_acq_rel) == AioWaiter::kAsleep)
      core::futex_wake(&w->woken, 1);
  }
}

}  // namespace iostack::aio
