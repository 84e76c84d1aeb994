/* Finding dead fillers around a `syscall` and a chain of jumps to one. */
#include "patch_plan.h"

#include "insn.h"

#define MAX_REGIONS 64
#define REACH_BACK 128
#define REACH_FWD 127

struct region {
  uintptr_t start, end;
};

/* Decoding stops this far past the site: no chain reaches further. */
#define WINDOW ((PLAN_MAX_HOPS + 1) * (REACH_BACK + 16))

static int collect(uintptr_t lo, uintptr_t hi, int hi_is_boundary, uintptr_t site,
                   struct region* regions, int* nregions) {
  const uintptr_t win_lo = site > WINDOW ? site - WINDOW : 0;
  const uintptr_t win_hi = site + WINDOW;
  uintptr_t p = lo;
  int reached = 0;
  *nregions = 0;
  while (p < hi) {
    if (p == site) reached = 1;
    if (p > site && !reached) return PLAN_UNDECODABLE;
    if (reached && p > win_hi) break;
    struct insn in;
    const int n = insn_decode((const uint8_t*)p, hi - p, &in);
    if (!n) {
      if (!reached) return PLAN_UNDECODABLE;
      break;
    }
    if (p == site &&
        !(in.map == 1 && in.opcode == 0x05 && in.len == 2 && in.encoding == INSN_LEGACY))
      return PLAN_NOT_SYSCALL;
    p += (uintptr_t)n;
    if (!insn_is_dead_end(&in)) continue;
    uintptr_t q = p;
    while (q < hi) {
      struct insn pad;
      const int m = insn_decode((const uint8_t*)q, hi - q, &pad);
      if (!m || !insn_is_padding(&pad)) break;
      q += (uintptr_t)m;
    }
    const int aligned_end = (q % 8 == 0) || (q == hi && hi_is_boundary);
    if (aligned_end && q - p >= PLAN_JMP8_LEN && q > win_lo && p < win_hi &&
        *nregions < MAX_REGIONS) {
      regions[*nregions].start = p;
      regions[*nregions].end = q;
      ++*nregions;
    }
    p = q;
  }
  return reached ? PLAN_OK : PLAN_UNDECODABLE;
}

struct node {
  uintptr_t origin; /* address a jmp rel8 is relative to (the end of the jmp) */
  int depth, parent, region;
  uintptr_t slot;
};

int plan_patch(uintptr_t lo, uintptr_t hi, int hi_is_boundary, uintptr_t site, plan_used_fn used,
               void* ctx, struct patch_plan* out) {
  if ((site & 7) == 7) return PLAN_STRADDLE;
  struct region regions[MAX_REGIONS];
  int nregions;
  const int st = collect(lo, hi, hi_is_boundary, site, regions, &nregions);
  if (st != PLAN_OK) return st;

  /* Breadth first: the shortest chain of hops to a filler with room for a
   * jmp rel32. A filler too small for that serves as one hop. */
  struct node queue[1 + MAX_REGIONS];
  int taken[MAX_REGIONS] = {0};
  int head = 0, tail = 0;
  queue[tail++] = (struct node){site + PLAN_JMP8_LEN, 0, -1, -1, 0};
  while (head < tail) {
    const struct node cur = queue[head];
    for (int r = 0; r < nregions; ++r) {
      if (taken[r]) continue;
      const uintptr_t slot = regions[r].start + (used ? used(regions[r].start, ctx) : 0);
      if (slot >= regions[r].end) continue;
      const size_t room = regions[r].end - slot;
      const long dist = (long)(slot - cur.origin);
      if (dist < -REACH_BACK || dist > REACH_FWD) continue;
      if (room >= PLAN_JMP32_LEN) {
        out->final = slot;
        out->final_region = regions[r].start;
        out->nhops = cur.depth;
        for (int n = head; queue[n].parent >= 0; n = queue[n].parent) {
          out->hop[queue[n].depth - 1] = queue[n].slot;
          out->hop_region[queue[n].depth - 1] = regions[queue[n].region].start;
        }
        return PLAN_OK;
      }
      if (room >= PLAN_JMP8_LEN && cur.depth < PLAN_MAX_HOPS) {
        taken[r] = 1;
        queue[tail++] = (struct node){slot + PLAN_JMP8_LEN, cur.depth + 1, head, r, slot};
      }
    }
    ++head;
  }
  return PLAN_NO_PADDING;
}
