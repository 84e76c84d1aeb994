// Real processes for differential tests: forked children with chosen
// credentials, process group, nice and policy, that hold still until the
// test ends, and a caller child that runs a list of ioprio syscalls under
// dropped privileges and reports the results through a pipe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace iostack::task::testing {

struct Creds {
  bool keep_root = false;  // stay root with every capability
  uid_t ruid = 0;
  uid_t euid = 0;
  std::uint64_t caps = 0;  // effective (and permitted) set after the drop
};

// What a child reports about itself once it is set up.
struct ProcInfo {
  pid_t pid = 0;
  pid_t pgrp = 0;
  uid_t ruid = 0;
  uid_t euid = 0;
  std::uint64_t caps = 0;
  int nice = 0;
  int policy = 0;
  int ok = 0;  // 1 when every setup step worked
};

struct ProcSetup {
  pid_t join_pgrp = 0;  // 0: lead a new process group
  int nice = 0;
  int policy = 0;  // SCHED_OTHER
  Creds creds;
};

// Children that wait until the group is destroyed, then exit.
class HeldProcs {
 public:
  HeldProcs();
  ~HeldProcs();
  HeldProcs(const HeldProcs&) = delete;
  HeldProcs& operator=(const HeldProcs&) = delete;

  // Forks a child that applies `setup`, resets its I/O priority to 0,
  // reports and waits.
  ProcInfo spawn(const ProcSetup& setup);

  // Forks the caller: it applies `setup` (staying root) and reports, then
  // waits. run_caller() sends it `args` (e.g. pids of processes spawned
  // since); it drops to setup.creds, runs body(args) and sends back the
  // numbers body returns, which run_caller returns. *after describes the
  // caller once dropped; an empty result means the drop failed.
  using Body = std::function<std::vector<long>(const std::vector<long>& args)>;
  ProcInfo spawn_caller(const ProcSetup& setup, Body body);
  std::vector<long> run_caller(const std::vector<long>& args, ProcInfo* after);

 private:
  int hold_[2] = {-1, -1};
  int go_[2] = {-1, -1};
  int results_[2] = {-1, -1};
  pid_t caller_ = 0;
  std::vector<pid_t> children_;
};

// The raw syscalls, as -errno on failure.
long sys_ioprio_set(int which, int who, int ioprio);
long sys_ioprio_get(int which, int who);

// The calling thread's effective capability set.
std::uint64_t effective_caps();

}  // namespace iostack::task::testing
