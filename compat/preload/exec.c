/* The exec family: the kernel cancels every request of a task that execs
 * (io_uring_task_cancel in begin_new_exec), so a forked child that submitted
 * to a ring it shares with its parent and then execs leaves -ECANCELED CQEs
 * for the parent. The new image does not have this process's iostack, so
 * iostack cancels them just before the exec. glibc's exec functions call
 * the system call directly: each one is wrapped here. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "iostack/uring.h"
#include "shim.h"

typedef int (*execve_fn)(const char*, char* const[], char* const[]);
typedef int (*execv_fn)(const char*, char* const[]);
typedef int (*fexecve_fn)(int, char* const[], char* const[]);
typedef int (*execveat_fn)(int, const char*, char* const[], char* const[], int);

static execve_fn real_execve, real_execvpe;
static execv_fn real_execv, real_execvp;
static fexecve_fn real_fexecve;
static execveat_fn real_execveat;

SHIM_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  SHIM_RESOLVE(real_execve, "execve");
  iostack_io_uring_before_exec();
  return real_execve(path, argv, envp);
}

SHIM_EXPORT int execv(const char* path, char* const argv[]) {
  SHIM_RESOLVE(real_execv, "execv");
  iostack_io_uring_before_exec();
  return real_execv(path, argv);
}

SHIM_EXPORT int execvp(const char* file, char* const argv[]) {
  SHIM_RESOLVE(real_execvp, "execvp");
  iostack_io_uring_before_exec();
  return real_execvp(file, argv);
}

SHIM_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  SHIM_RESOLVE(real_execvpe, "execvpe");
  iostack_io_uring_before_exec();
  return real_execvpe(file, argv, envp);
}

SHIM_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  SHIM_RESOLVE(real_fexecve, "fexecve");
  iostack_io_uring_before_exec();
  return real_fexecve(fd, argv, envp);
}

SHIM_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                         int flags) {
  SHIM_RESOLVE(real_execveat, "execveat");
  iostack_io_uring_before_exec();
  return real_execveat(dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: the arguments after arg0 up to the null pointer as
 * an array (and, for execle, the environment after it), then the v form. */
enum list_exec { kExecl, kExeclp, kExecle };

static int exec_list(enum list_exec kind, const char* path, const char* arg0, va_list ap) {
  va_list c;
  va_copy(c, ap);
  size_t n = 1;
  while (va_arg(c, const char*)) ++n;
  va_end(c);
  char* argv[n + 1];
  argv[0] = (char*)arg0;
  for (size_t i = 1; i <= n; ++i) argv[i] = va_arg(ap, char*);
  if (kind == kExecle) return execve(path, argv, va_arg(ap, char**));
  return kind == kExeclp ? execvp(path, argv) : execv(path, argv);
}

SHIM_EXPORT int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const int ret = exec_list(kExecl, path, arg, ap);
  va_end(ap);
  return ret;
}

SHIM_EXPORT int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const int ret = exec_list(kExeclp, file, arg, ap);
  va_end(ap);
  return ret;
}

SHIM_EXPORT int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  const int ret = exec_list(kExecle, path, arg, ap);
  va_end(ap);
  return ret;
}
