// A task's I/O priority (block/ioprio.c, include/linux/ioprio.h): the
// permission rules for changing it and the value its I/O actually gets.
#pragma once

#include <cstdint>

namespace iostack::task {

struct Task;

// task_nice_ioprio(): the BE/RT level that follows the CPU nice value.
int task_nice_ioprio(const Task* t);
// task_nice_ioclass(): SCHED_IDLE -> IDLE, FIFO/RR/DEADLINE -> RT, else BE.
int task_nice_ioclass(const Task* t);

// __get_task_ioprio(): the priority the task's I/O gets: its io_context's
// value unless that is class NONE (or there is none), in which case class
// and level come from the scheduling policy and nice. Call it for the
// calling thread's own task or with task_lock held.
std::uint16_t task_effective_ioprio(const Task* t);

// The value ioprio_get(IOPRIO_WHO_PROCESS) reports: the io_context's raw
// priority, IOPRIO_DEFAULT (0) when the task has none. Takes task_lock.
std::uint16_t task_raw_ioprio(Task* t);

// ioprio_check_cap(): whether `caller` may ask for `ioprio` at all.
// RT needs CAP_SYS_ADMIN or CAP_SYS_NICE (EPERM); NONE needs level 0; BE and
// IDLE take any level and hint; classes 4-7 are EINVAL.
int ioprio_check_cap(const Task* caller, int ioprio);

// set_task_ioprio(): `caller` sets the priority of `task`. EPERM unless the
// target's real uid equals the caller's uid or euid, or the caller has
// CAP_SYS_NICE; ENOMEM when no io_context can be allocated. An exiting
// task silently keeps its priority (0).
int set_task_ioprio(Task* caller, Task* task, int ioprio);

}  // namespace iostack::task
