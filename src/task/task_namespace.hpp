// struct pid_namespace (kernel/pid_namespace.c): the set of tasks that
// ioprio_set/get can name by pid, process group or uid. Threads mapped by
// current() live in init_task_ns(); tests and simulations make their own
// so that they see exactly the tasks they created.
#pragma once

#include <sys/types.h>

#include <map>

#include "core/mutex.hpp"

namespace iostack::task {

struct Task;

// Simulated pids start at PID_MAX_LIMIT (1 << 22), where no real pid can be.
constexpr pid_t kFirstSimPid = pid_t{1} << 22;

// struct pid_namespace (kernel/pid_namespace.c)
class TaskNamespace {
 public:
  TaskNamespace() = default;
  TaskNamespace(const TaskNamespace&) = delete;
  TaskNamespace& operator=(const TaskNamespace&) = delete;
  // Exits the simulated tasks still registered. Tasks bound to threads must
  // have ended first.
  ~TaskNamespace();

  // Registers t under t->pid; false when the pid is taken.
  bool add(Task* t);
  void remove(Task* t);
  // A pid no registered task has, from the simulated range.
  pid_t alloc_pid();

  // Readers hold a shared lock while they use the tasks they find: a task
  // is unregistered (under the exclusive lock) before it is freed.
  core::SharedMutex& mutex() RETURN_CAPABILITY(mu_) { return mu_; }
  Task* lookup(pid_t pid) const REQUIRES_SHARED(mu_);
  const std::map<pid_t, Task*>& tasks() const REQUIRES_SHARED(mu_) { return tasks_; }

  std::size_t size();

 private:
  mutable core::SharedMutex mu_;
  std::map<pid_t, Task*> tasks_ GUARDED_BY(mu_);
  pid_t next_sim_pid_ GUARDED_BY(mu_) = kFirstSimPid;
};

// The namespace of the process's own threads; never destroyed.
TaskNamespace& init_task_ns();

}  // namespace iostack::task
