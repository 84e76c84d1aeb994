/* Where to put the jumps that divert a 2-byte `syscall` instruction: a
 * `jmp rel8` over the instruction itself, possibly a few more `jmp rel8`
 * hops through small dead fillers, and a 5-byte `jmp rel32` in a dead
 * filler, all found by decoding the surrounding code. Pure: reads code,
 * writes nothing. */
#ifndef IOSTACK_COMPAT_PRELOAD_PATCH_PLAN_H
#define IOSTACK_COMPAT_PRELOAD_PATCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLAN_MAX_HOPS 3
#define PLAN_JMP8_LEN 2
#define PLAN_JMP32_LEN 5

enum plan_status {
  PLAN_OK = 0,
  PLAN_STRADDLE = -1,    /* the 2 bytes cross an 8-byte boundary: no untearable store */
  PLAN_NOT_SYSCALL = -2, /* no `syscall` instruction where decoding puts one */
  PLAN_UNDECODABLE = -3, /* decoding from `lo` does not land on the site */
  PLAN_NO_PADDING = -4,  /* no dead filler within reach */
};

struct patch_plan {
  int nhops;
  uintptr_t hop[PLAN_MAX_HOPS];        /* each gets a 2-byte jmp rel8, in order */
  uintptr_t hop_region[PLAN_MAX_HOPS]; /* start of the filler holding hop[i] */
  uintptr_t final;                     /* gets the 5-byte jmp rel32 */
  uintptr_t final_region;
};

/* Bytes at the start of the filler region `start` already taken by earlier
 * patches (fillers are shared by sites of the same function). */
typedef size_t (*plan_used_fn)(uintptr_t start, void* ctx);

/* Plans the rewrite of the `syscall` at `site` by decoding [lo, hi), where
 * lo <= site is a known instruction boundary (a function's start, or the
 * site itself). A filler is a run of nops/int3 right after an instruction
 * that never falls through (ret, jmp, ud2) and ending at an 8-byte boundary
 * (compilers align functions and loops to 16 or 8),
 * or at `hi` when `hi_is_boundary` (the next function's start). */
int plan_patch(uintptr_t lo, uintptr_t hi, int hi_is_boundary, uintptr_t site, plan_used_fn used,
               void* ctx, struct patch_plan* out);

#ifdef __cplusplus
}
#endif

#endif
