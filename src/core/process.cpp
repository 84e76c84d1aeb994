// The current Process, its lazily made per-layer state, and its
// replacement in a child after fork().
#include "core/process.hpp"
#include "core/fd_mode_cache.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <vector>

namespace iostack::core {
namespace {

std::atomic<Process*> g_current{nullptr};
std::atomic<unsigned> g_fork_generation{0};
std::atomic<std::size_t> g_next_slot{0};

// Processes left behind by fork(): their threads are gone and their locks
// may be held forever, so they are never touched again, only kept reachable
// (leak checkers then see them as kept, not lost).
std::vector<Process*>* g_abandoned = nullptr;

}  // namespace

Process& Process::current() {
  Process* p = g_current.load(std::memory_order_acquire);
  if (p) return *p;
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, fork_child);
    return true;
  }();
  (void)registered;
  auto* fresh = new Process;
  if (!g_current.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) {
    delete fresh;
    return *p;
  }
  return *fresh;
}

unsigned Process::fork_generation() { return g_fork_generation.load(std::memory_order_acquire); }

std::size_t Process::next_slot() {
  const std::size_t slot = g_next_slot.fetch_add(1, std::memory_order_relaxed);
  if (slot >= kMaxSlots) std::terminate();  // raise kMaxSlots
  return slot;
}

void* Process::make(std::size_t slot, void* (*create)()) {
  std::call_once(once_[slot], [&] { slots_[slot].store(create(), std::memory_order_release); });
  return slots_[slot].load(std::memory_order_acquire);
}

void Process::fork_child() {
  // Only the forking thread runs here; nothing else can look at g_current.
  Process* parent = g_current.load(std::memory_order_relaxed);
  g_fork_generation.fetch_add(1, std::memory_order_acq_rel);
  if (!parent) return;
  auto* child = new Process;
  // Held files first: an inherited ring's registered files are among them.
  child->held_files_.inherit(parent->held_files_);
  child->files_.inherit(parent->files_);
  if (!g_abandoned) g_abandoned = new std::vector<Process*>;
  g_abandoned->push_back(parent);
  g_current.store(child, std::memory_order_release);
}

int close_fd(int fd) {
  fd_mode_forget(fd);
  FileRef f = Process::current().files().remove(fd);
  return ::close(fd) == 0 ? 0 : -errno;
}

int current_tid() {
  thread_local unsigned generation = ~0u;
  thread_local int tid = 0;
  const unsigned g = g_fork_generation.load(std::memory_order_relaxed);
  if (generation != g) {
    tid = static_cast<int>(syscall(SYS_gettid));
    generation = g;
  }
  return tid;
}

int current_pid() {
  static std::atomic<unsigned> generation{~0u};
  static std::atomic<int> pid{0};
  const unsigned g = g_fork_generation.load(std::memory_order_acquire);
  if (generation.load(std::memory_order_acquire) != g) {
    pid.store(static_cast<int>(::getpid()), std::memory_order_relaxed);
    generation.store(g, std::memory_order_release);
  }
  return pid.load(std::memory_order_relaxed);
}

}  // namespace iostack::core
