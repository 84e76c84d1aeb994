// The task-creation side of kernel/fork.c: copy_io and a clone() for
// iostack tasks, so that cooperating threads can share an io_context the
// way CLONE_IO processes do.
#pragma once

#include "task/task.hpp"

namespace iostack::task {

// copy_io() as the kernel runs it in copy_process(), with `parent` in the
// role of current: nothing when the parent has no io_context; CLONE_IO shares
// it; otherwise a parent priority that is set (RT/BE/IDLE) is given to the
// child in a new io_context. 0 or -ENOMEM.
int copy_io(Task* parent, unsigned long clone_flags, Task* child);

// Creates a child task of `parent` in the parent's namespace: a new pid,
// the parent's tgid with CLONE_THREAD (else its own), the parent's process
// group, credentials, nice and policy; then copy_io. The child is not bound
// to a thread: attach_current() runs a thread as it, or task_exit() ends it.
// nullptr and *err = -ENOMEM when copy_io fails.
Task* task_clone(Task* parent, unsigned long clone_flags, int* err = nullptr);

}  // namespace iostack::task
