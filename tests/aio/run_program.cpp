// Running a program for the AIO tests, optionally with kernel AIO refused.
#include "run_program.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

namespace iostack::aio::testing {
namespace {

void refuse_kernel_aio() {
  const unsigned nrs[] = {SYS_io_setup,  SYS_io_destroy,   SYS_io_submit,
                          SYS_io_cancel, SYS_io_getevents, SYS_io_pgetevents};
  constexpr unsigned n = sizeof(nrs) / sizeof(nrs[0]);
  struct sock_filter f[4 + n + 2];
  unsigned k = 0;
  f[k++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[k++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[k++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[k++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (unsigned i = 0; i < n; ++i) {
    // Match: jump over the remaining tests and the allow to the deny.
    f[k++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], static_cast<unsigned char>(n - i), 0);
  }
  f[k++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[k++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1 /* EPERM */);
  struct sock_fprog prog = {static_cast<unsigned short>(k), f};
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          bool block_kernel_aio, const std::string& cwd) {
  ProgramResult r;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (block_kernel_aio) refuse_kernel_aio();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0)
    r.output.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
  return r;
}

std::string libaio_dir() {
  if (const char* e = std::getenv("IOSTACK_LIBAIO_DIR")) return e;
  const std::string dir = IOSTACK_DROPIN_DIR;
  return ::access((dir + "/libaio.so.1").c_str(), R_OK) == 0 ? dir : "";
}

bool have_program(const std::string& name) {
  for (const char* d : {"/usr/bin/", "/bin/", "/usr/local/bin/", "/usr/sbin/"}) {
    if (::access((std::string(d) + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace iostack::aio::testing
