// Slot lookup, hand-over at thread exit and id reuse of core::PerThread.
#include "core/per_thread.hpp"

#include <pthread.h>

#include <cstring>

namespace iostack::core {

// Live objects by id, so that a thread that ends can hand its slots back
// to the objects still alive. Never destroyed: threads may end after static
// destruction began.
struct PerThreadRegistry {
  Mutex mu;  // taken before any object's mu_
  std::vector<PerThreadBase*> objects GUARDED_BY(mu);
  std::vector<std::uint32_t> free_ids GUARDED_BY(mu);
  std::uint64_t next_gen GUARDED_BY(mu) = 1;

  static PerThreadRegistry& get() {
    static PerThreadRegistry* r = [] {
      auto* reg = new PerThreadRegistry;
      // Held across fork(), so that the child's copy is never locked by a
      // thread that does not exist there.
      pthread_atfork(&lock_for_fork, &unlock_after_fork, &unlock_after_fork);
      return reg;
    }();
    return *r;
  }
  static void lock_for_fork() NO_THREAD_SAFETY_ANALYSIS { get().mu.lock(); }
  static void unlock_after_fork() NO_THREAD_SAFETY_ANALYSIS { get().mu.unlock(); }

  // Runs when a thread that used a PerThread ends.
  static void thread_ended() {
    PerThreadTable& t = t_per_thread;
    {
      PerThreadRegistry& r = get();
      LockGuard g(r.mu);
      for (std::uint32_t id = 0; id < t.size && id < r.objects.size(); ++id) {
        PerThreadBase* o = r.objects[id];
        if (o && t.entries[id].gen == o->gen_) o->give_back(t.entries[id].slot);
      }
    }
    delete[] t.entries;
    t = PerThreadTable{nullptr, 0, true};
  }
};

namespace {

struct ThreadEnd {
  ~ThreadEnd() { PerThreadRegistry::thread_ended(); }
};

void grow(PerThreadTable& t, std::uint32_t need) {
  std::uint32_t size = t.size ? t.size : 8;
  while (size < need) size *= 2;
  auto* entries = new PerThreadEntry[size]();
  if (t.size) std::memcpy(entries, t.entries, t.size * sizeof(PerThreadEntry));
  delete[] t.entries;
  t.entries = entries;
  t.size = size;
}

}  // namespace

PerThreadBase::PerThreadBase(MakeSlot make, FreeSlot free) : make_(make), free_(free) {
  PerThreadRegistry& r = PerThreadRegistry::get();
  LockGuard g(r.mu);
  gen_ = r.next_gen++;
  if (!r.free_ids.empty()) {
    id_ = r.free_ids.back();
    r.free_ids.pop_back();
    r.objects[id_] = this;
  } else {
    id_ = static_cast<std::uint32_t>(r.objects.size());
    r.objects.push_back(this);
  }
}

PerThreadBase::~PerThreadBase() {
  {
    PerThreadRegistry& r = PerThreadRegistry::get();
    LockGuard g(r.mu);
    r.objects[id_] = nullptr;
    r.free_ids.push_back(id_);
  }
  // Threads still holding an entry for this id find its gen stale.
  LockGuard g(mu_);
  for (void* s : slots_) free_(s);
}

void* PerThreadBase::local_slow() {
  PerThreadTable& t = t_per_thread;
  if (!t.exited) {
    // Registers the hand-over at thread exit (once per thread). A thread
    // already past it (another thread-local's teardown doing I/O) keeps
    // what it takes: its table and slots are not reused.
    thread_local ThreadEnd end;
    (void)&end;
  }
  if (id_ >= t.size) grow(t, id_ + 1);
  void* s;
  {
    LockGuard g(mu_);
    if (!spare_.empty()) {
      s = spare_.back();
      spare_.pop_back();
    } else {
      s = make_();
      slots_.push_back(s);
    }
  }
  t.entries[id_] = PerThreadEntry{gen_, s};
  return s;
}

void PerThreadBase::give_back(void* slot) {
  LockGuard g(mu_);
  spare_.push_back(slot);
}

}  // namespace iostack::core
