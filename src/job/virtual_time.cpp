// The baton that job threads pass around in virtual time.
#include "job/virtual_time.hpp"

#include <chrono>

namespace iostack::job {

VirtualTime::VirtualTime() { clock_.set_jiffy(kJiffy); }

VirtualTime::~VirtualTime() {
  for (auto& p : parts_) clock_.cancel(&p->timer);
}

int VirtualTime::add() {
  auto p = std::make_unique<Part>();
  p->vt = this;
  p->id = static_cast<int>(parts_.size());
  p->timer.fn = [](core::Timer* t) {
    auto* part = static_cast<Part*>(t->priv);
    part->vt->wake(part->id);
  };
  p->timer.priv = p.get();
  parts_.push_back(std::move(p));
  return static_cast<int>(parts_.size()) - 1;
}

bool VirtualTime::fire_next() {
  const core::Nanos t = clock_.next_expiry();
  if (t == core::kNoTimeout) return false;
  if (on_advance_) on_advance_(t > clock_.now() ? t : clock_.now());
  return clock_.run_one();
}

void VirtualTime::hand_to(int next, int me, bool wait_back) {
  core::UniqueLock lock(mu_);
  holder_ = next;
  cv_of(next).notify_one();
  if (!wait_back) return;
  while (holder_ != me) cv_of(me).wait(lock);
}

void VirtualTime::run_batch(const std::vector<int>& ids, const std::function<void()>& poll) {
  for (int id : ids) {
    Part& p = *parts_[id];
    p.done = false;
    p.blocked = true;  // in enter(), waiting for its first turn
    p.queued = true;
    runnable_.push_back(id);
    ++live_;
  }
  if (runnable_.empty()) return;
  const int first = runnable_.front();
  runnable_.pop_front();
  parts_[first]->queued = false;
  core::UniqueLock lock(mu_);
  holder_ = first;
  cv_of(first).notify_one();
  while (holder_ != kRunner) {
    runner_cv_.wait_for(lock, std::chrono::milliseconds(20));
    if (holder_ != kRunner && poll) {
      lock.unlock();
      poll();
      lock.lock();
    }
  }
}

void VirtualTime::enter(int id) {
  Part& p = *parts_[id];
  {
    core::UniqueLock lock(mu_);
    while (holder_ != id) p.cv.wait(lock);
  }
  p.blocked = false;
}

void VirtualTime::wake(int id) {
  Part& p = *parts_[id];
  if (p.done || !p.blocked || p.queued) return;
  p.queued = true;
  runnable_.push_back(id);
}

bool VirtualTime::block(int id) {
  Part& p = *parts_[id];
  if (stuck_) return false;
  p.blocked = true;
  for (;;) {
    if (!runnable_.empty()) {
      const int next = runnable_.front();
      runnable_.pop_front();
      parts_[next]->queued = false;
      if (next != id) hand_to(next, id, true);
      p.blocked = false;
      return !stuck_;
    }
    if (fire_next()) continue;
    // Nobody can run and no timer is left: wake every other waiter so that
    // each sees it, and fail.
    stuck_ = true;
    p.blocked = false;
    for (auto& q : parts_) {
      if (q.get() != &p && !q->done && q->blocked && !q->queued) {
        q->queued = true;
        runnable_.push_back(q->id);
      }
    }
    return false;
  }
}

bool VirtualTime::sleep_until(int id, core::Nanos t) {
  if (clock_.now() >= t) return true;
  Part& p = *parts_[id];
  clock_.arm(&p.timer, t);
  const bool ok = block(id);
  clock_.cancel(&p.timer);
  return ok;
}

void VirtualTime::exit(int id) {
  Part& p = *parts_[id];
  clock_.cancel(&p.timer);
  p.done = true;
  p.blocked = false;
  --live_;
  for (;;) {
    if (!runnable_.empty()) {
      const int next = runnable_.front();
      runnable_.pop_front();
      parts_[next]->queued = false;
      hand_to(next, id, false);
      return;
    }
    if (live_ == 0) {
      hand_to(kRunner, id, false);
      return;
    }
    if (!stuck_ && fire_next()) continue;
    stuck_ = true;
    for (auto& q : parts_) {
      if (!q->done && q->blocked && !q->queued) {
        q->queued = true;
        runnable_.push_back(q->id);
      }
    }
    if (runnable_.empty()) {  // cannot happen: a live participant waits somewhere
      hand_to(kRunner, id, false);
      return;
    }
  }
}

}  // namespace iostack::job
