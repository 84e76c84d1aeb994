/* Shared between rewrite.c and the trampoline entry (rewrite_entry.c). */
#ifndef IOSTACK_COMPAT_PRELOAD_REWRITE_INTERNAL_H
#define IOSTACK_COMPAT_PRELOAD_REWRITE_INTERNAL_H

#include "rewrite.h"

#define REWRITE_STR2(x) #x
#define REWRITE_STR(x) REWRITE_STR2(x)

/* The common entry every trampoline calls (assembly, see its comment). */
void rewrite_entry(void);

/* Records the dispatcher and handled numbers, probes the CPU's save
 * instructions. Returns -1 without fxsave. */
int rewrite_entry_setup(rewrite_dispatch_fn dispatch, const int* nrs, int count);

#endif
