/* Interposed sigaction, signal, sigprocmask and pthread_sigmask: SIGSYS
 * stays the shim's and never blocked. The program's own SIGSYS handler is
 * recorded and called for SIGSYS that the shim's filter did not cause;
 * SIGSEGV and SIGBUS go to sigchain.c, behind iostack's fault fixups. */
#define _GNU_SOURCE
#include "signals.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);
typedef int (*sigmask_fn)(int, const sigset_t*, sigset_t*);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sigaction_fn real_sigaction;
static sigmask_fn real_sigprocmask, real_pthread_sigmask;
static signal_fn real_signal;

static atomic_int installed;
static atomic_flag program_lock = ATOMIC_FLAG_INIT;
static struct sigaction program; /* the program's SIGSYS action, under program_lock */

static void lookup(void* fn_ptr, const char* name) {
  if (!*(void**)fn_ptr) *(void**)fn_ptr = dlsym(RTLD_NEXT, name);
}

static void resolve(void) {
  lookup(&real_sigaction, "sigaction");
  lookup(&real_sigprocmask, "sigprocmask");
  lookup(&real_pthread_sigmask, "pthread_sigmask");
  lookup(&real_signal, "signal");
}

static void lock_program(void) {
  while (atomic_flag_test_and_set_explicit(&program_lock, memory_order_acquire)) sched_yield();
}

static void unlock_program(void) {
  atomic_flag_clear_explicit(&program_lock, memory_order_release);
}

/* `set` without SIGSYS, in *copy, when it blocks SIGSYS. */
static const sigset_t* without_sigsys(int how, const sigset_t* set, sigset_t* copy) {
  if (!set || how == SIG_UNBLOCK || !atomic_load(&installed) || sigismember(set, SIGSYS) != 1)
    return set;
  *copy = *set;
  sigdelset(copy, SIGSYS);
  return copy;
}

int preload_sigsys_install(void (*handler)(int, siginfo_t*, void*)) {
  resolve();
  if (!real_sigaction || !real_pthread_sigmask) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  lock_program();
  const int r = real_sigaction(SIGSYS, &sa, &program);
  unlock_program();
  if (r != 0) return -1;
  atomic_store(&installed, 1);
  /* A mask inherited across exec (posix_spawnattr_setsigmask) may hold it. */
  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  real_pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
  return 0;
}

void preload_sigsys_chain(int sig, siginfo_t* info, void* context) {
  lock_program();
  const struct sigaction act = program;
  if (act.sa_flags & SA_RESETHAND) {
    memset(&program, 0, sizeof(program));
    program.sa_handler = SIG_DFL;
  }
  unlock_program();
  if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_IGN) return;
  if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_DFL) {
    /* The default action, core dump and exit, needs the real default. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    real_sigaction(SIGSYS, &dfl, NULL);
    syscall(SYS_tgkill, getpid(), gettid(), SIGSYS);
    return;
  }
  sigset_t mask = act.sa_mask, old;
  sigdelset(&mask, SIGSYS);
  real_pthread_sigmask(SIG_BLOCK, &mask, &old);
  if (act.sa_flags & SA_SIGINFO)
    act.sa_sigaction(sig, info, context);
  else
    act.sa_handler(sig);
  real_pthread_sigmask(SIG_SETMASK, &old, NULL);
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  resolve();
  if (sig == SIGSYS && atomic_load(&installed)) {
    lock_program();
    if (old) *old = program;
    if (act) program = *act;
    unlock_program();
    return 0;
  }
  struct sigaction copy;
  if (act && atomic_load(&installed) && sigismember(&act->sa_mask, SIGSYS) == 1) {
    copy = *act;
    sigdelset(&copy.sa_mask, SIGSYS);
    act = &copy;
  }
  if (sig == SIGSEGV || sig == SIGBUS) return preload_fault_sigaction(sig, act, old);
  return real_sigaction(sig, act, old);
}

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  resolve();
  if ((sig == SIGSYS && atomic_load(&installed)) || sig == SIGSEGV || sig == SIGBUS) {
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART; /* glibc's signal() has BSD semantics */
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler; /* shares storage with sa_sigaction */
  }
  return real_signal(sig, handler);
}

SHIM_EXPORT int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  resolve();
  sigset_t copy;
  return real_sigprocmask(how, without_sigsys(how, set, &copy), old);
}

SHIM_EXPORT int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  resolve();
  sigset_t copy;
  return real_pthread_sigmask(how, without_sigsys(how, set, &copy), old);
}
