// Binary min-heap of Timers ordered by (expires, seq), shared by the real and
// virtual clocks. Not thread safe; the owner locks.
#pragma once

#include <vector>

#include "core/clock.hpp"

namespace iostack::core {

class TimerHeap {
 public:
  void push(Timer* t, Nanos expires);
  bool remove(Timer* t);
  Timer* top() const { return heap_.empty() ? nullptr : heap_.front(); }
  Timer* pop();
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }

 private:
  static bool before(const Timer* a, const Timer* b) {
    return a->expires != b->expires ? a->expires < b->expires : a->seq < b->seq;
  }
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void place(std::size_t i, Timer* t) {
    heap_[i] = t;
    t->heap_index = static_cast<std::int64_t>(i);
  }

  std::vector<Timer*> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace iostack::core
