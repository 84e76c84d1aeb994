// The registry of tasks by pid.
#include "task/task_namespace.hpp"

#include <cstdint>
#include <vector>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "task/task.hpp"

namespace iostack::task {

TaskNamespace::~TaskNamespace() {
  std::vector<Task*> left;
  {
    core::LockGuard g(mu_);
    for (auto& [pid, t] : tasks_) left.push_back(t);
  }
  for (Task* t : left) task_exit(t);
}

bool TaskNamespace::add(Task* t) {
  core::LockGuard g(mu_);
  return tasks_.emplace(t->pid, t).second;
}

void TaskNamespace::remove(Task* t) {
  core::LockGuard g(mu_);
  auto it = tasks_.find(t->pid);
  if (it != tasks_.end() && it->second == t) tasks_.erase(it);
}

pid_t TaskNamespace::alloc_pid() {
  core::LockGuard g(mu_);
  // Wrap within the simulated range, skipping pids still in use.
  for (;;) {
    pid_t pid = next_sim_pid_;
    next_sim_pid_ = next_sim_pid_ == INT32_MAX ? kFirstSimPid : next_sim_pid_ + 1;
    if (tasks_.find(pid) == tasks_.end()) return pid;
  }
}

Task* TaskNamespace::lookup(pid_t pid) const {
  auto it = tasks_.find(pid);
  return it == tasks_.end() ? nullptr : it->second;
}

std::size_t TaskNamespace::size() {
  core::SharedLockGuard g(mu_);
  return tasks_.size();
}

TaskNamespace& init_task_ns() { return core::Process::current().state<TaskNamespace>(); }

}  // namespace iostack::task
