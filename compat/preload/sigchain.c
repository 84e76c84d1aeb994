/* Keeps iostack's fault fixups (core/uaccess) in front of the program's own
 * SIGSEGV and SIGBUS handlers. The program's sigaction() and signal() for
 * those two signals (interposed in signals.c) are recorded, not installed: the kernel keeps one
 * dispatcher that first lets every iostack engine in the process fix up a
 * fault in its user-memory accessors (a bad pointer then becomes -EFAULT)
 * and otherwise runs the program's recorded action as the kernel would
 * have. The program sees its own handlers in every old action it gets
 * back. Engines find the dispatcher by name and register with it (see
 * core/uaccess_hook.h); other signals go straight to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/uaccess_hook.h"
#include "signals.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef int (*fixup_fn)(int, siginfo_t*, void*);
typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);

enum { kMaxFixups = 8 };

static _Atomic(fixup_fn) fixups[kMaxFixups];
static atomic_int nr_fixups;

/* Per signal (0: SIGSEGV, 1: SIGBUS): the program's action, and whether the
 * dispatcher sits in the kernel. Written under `lock`, with all signals
 * blocked so a handler on the same thread cannot deadlock on it. */
static struct sigaction app[2];
static int dispatching[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sigaction_fn real_sigaction;

static int slot_of(int sig) { return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1; }

static void dispatch(int sig, siginfo_t* info, void* ucontext) {
  const int n = atomic_load(&nr_fixups);
  for (int i = 0; i < n; ++i) {
    const fixup_fn f = atomic_load(&fixups[i]);
    if (f && f(sig, info, ucontext)) return;
  }
  const int slot = slot_of(sig);
  if (slot >= 0) iostack_uaccess_deliver(&app[slot], sig, info, ucontext);
}

static void resolve(void) {
  if (!real_sigaction) *(void**)&real_sigaction = dlsym(RTLD_NEXT, "sigaction");
}

static void lock_all(sigset_t* saved) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, saved);
  pthread_mutex_lock(&lock);
}

static void unlock_all(const sigset_t* saved) {
  pthread_mutex_unlock(&lock);
  pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* Puts the dispatcher in front of `sig` (lock held); whatever was there
 * becomes the program's action. */
static int install_locked(int sig) {
  const int slot = slot_of(sig);
  if (dispatching[slot]) return 0;
  resolve();
  if (!real_sigaction) return -1;
  struct sigaction sa;
  struct sigaction old;
  __builtin_memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = dispatch;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (real_sigaction(sig, &sa, &old) != 0) return -1;
  app[slot] = old;
  dispatching[slot] = 1;
  return 0;
}

/* IOSTACK_UACCESS_DISPATCH_SYMBOL: an engine asks to have its fixup run. */
SHIM_EXPORT int iostack_preload_add_fixup(fixup_fn fixup) {
  sigset_t saved;
  lock_all(&saved);
  int ret = install_locked(SIGSEGV) == 0 && install_locked(SIGBUS) == 0 ? 0 : -1;
  if (ret == 0) {
    const int n = atomic_load(&nr_fixups);
    int known = 0;
    for (int i = 0; i < n; ++i) known |= atomic_load(&fixups[i]) == fixup;
    if (!known) {
      if (n < kMaxFixups) {
        atomic_store(&fixups[n], fixup);
        atomic_store(&nr_fixups, n + 1);
      } else {
        ret = -1;
      }
    }
  }
  unlock_all(&saved);
  return ret;
}

int preload_fault_sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  const int slot = slot_of(sig);
  if (slot < 0) {
    resolve();
    return real_sigaction(sig, act, oldact);
  }
  sigset_t saved;
  lock_all(&saved);
  if (install_locked(sig) != 0) {
    unlock_all(&saved);
    return real_sigaction(sig, act, oldact);
  }
  if (oldact) *oldact = app[slot];
  if (act) app[slot] = *act;
  unlock_all(&saved);
  return 0;
}

/* The engine linked into the shim registers its fixup at load time, not at
 * its first use, which may be inside the SIGSYS trap handler. */
__attribute__((constructor)) static void sigchain_init(void) { iostack_uaccess_init(); }
