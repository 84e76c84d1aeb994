// struct task_struct (include/linux/sched.h): the part of a task the I/O
// path reads. A Task is either bound to an OS thread (see current.hpp) or
// simulated: created with explicit credentials for tests and simulation.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace iostack::task {

struct Blkcg;
struct IoContext;
class TaskNamespace;

// PF_EXITING (include/linux/sched.h): the task is in do_exit().
constexpr unsigned kPfExiting = 0x00000004;

// SCHED_EXT (6.12+), missing from older headers; a fair-class policy.
constexpr int kSchedExt = 7;

// Capability bits the I/O path checks (include/uapi/linux/capability.h).
constexpr int kCapNetAdmin = 12;
constexpr int kCapIpcLock = 14;
constexpr int kCapSysAdmin = 21;
constexpr int kCapSysNice = 23;
constexpr std::uint64_t cap_bit(int cap) { return std::uint64_t{1} << cap; }

// struct task_struct (include/linux/sched.h)
struct Task {
  explicit Task(TaskNamespace* ns) : ns(ns) {}
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // Fixed once the task is visible in its namespace.
  pid_t pid = 0;   // thread id
  pid_t tgid = 0;  // process id
  TaskNamespace* const ns;

  // Credentials and scheduling, read by other tasks without task_lock (the
  // kernel reads creds under RCU), hence atomics.
  std::atomic<pid_t> pgrp{0};
  std::atomic<uid_t> uid{0};  // real uid: the target side of permission checks
  std::atomic<uid_t> euid{0};
  std::atomic<std::uint64_t> cap_effective{0};
  std::atomic<int> nice{0};
  std::atomic<int> policy{SCHED_OTHER};

  std::atomic<unsigned> flags{0};
  // Installed under alloc_lock; the owning thread reads it without a lock.
  std::atomic<IoContext*> io_context{nullptr};
  // current->plug: the block layer's struct BlkPlug*, opaque here.
  void* plug = nullptr;
  // Its io cgroup (task_css(t, io_cgrp_id)); nullptr: the root.
  std::atomic<Blkcg*> blkcg{nullptr};

  std::mutex alloc_lock;           // task_lock(): guards io_context installation
  std::atomic<bool> bound{false};  // an OS thread runs as this task
};

inline void task_lock(Task* t) { t->alloc_lock.lock(); }
inline void task_unlock(Task* t) { t->alloc_lock.unlock(); }

// capable(): whether the task holds `cap` in its effective set.
inline bool capable(const Task* t, int cap) {
  return (t->cap_effective.load(std::memory_order_relaxed) & cap_bit(cap)) != 0;
}

// Credentials and scheduling of a simulated task.
struct TaskSpec {
  pid_t pid = 0;   // 0: a free pid above any real one (PID_MAX_LIMIT)
  pid_t tgid = 0;  // 0: a process of its own (tgid = pid)
  pid_t pgrp = 0;  // 0: leads its own process group (pgrp = tgid)
  uid_t uid = 0;
  uid_t euid = 0;
  std::uint64_t caps = 0;  // effective capability bits, cap_bit(kCapSysNice)...
  int nice = 0;            // -20..19
  int policy = SCHED_OTHER;
  TaskNamespace* ns = nullptr;  // nullptr: init_task_ns()
};

// Creates and registers a simulated task. nullptr and *err = -EEXIST when
// the pid is taken, -EINVAL for a nice or policy Linux would refuse.
Task* task_create(const TaskSpec& spec, int* err = nullptr);

// The two halves of task_create, for callers that must prepare a task
// before anyone can find it (as copy_process runs copy_io before
// attach_pid). task_alloc validates and builds; task_publish registers it,
// choosing a free simulated pid when spec.pid was 0 (then it cannot fail).
Task* task_alloc(const TaskSpec& spec, int* err = nullptr);
int task_publish(Task* t);

// do_exit(): marks the task exiting, drops its io_context, unregisters and
// frees it. For simulated tasks and children never attached to a thread;
// a thread's task exits when the thread ends.
void task_exit(Task* t);

// Whether `policy` is a valid SCHED_* value and `nice` in range.
bool valid_policy(int policy);
bool valid_nice(int nice);

}  // namespace iostack::task
