// Fixed-size block cache with per-thread magazines over a shared depot, the
// shape of the kernel's per-cpu slab caches: allocation and free touch only
// the calling thread's list in steady state, and blocks freed on another
// thread (a completion thread, say) flow back through the depot.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "core/process.hpp"

namespace iostack::core {

template <typename Tag, std::size_t Size>
class ObjectCache {
 public:
  static void* alloc() {
    Magazine& m = magazine();
    if (m.items.empty()) refill(m);
    if (m.items.empty()) return ::operator new (Size, std::align_val_t{64});
    void* p = m.items.back();
    m.items.pop_back();
    return p;
  }

  static void free(void* p) {
    Magazine& m = magazine();
    m.items.push_back(p);
    if (m.items.size() >= 2 * kBatch) drain(m, kBatch);
  }

 private:
  static constexpr std::size_t kBatch = 64;

  struct Depot {
    std::mutex mu;
    std::vector<void*> items;
  };
  struct Magazine {
    std::vector<void*> items;
    Magazine() { items.reserve(2 * kBatch); }
    ~Magazine() { drain(*this, items.size()); }
  };

  // Per process, never destroyed: threads that outlive static destruction
  // (a clock's timer thread, say) still return their blocks here at exit,
  // and a forked child does not wait for a lock its parent's threads held.
  static Depot& depot() { return Process::current().state<Depot>(); }
  static Magazine& magazine() {
    thread_local Magazine m;
    return m;
  }
  static void refill(Magazine& m) {
    Depot& d = depot();
    std::lock_guard lock(d.mu);
    const std::size_t n = d.items.size() < kBatch ? d.items.size() : kBatch;
    m.items.insert(m.items.end(), d.items.end() - static_cast<std::ptrdiff_t>(n), d.items.end());
    d.items.resize(d.items.size() - n);
  }
  static void drain(Magazine& m, std::size_t n) {
    Depot& d = depot();
    std::lock_guard lock(d.mu);
    d.items.insert(d.items.end(), m.items.end() - static_cast<std::ptrdiff_t>(n), m.items.end());
    m.items.resize(m.items.size() - n);
  }
};

}  // namespace iostack::core
