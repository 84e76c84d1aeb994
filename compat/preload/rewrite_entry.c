/* The trampolines' common entry: saves what a `syscall` instruction
 * preserves, calls the C dispatcher, restores. */
#include <cpuid.h>
#include <stdint.h>

#include "rewrite.h"
#include "rewrite_internal.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Read by the assembly below. */
HIDDEN rewrite_dispatch_fn rewrite_dispatch_ptr;
HIDDEN uint64_t rewrite_nr_bitmap[REWRITE_NR_LIMIT / 64];
HIDDEN uint64_t rewrite_xsave_size; /* bytes, a multiple of 64 */
HIDDEN uint64_t rewrite_xsave_mask; /* XCR0: every user state component */
HIDDEN uint8_t rewrite_xsave_kind;  /* 0 fxsave, 1 xsave, 2 xsavec */
HIDDEN uint8_t rewrite_has_avx;

/* Entered by `call` from a per-site trampoline (rewrite.c) that has moved
 * rsp 128 bytes below the site's rsp, past the red zone. In: the system
 * call registers of the site. Out: rax the result (or, not for the
 * dispatcher, the unchanged number), rcx 0 when served or 1 when the
 * trampoline must issue the `syscall` itself, r11 the flags as the kernel
 * leaves them; every other register, the flags and the x87/SSE/AVX/AVX-512
 * state as they were.
 *
 * Frame, rbp-relative: args[0..5] = rdi rsi rdx r10 r8 r9 at -48..-8, the
 * number (then the result) at -56; below, the 64-byte aligned save area. */
__asm__(
    ".text\n"
    ".globl rewrite_entry\n"
    ".hidden rewrite_entry\n"
    ".type rewrite_entry,@function\n"
    ".p2align 4\n"
    "rewrite_entry:\n"
    "  pushfq\n"
    "  cmp $" REWRITE_STR(REWRITE_NR_LIMIT) ", %rax\n"
    "  jae .Lpass\n"
    "  bt %rax, rewrite_nr_bitmap(%rip)\n"
    "  jnc .Lpass\n"
    "  push %rbp\n"
    "  mov %rsp, %rbp\n"
    "  push %r9\n"
    "  push %r8\n"
    "  push %r10\n"
    "  push %rdx\n"
    "  push %rsi\n"
    "  push %rdi\n"
    "  push %rax\n"
    "  sub rewrite_xsave_size(%rip), %rsp\n"
    "  and $-64, %rsp\n"
    /* XRSTOR faults unless the header's reserved bytes are zero. */
    "  xor %eax, %eax\n"
    "  mov %rax, 512(%rsp)\n"
    "  mov %rax, 520(%rsp)\n"
    "  mov %rax, 528(%rsp)\n"
    "  mov %rax, 536(%rsp)\n"
    "  mov %rax, 544(%rsp)\n"
    "  mov %rax, 552(%rsp)\n"
    "  mov %rax, 560(%rsp)\n"
    "  mov %rax, 568(%rsp)\n"
    "  mov rewrite_xsave_mask(%rip), %eax\n"
    "  mov rewrite_xsave_mask+4(%rip), %edx\n"
    "  cmpb $2, rewrite_xsave_kind(%rip)\n"
    "  je .Lxsavec\n"
    "  cmpb $1, rewrite_xsave_kind(%rip)\n"
    "  je .Lxsave\n"
    "  fxsave64 (%rsp)\n"
    "  jmp .Lsaved\n"
    ".Lxsavec:\n"
    "  xsavec64 (%rsp)\n"
    "  jmp .Lsaved\n"
    ".Lxsave:\n"
    "  xsave64 (%rsp)\n"
    ".Lsaved:\n"
    /* The C ABI wants DF clear; clean upper halves spare SSE code the
     * transition penalty. Both come back with popfq and xrstor. */
    "  cld\n"
    "  cmpb $0, rewrite_has_avx(%rip)\n"
    "  je .Lcall\n"
    "  vzeroupper\n"
    ".Lcall:\n"
    "  mov -56(%rbp), %rdi\n"
    "  lea -48(%rbp), %rsi\n"
    "  call *rewrite_dispatch_ptr(%rip)\n"
    "  mov %rax, -56(%rbp)\n"
    "  mov rewrite_xsave_mask(%rip), %eax\n"
    "  mov rewrite_xsave_mask+4(%rip), %edx\n"
    "  cmpb $0, rewrite_xsave_kind(%rip)\n"
    "  je .Lfxrstor\n"
    "  xrstor64 (%rsp)\n"
    "  jmp .Lrestored\n"
    ".Lfxrstor:\n"
    "  fxrstor64 (%rsp)\n"
    ".Lrestored:\n"
    "  mov -56(%rbp), %rax\n"
    "  lea -48(%rbp), %rsp\n"
    "  pop %rdi\n"
    "  pop %rsi\n"
    "  pop %rdx\n"
    "  pop %r10\n"
    "  pop %r8\n"
    "  pop %r9\n"
    "  pop %rbp\n"
    "  mov (%rsp), %r11\n"
    "  xor %ecx, %ecx\n"
    "  popfq\n"
    "  ret\n"
    ".Lpass:\n"
    "  mov $1, %ecx\n"
    "  popfq\n"
    "  ret\n"
    ".size rewrite_entry, .-rewrite_entry\n");

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

int rewrite_entry_setup(rewrite_dispatch_fn dispatch, const int* nrs, int count) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(d & bit_FXSAVE)) return -1;
  rewrite_xsave_kind = 0;
  rewrite_xsave_size = 576; /* fxsave's 512 plus the header bytes zeroed above */
  rewrite_has_avx = 0;
  if (c & bit_OSXSAVE) {
    const uint64_t xcr0 = xgetbv0();
    unsigned a1, b1, c1, d1;
    __cpuid_count(0xd, 0, a, b, c, d);
    rewrite_xsave_kind = 1;
    rewrite_xsave_mask = xcr0;
    rewrite_xsave_size = b; /* standard format, every component XCR0 enables */
    __cpuid_count(0xd, 1, a1, b1, c1, d1);
    if (a1 & (1u << 1)) {
      /* XSAVEC writes only components in use: much less to store when the
       * upper AVX/AVX-512 state is clean. Its size bound is EBX of leaf 1. */
      rewrite_xsave_kind = 2;
      if (b1 > rewrite_xsave_size) rewrite_xsave_size = b1;
    }
    rewrite_has_avx = (xcr0 & 4) != 0;
  }
  rewrite_xsave_size = (rewrite_xsave_size + 63) & ~(uint64_t)63;
  for (int i = 0; i < count; ++i)
    if (nrs[i] >= 0 && nrs[i] < REWRITE_NR_LIMIT)
      rewrite_nr_bitmap[nrs[i] / 64] |= 1ull << (nrs[i] % 64);
  rewrite_dispatch_ptr = dispatch;
  return 0;
}
