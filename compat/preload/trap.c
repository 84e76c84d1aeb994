/* Catches io_uring and AIO system calls that bypass libc. fio's io_uring
 * engine issues io_uring_enter with an inline `syscall` instruction on
 * x86-64, libaio does the same for io_submit & co., and liburing 2.3 maps
 * and closes its ring that way too; no symbol interposition can see those.
 * A seccomp filter makes those calls raise SIGSYS (SECCOMP_RET_TRAP, which
 * also outranks an EPERM filter such as Docker's), and the handler serves
 * them with iostack, writing the result into the interrupted thread's RAX.
 * Then it rewrites the call site (rewrite.c) so that the next call from
 * there reaches iostack without a signal.
 *
 * Trapped: the io_uring and AIO numbers, and the mmap(2) calls that may map
 * a ring: MAP_SHARED(_VALIDATE), not anonymous, at one of the ring offsets,
 * fd upper half zero. The shim performs the mmaps that are not of a ring
 * for real with a marker in the fd's upper half (raw.h), which the filter
 * lets through, also in an exec'd child where code addresses differ.
 * close(2) is not trapped although liburing closes its ring inline: the
 * filter outlives exec, and the dynamic loader of every exec'd child closes
 * files before any handler of a preloaded shim can exist.
 *
 * Running iostack code in the handler is safe in practice: SIGSYS from
 * seccomp is synchronous, raised at the program's own system call, never
 * in the middle of libc or iostack code. Engine code run from the handler
 * may trap again (a close, say) before its call site is rewritten, hence
 * SA_NODEFER.
 *
 * With files mapped by `iostack exec --map`, the plain file calls
 * (mapped_serve.c: read, write, open, close, fsync...) are trapped too, but
 * only when made from libc's code or the program's own (see code_ranges_setup):
 * stdio's fflush writes from inside libc, where no interposed function sees
 * it. After the first trap a site is rewritten, so a program's other reads
 * and writes cost a trampoline's detour, not a signal.
 *
 * Side effects: the process gets PR_SET_NO_NEW_PRIVS (needed to install a
 * filter without privilege), and the filter is inherited by children, also
 * across exec: a child that does not load the shim dies of SIGSYS at its
 * first trapped call. IOSTACK_PRELOAD_TRAP=0 turns the trap off (then only
 * calls through libc reach iostack), IOSTACK_PRELOAD_REWRITE=0 keeps the
 * trap but never rewrites, IOSTACK_PRELOAD_STATS=1 prints counts at exit (2: and every site). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "iostack/uring.h"
#include "proc_maps.h"
#include "raw.h"
#include "rewrite.h"
#include "serve.h"
#include "signals.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

/* Every number the filter may trap (mmap under conditions, last). */
static const int trapped_nrs[] = {
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register, __NR_io_setup,
    __NR_io_destroy,     __NR_io_submit,      __NR_io_getevents,      __NR_io_pgetevents,
    __NR_io_cancel,      __NR_mmap,
};
#define NTRAPPED ((int)(sizeof(trapped_nrs) / sizeof(trapped_nrs[0])))

/* What rewritten sites hand to preload_dispatch; any other number runs for
 * real from the trampoline. close too: a rewritten site that closes a ring
 * fd then reaches iostack. */
static const int dispatched_nrs[] = {
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
    __NR_io_setup,       __NR_io_destroy,     __NR_io_submit,
    __NR_io_getevents,   __NR_io_pgetevents,  __NR_io_cancel,
    __NR_mmap,           __NR_close,          __NR_munmap,
};
#define NDISPATCHED ((int)(sizeof(dispatched_nrs) / sizeof(dispatched_nrs[0])))

static int rewriting;
static atomic_ulong traps;

