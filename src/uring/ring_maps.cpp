// The program's mappings of a ring, each holding a reference to the ring's
// file as a vma holds vm_file (mmap_region's get_file, remove_vma's fput in
// mm/mmap.c and mm/vma.c): io_uring_release runs only when the last
// descriptor and the last mapping are gone.
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/raw_syscall.h"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// One mapped range (a vma, split as munmap splits it), keyed by its start.
struct MappedRange {
  std::uintptr_t end;
  core::FileRef ring;
};

// Per process (a forked child starts with none: its mappings are of its
// parent's rings, which it cannot release). Never destroyed, as rings are
// not at exit.
struct RingMaps {
  core::Mutex mu;
  std::map<std::uintptr_t, MappedRange> ranges GUARDED_BY(mu);
  // References dropped by a caller that held engine locks, for the next
  // caller that holds none (a ring's release may take them).
  std::vector<core::FileRef> deferred GUARDED_BY(mu);
  std::atomic<std::size_t> count{0};  // ranges.size(), read without mu
  std::atomic<bool> any_deferred{false};

  bool idle() const {
    return count.load(std::memory_order_relaxed) == 0 &&
           !any_deferred.load(std::memory_order_relaxed);
  }
};

RingMaps& maps() { return core::Process::current().state<RingMaps>(); }

// Removes [lo, hi) from the ranges, as munmap removes it from vmas: a range
// cut in two gets a second reference; one removed whole gives its own back.
void carve(RingMaps& m, std::uintptr_t lo, std::uintptr_t hi, std::vector<core::FileRef>* out)
    REQUIRES(m.mu) {
  auto it = m.ranges.upper_bound(lo);
  if (it != m.ranges.begin()) --it;
  while (it != m.ranges.end() && it->first < hi) {
    const std::uintptr_t start = it->first;
    MappedRange& r = it->second;
    if (r.end <= lo) {
      ++it;
      continue;
    }
    if (start < lo && r.end > hi) {  // a hole in the middle
      r.ring.get()->get();
      m.ranges.emplace(hi, MappedRange{r.end, core::FileRef(r.ring.get())});
      r.end = lo;
      break;
    }
    if (start < lo) {  // the tail goes
      r.end = lo;
      ++it;
      continue;
    }
    if (r.end > hi) {  // the head goes
      MappedRange rest{r.end, std::move(r.ring)};
      m.ranges.erase(it);
      m.ranges.emplace(hi, std::move(rest));
      break;
    }
    out->push_back(std::move(r.ring));
    it = m.ranges.erase(it);
  }
  m.count.store(m.ranges.size(), std::memory_order_relaxed);
}

bool page_unmapped(std::uintptr_t page) {
  unsigned char vec[1];
  return mincore(reinterpret_cast<void*>(page), kPageSize, vec) != 0 && errno == ENOMEM;
}

// Ranges no longer mapped (unmapped without iostack seeing it: a plain
// munmap of a C API mapping, another library's inline system call) give
// their references back. mincore fails with ENOMEM on unmapped pages; a
// range counts as gone when its first and last pages are.
void sweep_unmapped(RingMaps& m, std::vector<core::FileRef>* out) REQUIRES(m.mu) {
  for (auto it = m.ranges.begin(); it != m.ranges.end();) {
    if (page_unmapped(it->first) && page_unmapped(it->second.end - kPageSize)) {
      out->push_back(std::move(it->second.ring));
      it = m.ranges.erase(it);
    } else {
      ++it;
    }
  }
  m.count.store(m.ranges.size(), std::memory_order_relaxed);
}

// fput: outside the lock, and only where no engine lock is held (the last
// reference runs the ring's release); else later, by a caller without.
void put_refs(RingMaps& m, std::vector<core::FileRef>& refs) {
  if (core::holds_locks()) {
    if (refs.empty()) return;
    core::LockGuard lock(m.mu);
    for (core::FileRef& r : refs) m.deferred.push_back(std::move(r));
    m.any_deferred.store(true, std::memory_order_relaxed);
    return;
  }
  if (m.any_deferred.load(std::memory_order_relaxed)) {
    core::LockGuard lock(m.mu);
    for (core::FileRef& r : m.deferred) refs.push_back(std::move(r));
    m.deferred.clear();
    m.any_deferred.store(false, std::memory_order_relaxed);
  }
  refs.clear();
}

// Set while this thread's munmap runs: an LD_PRELOAD shim interposing
// munmap sends the call made here back to iostack_io_uring_munmap, which
// then makes the system call itself (a shim's own munmap would be the same
// interposer again).
thread_local bool t_in_munmap = false;

int plain_munmap(void* addr, std::size_t len) {
  user_map_forget(addr, len);
  t_in_munmap = true;
  const int ret = munmap(addr, len) == 0 ? 0 : -errno;
  t_in_munmap = false;
  return ret;
}

}  // namespace

void ring_maps_add(void* addr, std::size_t len, core::FileRef ring) {
  RingMaps& m = maps();
  const auto lo = reinterpret_cast<std::uintptr_t>(addr);
  const std::uintptr_t hi = lo + page_align(len);
  std::vector<core::FileRef> gone;
  {
    core::LockGuard lock(m.mu);
    carve(m, lo, hi, &gone);  // a MAP_FIXED mapping replaced them
    m.ranges.emplace(lo, MappedRange{hi, std::move(ring)});
    m.count.store(m.ranges.size(), std::memory_order_relaxed);
  }
  put_refs(m, gone);
}

int ring_maps_unmap(void* addr, std::size_t len) {
  if (t_in_munmap)
    return static_cast<int>(iostack_raw_syscall6(SYS_munmap, reinterpret_cast<long>(addr),
                                                 static_cast<long>(len), 0, 0, 0, 0));
  RingMaps& m = maps();
  if (m.idle()) return plain_munmap(addr, len);
  const auto lo = reinterpret_cast<std::uintptr_t>(addr);
  std::vector<core::FileRef> gone;
  int ret;
  {
    // Held across the munmap: no mapping made meanwhile at the same
    // address can be taken for the one going.
    core::LockGuard lock(m.mu);
    ret = plain_munmap(addr, len);
    if (ret == 0) carve(m, lo, lo + page_align(len), &gone);
  }
  put_refs(m, gone);
  return ret;
}

void ring_maps_sweep() {
  RingMaps& m = maps();
  if (m.idle()) return;
  std::vector<core::FileRef> gone;
  {
    core::LockGuard lock(m.mu);
    sweep_unmapped(m, &gone);
  }
  put_refs(m, gone);
}

}  // namespace iostack::uring
