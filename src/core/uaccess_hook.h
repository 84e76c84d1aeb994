/* The C side of core/uaccess (arch/x86/mm/extable.c's fixup_exception), for
 * the LD_PRELOAD shim: a sigaction() interposer keeps iostack's fault
 * handling in front of the program's own SIGSEGV/SIGBUS handlers. Internal:
 * not part of the installed API, but exported from libiostack.so.0 for the
 * shim. */
#ifndef IOSTACK_CORE_UACCESS_HOOK_H
#define IOSTACK_CORE_UACCESS_HOOK_H

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* core::uaccess_init(): installs the fault handling now rather than at the
 * first use (which may come inside a signal handler, such as the shim's
 * SIGSYS trap, where looking up the dispatcher is best avoided). */
__attribute__((visibility("default"))) void iostack_uaccess_init(void);

/* A SIGSEGV or SIGBUS raised by a user-memory accessor of this engine:
 * moves the interrupted context to the accessor's fixup and returns 1 (the
 * handler then just returns). Any other signal: returns 0 and changes
 * nothing. Async-signal-safe. */
int iostack_uaccess_fixup(int sig, siginfo_t* info, void* ucontext);

/* Runs `act` for a signal that reached a handler standing in front of it,
 * the way the kernel would have delivered it there: a handler is called
 * with act's sa_mask (and the signal, unless SA_NODEFER) blocked and
 * SA_RESETHAND honoured (*act becomes SIG_DFL); SIG_DFL restores the
 * default action and lets a fault happen again (a sent signal is raised
 * again); SIG_IGN ignores a sent signal but not a fault, which the kernel
 * never lets a process ignore. Async-signal-safe. */
__attribute__((visibility("default"))) void iostack_uaccess_deliver(struct sigaction* act, int sig,
                                                              siginfo_t* info, void* ucontext);

/* The name under which a process-wide dispatcher (the shim's) offers to run
 * fixups, with the type
 *   int add(int (*fixup)(int, siginfo_t*, void*));
 * returning 0 once it will call `fixup` first on every SIGSEGV and SIGBUS.
 * An engine that finds it registers there instead of installing its own
 * handler, so several engine copies in one process all get their faults
 * fixed up whatever handlers the program installs. */
#define IOSTACK_UACCESS_DISPATCH_SYMBOL "iostack_preload_add_fixup"

#ifdef __cplusplus
}
#endif

#endif
