// Binary min-heap of Timers ordered by (expires, seq), shared by the real and
// virtual clocks. Not thread safe; the owner locks. Each entry keeps its own
// copy of the ordering key, so sifting compares within the heap's array and
// touches a Timer only to record where it now sits.
#pragma once

#include <vector>

#include "core/clock.hpp"

namespace iostack::core {

class TimerHeap {
 public:
  void push(Timer* t, Nanos expires);
  bool remove(Timer* t);
  Timer* top() const { return heap_.empty() ? nullptr : heap_.front().t; }
  Timer* pop();
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    Nanos expires;
    std::uint64_t seq;
    Timer* t;
  };
  static bool before(const Entry& a, const Entry& b) {
    return a.expires != b.expires ? a.expires < b.expires : a.seq < b.seq;
  }
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void place(std::size_t i, const Entry& e) {
    heap_[i] = e;
    e.t->heap_index = static_cast<std::int64_t>(i);
  }

  std::vector<Entry> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace iostack::core
