// Reading ids, credentials, capabilities and scheduling of a thread.
#include "task/os_thread_info.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace iostack::task {
namespace {

// capget(2); glibc has no wrapper. Falls back to CapEff in /proc when the
// call is filtered (some sandboxes).
std::uint64_t read_effective_caps(pid_t tid) {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = tid;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) == 0)
    return (std::uint64_t{data[1].effective} << 32) | data[0].effective;

  unsigned long long caps = 0;
  if (FILE* f = std::fopen("/proc/thread-self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr)
      if (std::sscanf(line, "CapEff: %llx", &caps) == 1) break;
    std::fclose(f);
  }
  return caps;
}

}  // namespace

OsThreadInfo read_os_thread_info() {
  OsThreadInfo info;
  info.tid = static_cast<pid_t>(syscall(SYS_gettid));
  info.pid = getpid();
  info.pgrp = getpgrp();
  uid_t suid = 0;
  getresuid(&info.uid, &info.euid, &suid);
  info.caps = read_effective_caps(info.tid);

  // Nice is per thread on Linux; -1 is a valid answer, so errno decides.
  const int saved_errno = errno;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(info.tid));
  info.nice = errno == 0 ? nice : 0;

  const int policy = sched_getscheduler(0);
  info.policy = policy >= 0 ? (policy & ~SCHED_RESET_ON_FORK) : SCHED_OTHER;

  const long prio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
  info.ioprio = prio > 0 ? static_cast<int>(prio) : 0;
  errno = saved_errno;
  return info;
}

}  // namespace iostack::task
