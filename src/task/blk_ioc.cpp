// get/create_task_io_context and put_io_context.
#include "task/blk_ioc.hpp"

#include <cerrno>

#include "task/io_context.hpp"
#include "task/task.hpp"

namespace iostack::task {

int create_task_io_context(Task* task, Task* current) {
  IoContext* ioc = alloc_io_context();
  if (ioc == nullptr) return -ENOMEM;

  task_lock(task);
  const bool exiting = (task->flags.load(std::memory_order_relaxed) & kPfExiting) != 0;
  if (task->io_context.load(std::memory_order_relaxed) == nullptr &&
      (task == current || !exiting)) {
    // release: the owner reads io_context without task_lock.
    task->io_context.store(ioc, std::memory_order_release);
    ioc = nullptr;
  }
  const int ret = task->io_context.load(std::memory_order_relaxed) != nullptr ? 0 : -EBUSY;
  task_unlock(task);

  delete ioc;  // lost the race, or the task may not have one
  return ret;
}

IoContext* get_task_io_context(Task* task, Task* current, int* err) {
  // Retry until the task has one: create reports 0 also when a racing
  // creator won, and the loop then takes a reference on the winner's.
  int ret = 0;
  do {
    task_lock(task);
    IoContext* ioc = task->io_context.load(std::memory_order_relaxed);
    if (ioc != nullptr) {
      get_io_context(ioc);
      task_unlock(task);
      return ioc;
    }
    task_unlock(task);
  } while ((ret = create_task_io_context(task, current)) == 0);

  if (err != nullptr) *err = ret;
  return nullptr;
}

void exit_io_context(Task* task) {
  task_lock(task);
  IoContext* ioc = task->io_context.exchange(nullptr, std::memory_order_acq_rel);
  task_unlock(task);
  if (ioc == nullptr) return;

  ioc->nr_tasks.fetch_sub(1, std::memory_order_relaxed);
  put_io_context_active(ioc);
}

}  // namespace iostack::task
