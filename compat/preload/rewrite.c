/* Call-site rewriting: plans the jumps (patch_plan.c), places a trampoline
 * within +-2 GiB, and switches the site over with one 2-byte store.
 *
 * Trampoline (64 bytes, one per site):
 *   lea -128(%rsp),%rsp          skip the site's red zone
 *   call *entry(%rip)            rewrite_entry: save, dispatch, restore
 *   lea 128(%rsp),%rsp
 *   jrcxz 1f                     rcx 0: served; 1: run it for real here
 *   syscall
 * 1:mov back(%rip),%rcx          rcx = the site's next instruction, as the
 *   jmp *%rcx                    kernel would leave it
 *   back: .quad site+2;  entry: .quad rewrite_entry
 *
 * Order of writes: trampoline, then the dead fillers (hops and the jmp
 * rel32), and last the site's 2 bytes in one store that no other CPU can
 * see half done, so a thread running the site executes either the old
 * `syscall` (and traps as before) or the complete new path. */
#define _GNU_SOURCE
#include "rewrite.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "eh_range.h"
#include "patch_plan.h"
#include "proc_maps.h"
#include "raw.h"
#include "rewrite_internal.h"

#define PAGE 4096ul
#define STUB_SIZE 64
#define STUBS_PER_PAGE (PAGE / STUB_SIZE)
#define MAX_STUB_PAGES 256
#define SITE_SLOTS 4096 /* power of two */
#define MAX_REGIONS 2048
/* Where trampoline pages may go: above low memory, below the 47-bit top. */
#define MIN_ADDR 0x100000ul
#define MAX_ADDR 0x7ffffffff000ul
#define REACH 0x7fff0000l

static atomic_flag lock = ATOMIC_FLAG_INIT;
static int initialized;

struct site_entry {
  uintptr_t site;
  int status;
};
static struct site_entry sites[SITE_SLOTS];
static unsigned nsites;

struct region_use {
  uintptr_t start;
  size_t used;
};
static struct region_use regions[MAX_REGIONS];
static unsigned nregions;

struct stub_page {
  uintptr_t base;
  unsigned used;
};
static struct stub_page pages[MAX_STUB_PAGES];
static unsigned npages;

static struct rewrite_stats stats;

static struct site_entry* site_slot(uintptr_t site) {
  unsigned i = (unsigned)((site * 0x9e3779b97f4a7c15ull) >> 52) & (SITE_SLOTS - 1);
  while (sites[i].site && sites[i].site != site) i = (i + 1) & (SITE_SLOTS - 1);
  return &sites[i];
}

static void remember(uintptr_t site, int status) {
  struct site_entry* e = site_slot(site);
  if (e->site || nsites >= SITE_SLOTS * 3 / 4) return;
  e->site = site;
  e->status = status;
  ++nsites;
}

static size_t region_used(uintptr_t start, void* ctx) {
  (void)ctx;
  for (unsigned i = 0; i < nregions; ++i)
    if (regions[i].start == start) return regions[i].used;
  return 0;
}

static void region_take(uintptr_t start, uintptr_t slot_end) {
  for (unsigned i = 0; i < nregions; ++i) {
    if (regions[i].start == start) {
      regions[i].used = slot_end - start;
      return;
    }
  }
  if (nregions < MAX_REGIONS) regions[nregions++] = (struct region_use){start, slot_end - start};
}

static int in_stub_page(uintptr_t addr) {
  for (unsigned i = 0; i < npages; ++i)
    if (addr >= pages[i].base && addr < pages[i].base + PAGE) return 1;
  return 0;
}

struct find_map {
  uintptr_t addr;
  struct map_entry found;
  int ok;
};

static int find_map_cb(const struct map_entry* e, void* ctx) {
  struct find_map* f = ctx;
  if (f->addr >= e->start && f->addr < e->end) {
    f->found = *e;
    f->ok = 1;
    return 1;
  }
  return e->start > f->addr;
}

struct gap_search {
  uintptr_t target, prev_end, best, best_dist;
};

static void consider_gap(struct gap_search* g, uintptr_t lo, uintptr_t hi) {
  if (lo < MIN_ADDR) lo = MIN_ADDR;
  if (hi > MAX_ADDR) hi = MAX_ADDR;
  if (hi < lo + PAGE) return;
  uintptr_t c = g->target & ~(PAGE - 1);
  if (c < lo) c = lo;
  if (c > hi - PAGE) c = hi - PAGE;
  const uintptr_t dist = c > g->target ? c - g->target : g->target - c;
  if (dist < g->best_dist) {
    g->best = c;
    g->best_dist = dist;
  }
}

