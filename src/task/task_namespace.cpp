// The registry of tasks by pid.
#include "task/task_namespace.hpp"

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/process.hpp"
#include "task/task.hpp"

namespace iostack::task {

TaskNamespace::~TaskNamespace() {
  std::vector<Task*> left;
  {
    std::unique_lock<std::shared_mutex> g(mu_);
    for (auto& [pid, t] : tasks_) left.push_back(t);
  }
  for (Task* t : left) task_exit(t);
}

bool TaskNamespace::add(Task* t) {
  std::unique_lock<std::shared_mutex> g(mu_);
  return tasks_.emplace(t->pid, t).second;
}

void TaskNamespace::remove(Task* t) {
  std::unique_lock<std::shared_mutex> g(mu_);
  auto it = tasks_.find(t->pid);
  if (it != tasks_.end() && it->second == t) tasks_.erase(it);
}

pid_t TaskNamespace::alloc_pid() {
  std::unique_lock<std::shared_mutex> g(mu_);
  // Wrap within the simulated range, skipping pids still in use.
  for (;;) {
    pid_t pid = next_sim_pid_;
    next_sim_pid_ = next_sim_pid_ == INT32_MAX ? kFirstSimPid : next_sim_pid_ + 1;
    if (tasks_.find(pid) == tasks_.end()) return pid;
  }
}

Task* TaskNamespace::find_locked(pid_t pid) const {
  auto it = tasks_.find(pid);
  return it == tasks_.end() ? nullptr : it->second;
}

std::size_t TaskNamespace::size() {
  std::shared_lock<std::shared_mutex> g(mu_);
  return tasks_.size();
}

TaskNamespace& init_task_ns() { return core::Process::current().state<TaskNamespace>(); }

}  // namespace iostack::task
