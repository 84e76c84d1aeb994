// A pipe's mutex as splice and tee on io-wq hold it (see pipe_mutex.hpp).
#include "uring/pipe_mutex.hpp"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "uring/io_wq.hpp"

namespace iostack::uring {

namespace {

// The pipes whose mutex a splice holds (few at a time).
struct HeldPipes {
  core::Mutex mu;
  std::vector<PipeId> held GUARDED_BY(mu);

  bool holds(PipeId id) REQUIRES(mu) {
    return id.valid() && std::find(held.begin(), held.end(), id) != held.end();
  }
};

HeldPipes& held_pipes() { return core::Process::current().state<HeldPipes>(); }

}  // namespace

bool PipeMutexGuard::lock(PipeId a, PipeId b) {
  unlock();
  if (!a.valid() && !b.valid()) return false;
  if (a == b) b = PipeId{};
  HeldPipes& hp = held_pipes();
  bool cancelled = false;
  for (;;) {
    {
      core::LockGuard lock(hp.mu);
      if (!hp.holds(a) && !hp.holds(b)) {
        for (PipeId id : {a, b})
          if (id.valid()) hp.held.push_back(id);
        held_[0] = a;
        held_[1] = b;
        return cancelled;
      }
    }
    if (!IoWq::current_is_worker()) return false;  // nothing to sleep on
    // A sleeping worker, as in mutex_lock: what waits behind it gets one.
    // mutex_lock is not interruptible (fuzz seed 1002885: a SPLICE from an
    // eventfd fails -EINVAL once it has the mutex).
    if (IoWq::wait_ready(-1, 0, 1)) {
      cancelled = true;
      usleep(1000);
    }
  }
}

void PipeMutexGuard::unlock() {
  if (!held_[0].valid() && !held_[1].valid()) return;
  HeldPipes& hp = held_pipes();
  core::LockGuard lock(hp.mu);
  for (PipeId& id : held_) {
    if (!id.valid()) continue;
    auto it = std::find(hp.held.begin(), hp.held.end(), id);
    if (it != hp.held.end()) hp.held.erase(it);
    id = PipeId{};
  }
}

}  // namespace iostack::uring
