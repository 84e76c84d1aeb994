// Forked processes with chosen credentials for the ioprio differential tests.
#include "kernel_procs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace iostack::task::testing {
namespace {

bool write_all(int fd, const void* buf, std::size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    const ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* buf, std::size_t len) {
  char* p = static_cast<char*>(buf);
  while (len > 0) {
    const ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

bool set_caps(std::uint64_t caps) {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < 2; i++) {
    const auto word = static_cast<std::uint32_t>(caps >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
  }
  return syscall(SYS_capset, &hdr, data) == 0;
}

// Becomes ruid/euid with exactly `caps`. Capabilities survive the uid
// change only with KEEPCAPS, and then only in the permitted set.
bool drop_to(const Creds& c) {
  if (c.keep_root) return true;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return false;
  if (setgroups(0, nullptr) != 0) return false;
  if (setresgid(c.ruid, c.ruid, c.ruid) != 0) return false;
  if (setresuid(c.ruid, c.euid, c.euid) != 0) return false;
  return set_caps(c.caps);
}

// Applies the process-group, priority and scheduling part of a setup.
bool set_up(const ProcSetup& s) {
  bool ok = setpgid(0, s.join_pgrp) == 0;
  ok = sys_ioprio_set(1, 0, 0) == 0 && ok;
  if (s.nice != 0) ok = setpriority(PRIO_PROCESS, 0, s.nice) == 0 && ok;
  if (s.policy != SCHED_OTHER) {
    sched_param sp{};
    sp.sched_priority = (s.policy == SCHED_FIFO || s.policy == SCHED_RR) ? 1 : 0;
    ok = sched_setscheduler(0, s.policy, &sp) == 0 && ok;
  }
  return ok;
}

ProcInfo describe(bool ok) {
  ProcInfo info;
  info.pid = getpid();
  info.pgrp = getpgrp();
  uid_t suid = 0;
  getresuid(&info.ruid, &info.euid, &suid);
  info.caps = effective_caps();
  errno = 0;
  info.nice = getpriority(PRIO_PROCESS, 0);
  info.policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
  info.ok = ok ? 1 : 0;
  return info;
}

void close_pair(int p[2]) {
  for (int i = 0; i < 2; i++) {
    if (p[i] >= 0) close(p[i]);
    p[i] = -1;
  }
}

}  // namespace

long sys_ioprio_set(int which, int who, int ioprio) {
  const long r = syscall(SYS_ioprio_set, which, who, ioprio);
  return r < 0 ? -errno : r;
}

long sys_ioprio_get(int which, int who) {
  const long r = syscall(SYS_ioprio_get, which, who);
  return r < 0 ? -errno : r;
}

std::uint64_t effective_caps() {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return 0;
  return (std::uint64_t{data[1].effective} << 32) | data[0].effective;
}

HeldProcs::HeldProcs() {
  if (pipe2(hold_, O_CLOEXEC) != 0) std::abort();
}

HeldProcs::~HeldProcs() {
  close_pair(hold_);  // EOF releases every held child
  close_pair(go_);
  close_pair(results_);
  for (pid_t pid : children_) waitpid(pid, nullptr, 0);
}

ProcInfo HeldProcs::spawn(const ProcSetup& setup) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(hold_[1]);
    close(report[0]);
    bool ok = set_up(setup);
    ok = drop_to(setup.creds) && ok;
    const ProcInfo info = describe(ok);
    write_all(report[1], &info, sizeof info);
    close(report[1]);
    char c;
    while (read(hold_[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(report[1]);
  ProcInfo info;
  if (pid < 0 || !read_all(report[0], &info, sizeof info)) info.ok = 0;
  close(report[0]);
  if (pid > 0) children_.push_back(pid);
  return info;
}

ProcInfo HeldProcs::spawn_caller(const ProcSetup& setup, Body body) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0 || pipe2(go_, O_CLOEXEC) != 0 ||
      pipe2(results_, O_CLOEXEC) != 0)
    std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(hold_[1]);
    close(report[0]);
    close(go_[1]);
    close(results_[0]);
    // Stay root until the go: the test sets up the other processes first.
    const bool ok = set_up(setup);
    ProcInfo info = describe(ok);
    write_all(report[1], &info, sizeof info);
    std::size_t nargs = 0;
    if (!read_all(go_[0], &nargs, sizeof nargs)) _exit(1);
    std::vector<long> args(nargs);
    if (!read_all(go_[0], args.data(), nargs * sizeof(long))) _exit(1);
    const bool dropped = drop_to(setup.creds);
    info = describe(ok && dropped);
    write_all(results_[1], &info, sizeof info);
    if (dropped) {
      const std::vector<long> out = body(args);
      const std::size_t n = out.size();
      write_all(results_[1], &n, sizeof n);
      write_all(results_[1], out.data(), n * sizeof(long));
    }
    _exit(0);
  }
  close(report[1]);
  close(go_[0]);
  go_[0] = -1;
  close(results_[1]);
  results_[1] = -1;
  ProcInfo info;
  if (pid < 0 || !read_all(report[0], &info, sizeof info)) info.ok = 0;
  close(report[0]);
  caller_ = pid;
  return info;
}

std::vector<long> HeldProcs::run_caller(const std::vector<long>& args, ProcInfo* after) {
  std::vector<long> out;
  const std::size_t nargs = args.size();
  write_all(go_[1], &nargs, sizeof nargs);
  write_all(go_[1], args.data(), nargs * sizeof(long));
  std::size_t n = 0;
  if (read_all(results_[0], after, sizeof *after) && after->ok &&
      read_all(results_[0], &n, sizeof n)) {
    out.resize(n);
    if (!read_all(results_[0], out.data(), n * sizeof(long))) out.clear();
  }
  waitpid(caller_, nullptr, 0);
  caller_ = 0;
  return out;
}

}  // namespace iostack::task::testing
