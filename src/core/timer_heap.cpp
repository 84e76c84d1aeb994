// The timer min-heap shared by the real and virtual clocks.
#include "core/timer_heap.hpp"

namespace iostack::core {

void TimerHeap::push(Timer* t, Nanos expires) {
  if (t->heap_index >= 0) remove(t);
  t->expires = expires;
  t->seq = next_seq_++;
  heap_.push_back(Entry{expires, t->seq, t});
  t->heap_index = static_cast<std::int64_t>(heap_.size() - 1);
  sift_up(heap_.size() - 1);
}

bool TimerHeap::remove(Timer* t) {
  if (t->heap_index < 0) return false;
  const auto i = static_cast<std::size_t>(t->heap_index);
  const Entry last = heap_.back();
  heap_.pop_back();
  t->heap_index = -1;
  if (i < heap_.size()) {
    place(i, last);
    sift_up(i);
    sift_down(static_cast<std::size_t>(last.t->heap_index));
  }
  return true;
}

Timer* TimerHeap::pop() {
  Timer* t = top();
  if (t) remove(t);
  return t;
}

void TimerHeap::sift_up(std::size_t i) {
  const Entry e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i) {
  const Entry e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace iostack::core
