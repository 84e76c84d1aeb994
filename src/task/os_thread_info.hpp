// What the OS says about the calling thread: ids, credentials, capability
// set, nice, scheduling policy and kernel I/O priority. current() copies
// these into the thread's Task so iostack's checks see the real caller.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace iostack::task {

struct OsThreadInfo {
  pid_t tid = 0;
  pid_t pid = 0;
  pid_t pgrp = 0;
  uid_t uid = 0;
  uid_t euid = 0;
  std::uint64_t caps = 0;  // effective set
  int nice = 0;
  int policy = 0;  // without SCHED_RESET_ON_FORK
  int ioprio = 0;  // the kernel's raw value; 0 if unset or unavailable
};

OsThreadInfo read_os_thread_info();

}  // namespace iostack::task