/* Code address ranges: the program's own first (nprog of them), then,
 * with mapped files, libc's. With mapped files the plain file calls
 * (mapped_serve.c) made from all of them are trapped; without, close and
 * munmap made from the program's own code (a statically linked liburing
 * closing and unmapping its ring with inline system calls), so that the
 * ring goes with its last descriptor and mapping, as the kernel's does,
 * and not at the next ring setup. */
#define MAX_RANGES 4
static int plain_on;
static int close_on;
static const int* plain_nrs;
static int nplain;
static uintptr_t range_lo[MAX_RANGES], range_hi[MAX_RANGES];
static int nranges;
static int nprog;

static int is_trapped(long nr) {
  for (int i = 0; i < NTRAPPED; ++i)
    if (trapped_nrs[i] == nr) return 1;
  if (close_on && (nr == __NR_close || nr == __NR_munmap)) return 1;
  for (int i = 0; plain_on && i < nplain; ++i)
    if (plain_nrs[i] == nr) return 1;
  return 0;
}

static void on_sigsys(int sig, siginfo_t* info, void* context) {
  if (info->si_code != SYS_SECCOMP || info->si_arch != AUDIT_ARCH_X86_64 ||
      !is_trapped(info->si_syscall)) {
    preload_sigsys_chain(sig, info, context);
    return;
  }
  greg_t* r = ((ucontext_t*)context)->uc_mcontext.gregs;
  const long args[6] = {r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]};
  atomic_fetch_add_explicit(&traps, 1, memory_order_relaxed);
  /* Before serving: a call that blocks (io_uring_enter waiting) should not
   * hold other threads on the slow path meanwhile. */
  if (rewriting) rewrite_site((uintptr_t)r[REG_RIP] - 2);
  r[REG_RAX] = preload_dispatch(info->si_syscall, args);
}

/* Filter assembly: jumps to the two final instructions are written as
 * these placeholders and resolved once the program is complete. */
#define TO_TRAP 0xff
#define TO_ALLOW 0xfe
#define TO_PLAIN 0xfd
#define TO_CLOSE 0xfc
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)

struct prog {
  struct sock_filter f[160];
  unsigned short n;
};

static void emit(struct prog* p, struct sock_filter ins) { p->f[p->n++] = ins; }
static void ld(struct prog* p, unsigned off) {
  emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off));
}
static void jeq(struct prog* p, unsigned k, unsigned char jt, unsigned char jf) {
  emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf));
}

/* Traps a call made from inside range_lo/hi[0..n), allows the rest. */
static void emit_ranges(struct prog* p, int n) {
  for (int i = 0; i < n; ++i) {
    ld(p, offsetof(struct seccomp_data, instruction_pointer) + 4);
    jeq(p, (unsigned)(range_lo[i] >> 32), 0, 3);
    ld(p, offsetof(struct seccomp_data, instruction_pointer));
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)range_lo[i], 0, 1));
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (unsigned)(range_hi[i] - 1), 0,
                                         TO_TRAP));
  }
  jeq(p, 0, TO_ALLOW, TO_ALLOW);
}

