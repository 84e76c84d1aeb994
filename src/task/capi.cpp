// The C API of include/iostack/ioprio.h: the syscalls with current() as
// the caller.
#include "iostack/ioprio.h"

#include <cerrno>

#include "task/current.hpp"
#include "task/ioprio_syscalls.hpp"

extern "C" int iostack_ioprio_set(int which, int who, int ioprio) {
  iostack::task::Task* caller = iostack::task::current();
  if (caller == nullptr) return -ESRCH;  // only during thread teardown
  return iostack::task::ioprio_set(caller, which, who, ioprio);
}

extern "C" int iostack_ioprio_get(int which, int who) {
  iostack::task::Task* caller = iostack::task::current();
  if (caller == nullptr) return -ESRCH;
  return iostack::task::ioprio_get(caller, which, who);
}
