// current: the task of the calling OS thread. The first call on a thread
// creates its task with the thread's real tid, pid, process group, uids,
// effective capabilities, nice, policy and kernel I/O priority, registered
// in init_task_ns(); the task exits when the thread ends.
#pragma once

#include <cstdint>

namespace iostack::task {

struct IoContext;
struct Task;

// Never nullptr, except on a thread that is past its own exit (thread-local
// destructors running after the task ended).
Task* current();

// The calling thread's task if it has one; never creates one.
Task* current_if_bound();

// Ends the calling thread's task now rather than when the thread ends (its
// io_context goes, which may run a scheduler): for a thread whose end must
// come at a set point of a simulation. current() returns nullptr after it.
void exit_current();

// Runs the calling thread as `t` from now on (e.g. a child from task_clone
// with CLONE_IO, so a pool of threads shares one io_context). The thread's
// previous task exits; `t` exits when the thread ends. -EBUSY when another
// thread already runs as `t`.
int attach_current(Task* t);

// The simulation loop's context switch: current() returns `t` on this
// thread until switched again; ownership does not move and `t` does not
// end with the thread. nullptr switches back to the thread's own task.
// Returns the task current() returned before.
Task* switch_current(Task* t);

// Copies the thread's credentials, nice and policy from the OS again, after
// setresuid, capset, setpriority or sched_setscheduler changed them.
void refresh_current();

// For submit_bio: the calling task's priority as __get_task_ioprio
// computes it (a bio of class NONE takes this).
std::uint16_t current_ioprio();

// current->io_context, created on first use as blk_mq_sched_assign_ioc
// does; nullptr if it cannot be allocated. No reference is taken: it lives
// as long as the task; a request that outlives that takes get_io_context().
IoContext* current_io_context();

// &current->plug: where the block layer keeps the thread's BlkPlug*.
void** current_plug_slot();

}  // namespace iostack::task
