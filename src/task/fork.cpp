// copy_io and task_clone: io_contexts at task creation.
#include "task/fork.hpp"

#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"

namespace iostack::task {

int copy_io(Task* parent, unsigned long clone_flags, Task* child) {
  // The parent's lock keeps its io_context alive while we link to it (in
  // the kernel the parent is current and cannot exit meanwhile).
  std::lock_guard<std::mutex> g(parent->alloc_lock);
  IoContext* ioc = parent->io_context.load(std::memory_order_relaxed);
  if (ioc == nullptr) return 0;

  if ((clone_flags & CLONE_IO) != 0) {
    ioc_task_link(ioc);
    child->io_context.store(ioc, std::memory_order_release);
  } else if (const std::uint16_t prio = ioc->ioprio.load(std::memory_order_relaxed);
             ioprio_valid(prio)) {
    // The child is not yet visible to anyone, so no lock order issue.
    IoContext* new_ioc = get_task_io_context(child, parent);
    if (new_ioc == nullptr) return -ENOMEM;
    new_ioc->ioprio.store(prio, std::memory_order_relaxed);
    put_io_context(new_ioc);
  }
  return 0;
}

Task* task_clone(Task* parent, unsigned long clone_flags, int* err) {
  TaskSpec spec;
  spec.tgid = (clone_flags & CLONE_THREAD) != 0 ? parent->tgid : 0;
  spec.pgrp = parent->pgrp.load(std::memory_order_relaxed);
  spec.uid = parent->uid.load(std::memory_order_relaxed);
  spec.euid = parent->euid.load(std::memory_order_relaxed);
  spec.caps = parent->cap_effective.load(std::memory_order_relaxed);
  spec.nice = parent->nice.load(std::memory_order_relaxed);
  spec.policy = parent->policy.load(std::memory_order_relaxed);
  spec.ns = parent->ns;
  Task* child = task_alloc(spec, err);
  if (child == nullptr) return nullptr;
  // cgroup_fork: the child starts in its parent's cgroup.
  child->blkcg.store(parent->blkcg.load(std::memory_order_acquire), std::memory_order_relaxed);

  // Not yet findable, so nobody can race copy_io on the child.
  if (int ret = copy_io(parent, clone_flags, child); ret != 0) {
    delete child;  // copy_io fails only before installing anything
    if (err != nullptr) *err = ret;
    return nullptr;
  }
  task_publish(child);  // a picked pid: cannot fail
  return child;
}

}  // namespace iostack::task