static int gap_cb(const struct map_entry* e, void* ctx) {
  struct gap_search* g = ctx;
  consider_gap(g, g->prev_end, e->start);
  if (e->end > g->prev_end) g->prev_end = e->end;
  return 0;
}

static int reachable(uintptr_t from, uintptr_t to) {
  const long d = (long)(to - from);
  return d > -REACH && d < REACH;
}

/* A free trampoline slot within jmp rel32 reach of `origin`, or 0. */
static uintptr_t stub_alloc(uintptr_t origin) {
  for (unsigned i = 0; i < npages; ++i) {
    const uintptr_t slot = pages[i].base + pages[i].used * STUB_SIZE;
    if (pages[i].used < STUBS_PER_PAGE && reachable(origin, slot)) {
      ++pages[i].used;
      return slot;
    }
  }
  if (npages == MAX_STUB_PAGES) return 0;
  struct gap_search g = {origin, 0, 0, ~(uintptr_t)0};
  if (maps_each(gap_cb, &g) != 0) return 0;
  consider_gap(&g, g.prev_end, MAX_ADDR);
  if (!g.best || !reachable(origin, g.best) || !reachable(origin, g.best + PAGE)) return 0;
  const long p = preload_raw6(__NR_mmap, (long)g.best, PAGE, PROT_READ | PROT_EXEC,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p < 0 && p > -4096) return 0;
  if ((uintptr_t)p != g.best) { /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
    preload_raw6(__NR_munmap, p, PAGE, 0, 0, 0, 0);
    return 0;
  }
  pages[npages++] = (struct stub_page){g.best, 1};
  return g.best;
}

static int stub_write(uintptr_t stub, uintptr_t back) {
  static const uint8_t code[32] = {
      0x48, 0x8d, 0x64, 0x24, 0x80,          /* lea -0x80(%rsp),%rsp */
      0xff, 0x15, 29,   0,    0,    0,       /* call *40(%rip-relative) */
      0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0, /* lea 0x80(%rsp),%rsp */
      0xe3, 0x02,                            /* jrcxz +2 */
      0x0f, 0x05,                            /* syscall */
      0x48, 0x8b, 0x0d, 2,    0,    0, 0,    /* mov 32(%rip-relative),%rcx */
      0xff, 0xe1,                            /* jmp *%rcx */
  };
  uint8_t buf[STUB_SIZE];
  const uint64_t entry = (uintptr_t)rewrite_entry;
  memcpy(buf, code, sizeof(code));
  memcpy(buf + 32, &back, 8);
  memcpy(buf + 40, &entry, 8);
  memset(buf + 48, 0xcc, STUB_SIZE - 48);
  const uintptr_t page = stub & ~(PAGE - 1);
  /* Execute permission stays on: other trampolines of the page may run. */
  if (preload_raw6(__NR_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0))
    return -1;
  memcpy((void*)stub, buf, sizeof(buf));
  preload_raw6(__NR_mprotect, (long)page, PAGE, PROT_READ | PROT_EXEC, 0, 0, 0);
  return 0;
}

static void put_jmp8(uintptr_t at, uintptr_t to) {
  uint8_t* p = (uint8_t*)at;
  p[0] = 0xeb;
  p[1] = (uint8_t)(int8_t)(long)(to - (at + 2));
}

static int write_code(uintptr_t site, const struct patch_plan* plan, uintptr_t stub, int prot) {
  uintptr_t lo = site, hi = site + 2;
  for (int i = 0; i < plan->nhops; ++i) {
    if (plan->hop[i] < lo) lo = plan->hop[i];
    if (plan->hop[i] + 2 > hi) hi = plan->hop[i] + 2;
  }
  if (plan->final < lo) lo = plan->final;
  if (plan->final + 5 > hi) hi = plan->final + 5;
  const uintptr_t page_lo = lo & ~(PAGE - 1);
  const uintptr_t len = ((hi + PAGE - 1) & ~(PAGE - 1)) - page_lo;
  if (preload_raw6(__NR_mprotect, (long)page_lo, (long)len, prot | PROT_WRITE | PROT_EXEC, 0, 0, 0))
    return REWRITE_NO_MEMORY;
  /* Dead code first, from the far end of the chain back to the site. */
  uint8_t* f = (uint8_t*)plan->final;
  const int32_t rel = (int32_t)(long)(stub - (plan->final + 5));
  f[0] = 0xe9;
  memcpy(f + 1, &rel, 4);
  for (int i = plan->nhops - 1; i >= 0; --i)
    put_jmp8(plan->hop[i], i + 1 < plan->nhops ? plan->hop[i + 1] : plan->final);
  const uintptr_t first = plan->nhops ? plan->hop[0] : plan->final;
  const uint16_t jmp = (uint16_t)(0xeb | ((uint8_t)(int8_t)(long)(first - (site + 2)) << 8));
  /* One store, inside an aligned 8-byte word (patch_plan checked). */
  __asm__ volatile("movw %1, %0" : "=m"(*(volatile uint16_t*)site) : "r"(jmp) : "memory");
  preload_raw6(__NR_mprotect, (long)page_lo, (long)len, prot, 0, 0, 0);
  return REWRITE_PATCHED;
}

