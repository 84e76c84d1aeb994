// The task side of block/blk-ioc.c: finding, creating and dropping a task's
// io_context. `current` is the task running the caller's code: the kernel
// lets an exiting task give itself an io_context (its exit path may still
// issue I/O) but never installs one on somebody else's exiting task.
#pragma once

namespace iostack::task {

struct IoContext;
struct Task;

// Allocates an io_context and installs it on `task` unless it already has
// one or is exiting and is not `current`. 0 when `task` ends up with an
// io_context (ours or a racing one), -EBUSY when it cannot have one,
// -ENOMEM when allocation failed.
int create_task_io_context(Task* task, Task* current);

// The io_context of `task` with a reference taken, created if missing.
// nullptr when none can be had; *err then says why (-ENOMEM or -EBUSY).
IoContext* get_task_io_context(Task* task, Task* current, int* err = nullptr);

// Called from task exit: detaches the io_context and drops the task's
// share of it (nr_tasks, active_ref and the reference).
void exit_io_context(Task* task);

}  // namespace iostack::task
