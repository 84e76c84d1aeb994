/* Reading /proc/self/maps without libc's stdio or errno (usable in a
 * signal handler, and not intercepted by the shim's own filter). */
#ifndef IOSTACK_COMPAT_PRELOAD_PROC_MAPS_H
#define IOSTACK_COMPAT_PRELOAD_PROC_MAPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct map_entry {
  uintptr_t start, end;
  int prot;   /* PROT_* */
  int shared; /* 's' in the flags column */
};

/* Calls fn for each mapping in address order until it returns nonzero.
 * Returns 0, or -errno when the file cannot be read. */
int maps_each(int (*fn)(const struct map_entry* e, void* ctx), void* ctx);

#ifdef __cplusplus
}
#endif

#endif