static int plan_site(uintptr_t site, const struct map_entry* m, struct patch_plan* plan) {
  struct eh_range fn;
  if (eh_range_find(site, &fn) && fn.start >= m->start && fn.next <= m->end) {
    const int st = plan_patch(fn.start, fn.next, 1, site, region_used, NULL, plan);
    if (st != PLAN_UNDECODABLE) return st;
  }
  /* Code without unwind information, or not decodable from the function's
   * start (data in code): fillers after the site only. */
  uintptr_t hi = site + 1024;
  if (hi > m->end) hi = m->end;
  return plan_patch(site, hi, 0, site, region_used, NULL, plan);
}

static int patch(uintptr_t site) {
  if (in_stub_page(site)) return PLAN_NOT_SYSCALL;
  struct find_map fm = {site, {0, 0, 0, 0}, 0};
  if (maps_each(find_map_cb, &fm) != 0 || !fm.ok) return REWRITE_NO_MEMORY;
  if (fm.found.shared || !(fm.found.prot & PROT_EXEC) || !(fm.found.prot & PROT_READ) ||
      site + 2 > fm.found.end)
    return REWRITE_NOT_CODE;
  struct patch_plan plan;
  const int st = plan_site(site, &fm.found, &plan);
  if (st != PLAN_OK) return st;
  if (plan.final + 5 > fm.found.end) return PLAN_NO_PADDING;
  for (int i = 0; i < plan.nhops; ++i)
    if (plan.hop[i] < fm.found.start) return PLAN_NO_PADDING;
  if (plan.final < fm.found.start) return PLAN_NO_PADDING;

  const uintptr_t stub = stub_alloc(plan.final + 5);
  if (!stub) return REWRITE_NO_MEMORY;
  if (stub_write(stub, site + 2) != 0) return REWRITE_NO_MEMORY;
  const int w = write_code(site, &plan, stub, fm.found.prot);
  if (w != REWRITE_PATCHED) return w;
  for (int i = 0; i < plan.nhops; ++i) region_take(plan.hop_region[i], plan.hop[i] + 2);
  region_take(plan.final_region, plan.final + 5);
  stats.hops += (unsigned long)plan.nhops;
  return REWRITE_PATCHED;
}

int rewrite_init(rewrite_dispatch_fn dispatch, const int* nrs, int count) {
  if (rewrite_entry_setup(dispatch, nrs, count) != 0) return -1;
  initialized = 1;
  return 0;
}

int rewrite_site(uintptr_t site) {
  if (!initialized) return REWRITE_OFF;
  if (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) return REWRITE_BUSY;
  const struct site_entry* e = site_slot(site);
  int status;
  if (e->site == site) {
    status = e->status;
  } else {
    const int saved = errno;
    status = patch(site);
    errno = saved;
    /* Remembered either way: a site that failed is not analysed again at
     * each of its traps. */
    remember(site, status);
    if (status == REWRITE_PATCHED)
      ++stats.patched;
    else
      ++stats.failed;
  }
  atomic_flag_clear_explicit(&lock, memory_order_release);
  return status;
}

void rewrite_get_stats(struct rewrite_stats* out) {
  while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
  }
  *out = stats;
  atomic_flag_clear_explicit(&lock, memory_order_release);
}

void rewrite_each_site(void (*fn)(uintptr_t site, int status, void* ctx), void* ctx) {
  while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
  }
  for (unsigned i = 0; i < SITE_SLOTS; ++i)
    if (sites[i].site) fn(sites[i].site, sites[i].status, ctx);
  atomic_flag_clear_explicit(&lock, memory_order_release);
}