static int install_filter(void) {
  struct prog p = {.n = 0};
  ld(&p, offsetof(struct seccomp_data, arch));
  jeq(&p, AUDIT_ARCH_X86_64, 0, TO_ALLOW);
  ld(&p, offsetof(struct seccomp_data, nr));
  /* Only the families this process serves (IOSTACK_EXEC_SERVE): the
   * kernel answers the others. */
  for (int i = 0; i < NTRAPPED; ++i)
    if (trapped_nrs[i] != __NR_mmap && preload_serves(trapped_nrs[i]))
      jeq(&p, (unsigned)trapped_nrs[i], TO_TRAP, 0);
  for (int i = 0; plain_on && i < nplain; ++i) jeq(&p, (unsigned)plain_nrs[i], TO_PLAIN, 0);
  if (close_on) {
    jeq(&p, __NR_close, TO_CLOSE, 0);
    jeq(&p, __NR_munmap, TO_CLOSE, 0);
  }
  /* mmap: only what can map a ring, unless the fd carries the marker. */
  jeq(&p, __NR_mmap, 0, TO_ALLOW);
  ld(&p, ARG_HI(4));
  jeq(&p, 0, 0, TO_ALLOW);
  ld(&p, ARG_LO(3));
  emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_ANONYMOUS, TO_ALLOW, 0));
  emit(&p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, MAP_TYPE));
  jeq(&p, MAP_SHARED, 1, 0);
  jeq(&p, MAP_SHARED_VALIDATE, 0, TO_ALLOW);
  ld(&p, ARG_HI(5));
  jeq(&p, 0, 0, TO_ALLOW);
  ld(&p, ARG_LO(5));
  jeq(&p, (unsigned)IORING_OFF_CQ_RING, TO_TRAP, 0);
  jeq(&p, (unsigned)IORING_OFF_SQES, TO_TRAP, 0);
  /* A buffer ring the engine allocated (IOU_PBUF_RING_MMAP): 0x80000000
   * with the group id from bit 16 up. */
  emit(&p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf8000000u));
  jeq(&p, 0x80000000u, TO_TRAP, 0);
  ld(&p, ARG_LO(5));
  jeq(&p, (unsigned)IORING_OFF_SQ_RING, 0, TO_ALLOW);
  /* Offset 0 is common: only with MAP_POPULATE, as io_uring libraries map
   * rings (a child that runs without the shim, a static binary, then dies
   * only when it maps a shared file that way). */
  ld(&p, ARG_LO(3));
  emit(&p,
       (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_POPULATE, TO_TRAP, TO_ALLOW));
  /* A plain file call: trapped from inside the ranges only (each within
   * one 4 GiB half-word), the rest allowed; close, from the program's. */
  const unsigned short plain_at = p.n;
  emit_ranges(&p, plain_on ? nranges : 0);
  const unsigned short close_at = p.n;
  emit_ranges(&p, close_on ? nprog : 0);
  const unsigned short trap_at = p.n;
  emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
  const unsigned short allow_at = p.n;
  emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  for (unsigned short i = 0; i < trap_at; ++i) {
    struct sock_filter* f = &p.f[i];
    if (BPF_CLASS(f->code) != BPF_JMP) continue;
    if (f->jt == TO_PLAIN) f->jt = (unsigned char)(plain_at - i - 1);
    if (f->jt == TO_CLOSE) f->jt = (unsigned char)(close_at - i - 1);
    if (f->jt == TO_TRAP) f->jt = (unsigned char)(trap_at - i - 1);
    if (f->jt == TO_ALLOW) f->jt = (unsigned char)(allow_at - i - 1);
    if (f->jf == TO_TRAP) f->jf = (unsigned char)(trap_at - i - 1);
    if (f->jf == TO_ALLOW) f->jf = (unsigned char)(allow_at - i - 1);
  }
  struct sock_fprog prog = {p.n, p.f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int env_is(const char* name, const char* value) {
  const char* v = getenv(name);
  return v && strcmp(v, value) == 0;
}

static void print_site(uintptr_t site, int status, void* ctx) {
  (void)ctx;
  Dl_info info;
  char line[512];
  int n;
  if (dladdr((void*)site, &info) && info.dli_fname)
    n = snprintf(line, sizeof(line), "iostack_preload: site %s+%#lx: %d\n", info.dli_fname,
                 (unsigned long)(site - (uintptr_t)info.dli_fbase), status);
  else
    n = snprintf(line, sizeof(line), "iostack_preload: site %#lx: %d\n", (unsigned long)site,
                 status);
  if (n > 0) {
    ssize_t ignored = write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    (void)ignored;
  }
}

static void print_stats(void) {
  struct rewrite_stats st;
  rewrite_get_stats(&st);
  char line[160];
  const int n = snprintf(line, sizeof(line),
                         "iostack_preload: traps %lu, sites rewritten %lu, not rewritable %lu, "
                         "extra hops %lu\n",
                         atomic_load(&traps), st.patched, st.failed, st.hops);
  if (n > 0) {
    ssize_t ignored = write(2, line, (size_t)n);
    (void)ignored;
  }
  if (env_is("IOSTACK_PRELOAD_STATS", "2")) rewrite_each_site(print_site, NULL);
}

/* The executable mapping that holds `addr`, split at 4 GiB boundaries. */
struct code_of {
  uintptr_t addr;
};
static int add_code_cb(const struct map_entry* e, void* ctx) {
  const uintptr_t addr = ((struct code_of*)ctx)->addr;
  if (addr < e->start || addr >= e->end) return e->start > addr;
  if (!(e->prot & PROT_EXEC)) return 1;
  for (uintptr_t lo = e->start; lo < e->end && nranges < MAX_RANGES;) {
    uintptr_t hi = (lo | 0xffffffffUL) + 1;
    if (hi > e->end) hi = e->end;
    range_lo[nranges] = lo;
    range_hi[nranges++] = hi;
    lo = hi;
  }
  return 1;
}

static int main_is_pie_cb(struct dl_phdr_info* info, size_t size, void* ctx) {
  (void)size;
  *(int*)ctx = info->dlpi_addr != 0;
  return 1; /* the first is the program */
}

/* The ranges above, trapped only by address because the filter stays on
 * across exec, and an executed child (its dynamic loader before any shim
 * of its own can serve, or a static program) has its code elsewhere. So
 * not with address randomisation off, nor from a program at a fixed
 * address (another such program would be at the same place). libc's code
 * counts for mapped files: stdio's writes and opens never pass through an
 * exported function. */
static void code_ranges_setup(void) {
  if (personality(0xffffffff) & ADDR_NO_RANDOMIZE) return;
  char c = 0;
  const long fd = preload_raw6(__NR_openat, AT_FDCWD, (long)"/proc/sys/kernel/randomize_va_space",
                               O_RDONLY | O_CLOEXEC, 0, 0, 0);
  if (fd >= 0) {
    preload_raw6(__NR_read, fd, (long)&c, 1, 0, 0, 0);
    preload_raw6(__NR_close, fd, 0, 0, 0, 0, 0);
  }
  if (c == '0') return;
  int pie = 0;
  dl_iterate_phdr(main_is_pie_cb, &pie);
  struct code_of prog = {(uintptr_t)getauxval(AT_ENTRY)};
  if (pie && prog.addr) maps_each(add_code_cb, &prog);
  nprog = nranges;
  if (!mapped_on()) {
    close_on = preload_serves(__NR_io_uring_setup) && nprog > 0;
    return;
  }
  struct code_of libc = {(uintptr_t)&fflush};
  maps_each(add_code_cb, &libc);
  if (nranges == nprog) return;
  nplain = mapped_plain_nrs(&plain_nrs);
  plain_on = 1;
}

__attribute__((constructor)) static void trap_init(void) {
  if (env_is("IOSTACK_PRELOAD_TRAP", "0")) return;
  code_ranges_setup();
  if (!env_is("IOSTACK_PRELOAD_REWRITE", "0")) {
    int nrs[NDISPATCHED + 64];
    int n = 0;
    for (int i = 0; i < NDISPATCHED; ++i) nrs[n++] = dispatched_nrs[i];
    for (int i = 0; plain_on && i < nplain && n < NDISPATCHED + 64; ++i) nrs[n++] = plain_nrs[i];
    rewriting = rewrite_init(preload_dispatch, nrs, n) == 0;
  }
  if (preload_sigsys_install(on_sigsys) != 0) return;
  /* Without the filter the handler is never reached: harmless. */
  install_filter();
  if (env_is("IOSTACK_PRELOAD_STATS", "1") || env_is("IOSTACK_PRELOAD_STATS", "2"))
    atexit(print_stats);
}
