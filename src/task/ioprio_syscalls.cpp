// ioprio_set/ioprio_get over iostack's tasks.
#include "task/ioprio_syscalls.hpp"

#include <cerrno>
#include <mutex>

#include "task/ioprio.hpp"
#include "task/task.hpp"
#include "task/task_ioprio.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task {
namespace {

constexpr uid_t kInvalidUid = static_cast<uid_t>(-1);

// Runs fn on every task of `ns` matching `pred` until fn returns nonzero.
// Returns fn's last result, or -ESRCH when nothing matched.
template <typename Pred, typename Fn>
int for_each_match(TaskNamespace& ns, Pred pred, Fn fn) REQUIRES_SHARED(ns.mutex()) {
  int ret = -ESRCH;
  for (const auto& [pid, t] : ns.tasks()) {
    if (!pred(t)) continue;
    ret = fn(t);
    if (ret != 0) break;
  }
  return ret;
}

// find_user(): a user_struct exists while some task has that real uid.
bool user_exists(TaskNamespace& ns, uid_t uid) REQUIRES_SHARED(ns.mutex()) {
  for (const auto& [pid, t] : ns.tasks())
    if (t->uid.load(std::memory_order_relaxed) == uid) return true;
  return false;
}

// Accumulates effective priorities with ioprio_best; -ESRCH until one is seen.
struct Best {
  int value = -ESRCH;
  void add(Task* t) {
    std::lock_guard<std::mutex> g(t->alloc_lock);
    const std::uint16_t prio = task_effective_ioprio(t);
    value = value == -ESRCH ? prio : ioprio_best(static_cast<std::uint16_t>(value), prio);
  }
};

}  // namespace

int ioprio_set(Task* caller, int which, int who, int ioprio) {
  if (int ret = ioprio_check_cap(caller, ioprio); ret != 0) return ret;

  TaskNamespace& ns = *caller->ns;
  core::SharedLockGuard g(ns.mutex());
  switch (which) {
    case kWhoProcess: {
      Task* t = who == 0 ? caller : ns.lookup(who);
      return t != nullptr ? set_task_ioprio(caller, t, ioprio) : -ESRCH;
    }
    case kWhoPgrp: {
      const pid_t pgrp = who == 0 ? caller->pgrp.load(std::memory_order_relaxed) : who;
      return for_each_match(
          ns, [pgrp](Task* t) { return t->pgrp.load(std::memory_order_relaxed) == pgrp; },
          [&](Task* t) { return set_task_ioprio(caller, t, ioprio); });
    }
    case kWhoUser: {
      const auto uid = static_cast<uid_t>(who);
      if (uid == kInvalidUid) return -ESRCH;
      if (who != 0 && !user_exists(ns, uid)) return -ESRCH;
      return for_each_match(
          ns, [uid](Task* t) { return t->uid.load(std::memory_order_relaxed) == uid; },
          [&](Task* t) { return set_task_ioprio(caller, t, ioprio); });
    }
    default:
      return -EINVAL;
  }
}

int ioprio_get(Task* caller, int which, int who) {
  TaskNamespace& ns = *caller->ns;
  core::SharedLockGuard g(ns.mutex());
  Best best;
  switch (which) {
    case kWhoProcess: {
      Task* t = who == 0 ? caller : ns.lookup(who);
      return t != nullptr ? task_raw_ioprio(t) : -ESRCH;
    }
    case kWhoPgrp: {
      const pid_t pgrp = who == 0 ? caller->pgrp.load(std::memory_order_relaxed) : who;
      for (const auto& [pid, t] : ns.tasks())
        if (t->pgrp.load(std::memory_order_relaxed) == pgrp) best.add(t);
      return best.value;
    }
    case kWhoUser: {
      const uid_t uid =
          who == 0 ? caller->uid.load(std::memory_order_relaxed) : static_cast<uid_t>(who);
      if (uid == kInvalidUid || (who != 0 && !user_exists(ns, uid))) return -ESRCH;
      for (const auto& [pid, t] : ns.tasks())
        if (t->uid.load(std::memory_order_relaxed) == uid) best.add(t);
      return best.value;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace iostack::task
