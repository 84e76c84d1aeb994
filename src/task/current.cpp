// The task of the calling thread, made on first use.
#include "task/current.hpp"

#include <pthread.h>

#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/os_thread_info.hpp"
#include "task/task.hpp"
#include "task/task_ioprio.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task {
namespace {

// The fast path reads a trivially constructed pointer; the owner object,
// whose destructor ends the task, is touched only when a task is bound.
thread_local Task* tls_current = nullptr;
thread_local bool tls_exited = false;
// A fork child's thread inherits its parent task's priority (copy_io).
thread_local std::uint16_t tls_inherited_prio = 0;

struct Owner {
  Task* task = nullptr;
  ~Owner() { end(); }
  void end() {
    tls_current = nullptr;
    tls_exited = true;
    if (Task* t = task) {
      task = nullptr;
      t->bound.store(false, std::memory_order_relaxed);
      task_exit(t);
    }
  }
};
thread_local Owner tls_owner;

void bind(Task* t) {
  tls_owner.task = t;
  tls_current = t;
}

// After fork() only the forking thread exists, and its task belongs to
// the parent process: forget it (the copy leaks) and start afresh, keeping
// the priority as copy_io would.
void forget_task_in_child() {
  if (Task* t = tls_current) {
    const IoContext* ioc = t->io_context.load(std::memory_order_relaxed);
    const std::uint16_t prio = ioc != nullptr ? ioc->ioprio.load(std::memory_order_relaxed) : 0;
    tls_inherited_prio = ioprio_valid(prio) ? prio : 0;
  }
  tls_owner.task = nullptr;
  tls_current = nullptr;
}

[[maybe_unused]] const int g_atfork = pthread_atfork(nullptr, nullptr, forget_task_in_child);

void apply(Task* t, const OsThreadInfo& info) {
  t->pgrp.store(info.pgrp, std::memory_order_relaxed);
  t->uid.store(info.uid, std::memory_order_relaxed);
  t->euid.store(info.euid, std::memory_order_relaxed);
  t->cap_effective.store(info.caps, std::memory_order_relaxed);
  t->nice.store(valid_nice(info.nice) ? info.nice : 0, std::memory_order_relaxed);
  t->policy.store(valid_policy(info.policy) ? info.policy : SCHED_OTHER, std::memory_order_relaxed);
}

Task* create_thread_task() {
  const OsThreadInfo info = read_os_thread_info();
  auto* t = new Task(&init_task_ns());
  t->pid = info.tid;
  t->tgid = info.pid;
  apply(t, info);
  // Start from the priority the thread already has (ionice, or a parent
  // that set one before fork), as the kernel's own io_context would.
  const auto prio =
      tls_inherited_prio != 0 ? tls_inherited_prio : static_cast<std::uint16_t>(info.ioprio);
  if (prio != 0) {
    if (IoContext* ioc = alloc_io_context()) {
      ioc->ioprio.store(prio, std::memory_order_relaxed);
      t->io_context.store(ioc, std::memory_order_release);
    }
  }
  // A simulated task may hold this pid; the thread's task then stays
  // unfindable by pid rather than displacing it.
  t->ns->add(t);
  t->bound.store(true, std::memory_order_relaxed);
  return t;
}

}  // namespace

Task* current() {
  if (Task* t = tls_current) return t;
  if (tls_exited) return nullptr;
  Task* t = create_thread_task();
  bind(t);
  return t;
}

Task* current_if_bound() { return tls_current; }

void exit_current() { tls_owner.end(); }

int attach_current(Task* t) {
  if (tls_current == t) return 0;
  bool expected = false;
  if (!t->bound.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return -EBUSY;
  if (Task* old = tls_owner.task) {
    tls_owner.task = nullptr;
    old->bound.store(false, std::memory_order_relaxed);
    task_exit(old);
  }
  tls_exited = false;
  bind(t);
  return 0;
}

Task* switch_current(Task* t) {
  Task* prev = current();
  tls_current = t != nullptr ? t : tls_owner.task;
  return prev;
}

void refresh_current() {
  if (Task* t = current()) apply(t, read_os_thread_info());
}

std::uint16_t current_ioprio() {
  if (const Task* t = current()) return task_effective_ioprio(t);
  return prio_value(kClassBe, kNorm);
}

IoContext* current_io_context() {
  Task* t = current();
  if (t == nullptr) return nullptr;
  if (IoContext* ioc = t->io_context.load(std::memory_order_acquire)) return ioc;
  if (create_task_io_context(t, t) != 0) return nullptr;
  return t->io_context.load(std::memory_order_acquire);
}

void** current_plug_slot() {
  if (Task* t = current()) return &t->plug;
  thread_local void* orphan_plug = nullptr;
  return &orphan_plug;
}

}  // namespace iostack::task
