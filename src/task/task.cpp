// Task creation and exit.
#include "task/task.hpp"

#include <cassert>
#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task {

bool valid_policy(int policy) {
  switch (policy) {
    case SCHED_OTHER:
    case SCHED_FIFO:
    case SCHED_RR:
    case SCHED_BATCH:
    case SCHED_IDLE:
    case SCHED_DEADLINE:
    case kSchedExt:
      return true;
    default:
      return false;
  }
}

bool valid_nice(int nice) { return nice >= -20 && nice <= 19; }

Task* task_alloc(const TaskSpec& spec, int* err) {
  if (!valid_nice(spec.nice) || !valid_policy(spec.policy) || spec.pid < 0 || spec.tgid < 0 ||
      spec.pgrp < 0) {
    if (err != nullptr) *err = -EINVAL;
    return nullptr;
  }
  auto* t = new Task(spec.ns != nullptr ? spec.ns : &init_task_ns());
  t->pid = spec.pid;
  t->tgid = spec.tgid;
  t->pgrp = spec.pgrp;
  t->uid = spec.uid;
  t->euid = spec.euid;
  t->cap_effective = spec.caps;
  t->nice = spec.nice;
  t->policy = spec.policy;
  return t;
}

int task_publish(Task* t) {
  const bool pick_pid = t->pid == 0;
  const bool own_tgid = t->tgid == 0;
  const bool own_pgrp = t->pgrp.load(std::memory_order_relaxed) == 0;
  for (;;) {
    if (pick_pid) t->pid = t->ns->alloc_pid();
    if (own_tgid) t->tgid = t->pid;
    if (own_pgrp) t->pgrp = t->tgid;
    if (t->ns->add(t)) return 0;
    // A picked pid can be taken by an explicit one between alloc and add.
    if (!pick_pid) return -EEXIST;
  }
}

Task* task_create(const TaskSpec& spec, int* err) {
  Task* t = task_alloc(spec, err);
  if (t == nullptr) return nullptr;
  if (int ret = task_publish(t); ret != 0) {
    delete t;
    if (err != nullptr) *err = ret;
    return nullptr;
  }
  return t;
}

void task_exit(Task* t) {
  // A thread's task ends with its thread; ending it here would leave the
  // thread's current() dangling.
  assert(!t->bound.load(std::memory_order_relaxed));
  t->flags.fetch_or(kPfExiting, std::memory_order_relaxed);
  exit_io_context(t);
  t->ns->remove(t);
  delete t;
}

}  // namespace iostack::task
