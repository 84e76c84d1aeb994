/* Rewriting a trapped `syscall` instruction into a jump to a per-site
 * trampoline that calls a C dispatcher at close to function-call cost.
 * Self-contained (no iostack, no seccomp): the shim's trap.c drives it, and
 * tests drive it with their own filter and dispatcher. */
#ifndef IOSTACK_COMPAT_PRELOAD_REWRITE_H
#define IOSTACK_COMPAT_PRELOAD_REWRITE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Serves system call `nr` with the raw arguments (rdi, rsi, rdx, r10, r8,
 * r9); returns what the kernel would leave in rax (a value or -errno). */
typedef long (*rewrite_dispatch_fn)(long nr, const long args[6]);

#define REWRITE_NR_LIMIT 512

enum rewrite_status {
  REWRITE_PATCHED = 0,      /* now, or earlier */
  REWRITE_OFF = -100,       /* rewrite_init was not called */
  REWRITE_BUSY = -101,      /* another thread is patching: try at the next trap */
  REWRITE_NO_MEMORY = -102, /* no trampoline within +-2 GiB, or mprotect refused */
  REWRITE_NOT_CODE = -103,  /* private executable mapping required */
  /* and the negative enum plan_status values (patch_plan.h) */
};

/* Sets the dispatcher for system calls `nrs[0..count)` (each below
 * REWRITE_NR_LIMIT). A rewritten site runs every other number as a real
 * `syscall` from its trampoline, with all registers as at the site, so
 * clone, vfork and rt_sigreturn keep working. Returns 0, or -1 when the CPU
 * has no fxsave. Call once, before rewrite_site. */
int rewrite_init(rewrite_dispatch_fn dispatch, const int* nrs, int count);

/* Rewrites the 2-byte `syscall` instruction at `site`, which the calling
 * thread has just executed (from its SIGSYS handler). Safe against other
 * threads running the site; async-signal-safe. Returns enum rewrite_status
 * or plan_status; a site that cannot be rewritten is remembered, so later
 * traps there cost a table lookup. */
int rewrite_site(uintptr_t site);

struct rewrite_stats {
  unsigned long patched; /* sites rewritten */
  unsigned long failed;  /* sites left trapping for good */
  unsigned long hops;    /* jmp rel8 hops used beyond the first jump */
};
void rewrite_get_stats(struct rewrite_stats* out);

/* Calls fn for every site seen so far with its status (diagnostics). */
void rewrite_each_site(void (*fn)(uintptr_t site, int status, void* ctx), void* ctx);

#ifdef __cplusplus
}
#endif

#endif
