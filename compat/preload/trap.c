/* Catches io_uring and AIO system calls that bypass libc. fio's io_uring
 * engine issues io_uring_enter with an inline `syscall` instruction on
 * x86-64 and libaio does the same for io_submit & co.; no symbol
 * interposition can see those. A seccomp filter makes exactly those system
 * call numbers raise SIGSYS (SECCOMP_RET_TRAP, which also outranks an EPERM
 * filter such as Docker's), and the handler serves them with iostack,
 * writing the result into the interrupted thread's RAX.
 *
 * Running iostack code in the handler is safe in practice: SIGSYS from
 * seccomp is synchronous, raised at the program's own system call, never
 * in the middle of libc or iostack code.
 *
 * Side effects: the process gets PR_SET_NO_NEW_PRIVS (needed to install a
 * filter without privilege), and the filter is inherited by children, which
 * need the shim as well to use io_uring. IOSTACK_PRELOAD_TRAP=0 turns the
 * trap off (then only calls through syscall() reach iostack). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "serve.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

static struct sigaction previous;

static void on_sigsys(int sig, siginfo_t* info, void* context) {
  if (info->si_code == SYS_SECCOMP) {
    greg_t* r = ((ucontext_t*)context)->uc_mcontext.gregs;
    const long args[6] = {r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]};
    long ret;
    /* A raw system call leaves errno alone; the engine may not. */
    const int saved = errno;
    if (!preload_serve(info->si_syscall, args, &ret)) ret = -ENOSYS;
    errno = saved;
    r[REG_RAX] = ret;
    return;
  }
  /* Not ours: behave as if the shim were not there. */
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_IGN && previous.sa_handler != SIG_DFL) {
    previous.sa_handler(sig);
  } else if (previous.sa_handler == SIG_DFL) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

/* One filter test: trap system call `nr`, else fall through. */
#define TRAP_NR(nr) \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP)

static int install_filter(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      TRAP_NR(__NR_io_uring_setup),
      TRAP_NR(__NR_io_uring_enter),
      TRAP_NR(__NR_io_uring_register),
      TRAP_NR(__NR_io_setup),
      TRAP_NR(__NR_io_destroy),
      TRAP_NR(__NR_io_submit),
      TRAP_NR(__NR_io_getevents),
      TRAP_NR(__NR_io_pgetevents),
      TRAP_NR(__NR_io_cancel),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

__attribute__((constructor)) static void trap_init(void) {
  const char* env = getenv("IOSTACK_PRELOAD_TRAP");
  if (env && strcmp(env, "0") == 0) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, &previous) != 0) return;
  /* Without the filter the handler is never reached: harmless. */
  install_filter();
}
