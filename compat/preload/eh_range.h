/* Bounds of the function containing a code address, from unwind tables. */
#ifndef IOSTACK_COMPAT_PRELOAD_EH_RANGE_H
#define IOSTACK_COMPAT_PRELOAD_EH_RANGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct eh_range {
  uintptr_t start; /* the function's first instruction */
  uintptr_t end;   /* one past its last byte (FDE range) */
  uintptr_t next;  /* the next function's start (>= end): [end, next) is filler */
};

/* 1 and the bounds when a loaded object's .eh_frame_hdr has an FDE
 * covering `pc`; 0 otherwise (code built at run time, no unwind tables). */
int eh_range_find(uintptr_t pc, struct eh_range* out);

#ifdef __cplusplus
}
#endif

#endif
