// The virtual clock: time moves only when the event loop advances it.
#include "core/virtual_clock.hpp"

namespace iostack::core {

bool VirtualClock::run_one() {
  Timer* t = heap_.pop();
  if (!t) return false;
  if (t->expires > now_) now_ = t->expires;
  t->fn(t);
  return true;
}

// Drops and retakes the caller's lock, which the analysis cannot follow
// through a scoped lock passed by reference.
bool VirtualClock::wait(UniqueLock<Mutex>& lock, CondVar&, Nanos) NO_THREAD_SAFETY_ANALYSIS {
  lock.unlock();
  const bool fired = run_one();
  lock.lock();
  return fired;
}

bool VirtualClock::pause(Nanos) { return run_one(); }

std::size_t VirtualClock::run_until_idle() {
  std::size_t n = 0;
  while (run_one()) ++n;
  return n;
}

void VirtualClock::advance_to(Nanos t) {
  while (heap_.top() && heap_.top()->expires <= t) run_one();
  if (t > now_) now_ = t;
}

}  // namespace iostack::core
