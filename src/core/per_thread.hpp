// Per-thread slots of an object, summed on read: the kernel's per-CPU data
// (struct disk_stats, percpu_ref's counts) with threads in place of CPUs.
// A thread writes only its own slot, so a count costs a load and a store
// instead of an atomic read-modify-write on a line every submitter shares.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/mutex.hpp"

namespace iostack::core {

// The calling thread's slots: entry `id` belongs to the live object with
// that id while `gen` matches the object's (ids are reused, gens are not).
struct PerThreadEntry {
  std::uint64_t gen;
  void* slot;
};
struct PerThreadTable {
  PerThreadEntry* entries;
  std::uint32_t size;
  bool exited;  // the thread's slots went back already (thread-local teardown)
};
// Initial-exec and constant-initialised: the fast path is one TLS load.
[[gnu::tls_model("initial-exec")]] inline constinit thread_local PerThreadTable t_per_thread{};

class PerThreadBase {
 public:
  PerThreadBase(const PerThreadBase&) = delete;
  PerThreadBase& operator=(const PerThreadBase&) = delete;

 protected:
  using MakeSlot = void* (*)();
  using FreeSlot = void (*)(void*);
  PerThreadBase(MakeSlot make, FreeSlot free);
  ~PerThreadBase();

  void* local_slot() {
    const PerThreadTable& t = t_per_thread;
    if (id_ < t.size && t.entries[id_].gen == gen_) [[likely]]
      return t.entries[id_].slot;
    return local_slow();
  }
  // Calls f on every slot ever handed out (also those of ended threads,
  // whose counts still belong to the sum).
  template <class F>
  void for_each_slot(F&& f) const EXCLUDES(mu_) {
    LockGuard g(mu_);
    for (void* s : slots_) f(s);
  }

 private:
  friend struct PerThreadRegistry;
  void* local_slow() EXCLUDES(mu_);
  // A thread that ends hands its slot on to the next thread (the counts in
  // it stay part of the sum).
  void give_back(void* slot) EXCLUDES(mu_);

  std::uint32_t id_ = 0;
  std::uint64_t gen_ = 0;
  MakeSlot make_;
  FreeSlot free_;
  mutable Mutex mu_;
  std::vector<void*> slots_ GUARDED_BY(mu_);
  std::vector<void*> spare_ GUARDED_BY(mu_);
};

// One T per thread that touches the object, each on its own cache line.
// T's members are atomics that only the owning thread writes (local_add);
// readers on other threads sum them with for_each.
template <class T>
class PerThread : public PerThreadBase {
 public:
  PerThread()
      : PerThreadBase([]() -> void* { return new Slot(); },
                      [](void* p) { delete static_cast<Slot*>(p); }) {}

  T* local() { return &static_cast<Slot*>(local_slot())->v; }
  template <class F>
  void for_each(F&& f) const {
    for_each_slot([&](void* s) { f(static_cast<const Slot*>(s)->v); });
  }
  // The same with the slots writable (for the atomics other threads may
  // write, such as a cache's contents taken back).
  template <class F>
  void for_each_mut(F&& f) {
    for_each_slot([&](void* s) { f(static_cast<Slot*>(s)->v); });
  }

 private:
  struct alignas(64) Slot {
    T v{};
  };
};

// Adds to a count of the calling thread's own slot: nobody else writes it,
// so no read-modify-write is needed. Release, so that a reader that sees the
// count also sees what the thread did before it.
template <class V>
inline void local_add(std::atomic<V>& c, V delta) {
  c.store(static_cast<V>(c.load(std::memory_order_relaxed) + delta), std::memory_order_release);
}

}  // namespace iostack::core
