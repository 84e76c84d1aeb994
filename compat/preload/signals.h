/* Keeping the shim's SIGSYS handler in place and SIGSYS deliverable: the
 * kernel kills a thread that traps in seccomp with SIGSYS blocked. */
#ifndef IOSTACK_COMPAT_PRELOAD_SIGNALS_H
#define IOSTACK_COMPAT_PRELOAD_SIGNALS_H

#include <signal.h>

/* Installs `handler` for SIGSYS (SA_NODEFER: engine code run from it may
 * trap again) and unblocks SIGSYS in the calling thread. From then on the
 * program's sigaction/signal for SIGSYS only record its handler, and no
 * signal mask it sets includes SIGSYS. Returns 0, or -1. */
int preload_sigsys_install(void (*handler)(int, siginfo_t*, void*));

/* Runs the program's own SIGSYS disposition for a SIGSYS that is not the
 * shim's: its handler, nothing if ignored, or death as by the default. */
void preload_sigsys_chain(int sig, siginfo_t* info, void* context);

/* sigchain.c: sigaction() for SIGSEGV and SIGBUS, which records the
 * program's action behind iostack's fault fixups. */
int preload_fault_sigaction(int sig, const struct sigaction* act, struct sigaction* old);

#endif
