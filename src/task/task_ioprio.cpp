// A task's effective I/O priority and ioprio checks.
#include "task/task_ioprio.hpp"

#include <cerrno>

#include "task/blk_ioc.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"
#include "task/task.hpp"

namespace iostack::task {

int task_nice_ioprio(const Task* t) { return (t->nice.load(std::memory_order_relaxed) + 20) / 5; }

int task_nice_ioclass(const Task* t) {
  switch (t->policy.load(std::memory_order_relaxed)) {
    case SCHED_IDLE:
      return kClassIdle;
    case SCHED_FIFO:
    case SCHED_RR:
    case SCHED_DEADLINE:
      return kClassRt;
    default:
      return kClassBe;
  }
}

std::uint16_t task_effective_ioprio(const Task* t) {
  const IoContext* ioc = t->io_context.load(std::memory_order_acquire);
  const std::uint16_t prio = ioc != nullptr ? ioc->ioprio.load(std::memory_order_relaxed) : 0;
  if (prio_class(prio) != kClassNone) return prio;
  return prio_value(task_nice_ioclass(t), task_nice_ioprio(t));
}

std::uint16_t task_raw_ioprio(Task* t) {
  std::lock_guard<std::mutex> g(t->alloc_lock);
  const IoContext* ioc = t->io_context.load(std::memory_order_relaxed);
  return ioc != nullptr ? ioc->ioprio.load(std::memory_order_relaxed) : kIoprioDefault;
}

int ioprio_check_cap(const Task* caller, int ioprio) {
  switch (prio_class(ioprio)) {
    case kClassRt:
      if (!capable(caller, kCapSysAdmin) && !capable(caller, kCapSysNice)) return -EPERM;
      return 0;
    case kClassBe:
    case kClassIdle:
      // The level field is three bits wide, so there is nothing to range
      // check; 6.x dropped the old "data < 8" test that rejected hints.
      return 0;
    case kClassNone:
      return prio_level(ioprio) != 0 ? -EINVAL : 0;
    default:
      return -EINVAL;
  }
}

int set_task_ioprio(Task* caller, Task* task, int ioprio) {
  const uid_t tuid = task->uid.load(std::memory_order_relaxed);
  if (tuid != caller->euid.load(std::memory_order_relaxed) &&
      tuid != caller->uid.load(std::memory_order_relaxed) && !capable(caller, kCapSysNice))
    return -EPERM;

  int err = 0;
  IoContext* ioc = get_task_io_context(task, caller, &err);
  if (ioc == nullptr) return err == -ENOMEM ? -ENOMEM : 0;  // -EBUSY: exiting
  // The syscall takes an int; the io_context keeps 16 bits, as the kernel's
  // unsigned short does.
  ioc->ioprio.store(static_cast<std::uint16_t>(ioprio), std::memory_order_relaxed);
  put_io_context(ioc);
  return 0;
}

}  // namespace iostack::task
