// The call-site rewriter on machine code copied at run time into an
// executable buffer, in a forked child that installs its own seccomp trap
// and dispatcher: after the first SIGSYS the site is rewritten and never
// traps again, and every register, the flags and the vector state the code
// holds across the `syscall` survive a dispatcher that clobbers them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../common/sanitized.hpp"

#if defined(IOSTACK_COMPAT_REWRITE)
#include "patch_plan.h"
#include "rewrite.h"

// Test functions, SysV ABI: long blob(long nr, long a0, const BlobIn* in,
// BlobOut* out). They load every vector register, k1-k7, MXCSR and the
// preserved GPRs from `in`, set CF and DF, issue `syscall` (nr in rax, a0
// in rdi, in->rsi/rdx/r10/r8/r9 as the other arguments), then store all of
// it, rcx, r11 and the flags into `out`. After the syscall comes a jmp and
// an int3 filler: room for the rewriter's jmp rel32. Position independent,
// so they run from a copy.
__asm__(
    ".text\n"
    ".globl rw_blob512, rw_blob512_site, rw_blob512_end\n"
    ".hidden rw_blob512, rw_blob512_site, rw_blob512_end\n"
    ".globl rw_blob_sse, rw_blob_sse_site, rw_blob_sse_end\n"
    ".hidden rw_blob_sse, rw_blob_sse_site, rw_blob_sse_end\n"
    ".macro rw_load_gprs\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15; push %rcx\n"
    "  ldmxcsr 2112(%rdx)\n"
    "  mov 2120(%rdx), %rbx; mov 2128(%rdx), %rbp; mov 2136(%rdx), %r12\n"
    "  mov 2144(%rdx), %r13; mov 2152(%rdx), %r14; mov 2160(%rdx), %r15\n"
    "  mov 2168(%rdx), %r8; mov 2176(%rdx), %r9; mov 2184(%rdx), %r10\n"
    "  mov %rdi, %rax; mov %rsi, %rdi; mov 2192(%rdx), %rsi; mov 2200(%rdx), %rdx\n"
    "  stc; std\n"
    ".endm\n"
    ".macro rw_syscall name\n"
    "  .p2align 4, 0x90\n"
    "\\name\\()_site:\n"
    "  syscall\n"
    "  jmp 1f\n"
    "  .p2align 4, 0xcc\n"
    "1:\n"
    "  pushfq; push %rax; mov 16(%rsp), %rax; popq 0(%rax); popq 8(%rax); cld\n"
    "  mov %rcx, 16(%rax); mov %r11, 24(%rax); mov %rbx, 32(%rax); mov %rbp, 40(%rax)\n"
    "  mov %r12, 48(%rax); mov %r13, 56(%rax); mov %r14, 64(%rax); mov %r15, 72(%rax)\n"
    "  mov %r8, 80(%rax); mov %r9, 88(%rax); mov %r10, 96(%rax); mov %rdi, 104(%rax)\n"
    "  mov %rsi, 112(%rax); mov %rdx, 120(%rax)\n"
    ".endm\n"
    ".macro rw_return\n"
    "  stmxcsr 2240(%rax)\n"
    "  pop %rcx; mov (%rcx), %rax\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    ".endm\n"
    ".p2align 6\n"
    "rw_blob512:\n"
    "  .irp "
    "i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "  vmovdqu64 \\i*64(%rdx), %zmm\\i\n"
    "  .endr\n"
    "  .irp i,1,2,3,4,5,6,7\n"
    "  kmovq 2048+\\i*8(%rdx), %k\\i\n"
    "  .endr\n"
    "  rw_load_gprs\n"
    "  rw_syscall rw_blob512\n"
    "  .irp "
    "i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "  vmovdqu64 %zmm\\i, 128+\\i*64(%rax)\n"
    "  .endr\n"
    "  .irp i,1,2,3,4,5,6,7\n"
    "  kmovq %k\\i, 2176+\\i*8(%rax)\n"
    "  .endr\n"
    "  vzeroupper\n"
    "  rw_return\n"
    "  .p2align 4, 0xcc\n"
    "rw_blob512_end:\n"
    ".p2align 6\n"
    "rw_blob_sse:\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  movdqu \\i*64(%rdx), %xmm\\i\n"
    "  .endr\n"
    "  rw_load_gprs\n"
    "  rw_syscall rw_blob_sse\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  movdqu %xmm\\i, 128+\\i*64(%rax)\n"
    "  .endr\n"
    "  rw_return\n"
    "  .p2align 4, 0xcc\n"
    "rw_blob_sse_end:\n");

extern "C" const unsigned char rw_blob512[], rw_blob512_site[], rw_blob512_end[];
extern "C" const unsigned char rw_blob_sse[], rw_blob_sse_site[], rw_blob_sse_end[];

namespace {

struct alignas(64) BlobIn {
  uint8_t vec[32][64];
  uint64_t k[8];
  uint32_t mxcsr, pad;
  uint64_t rbx, rbp, r12, r13, r14, r15, r8, r9, r10, rsi, rdx;
};
static_assert(offsetof(BlobIn, k) == 2048 && offsetof(BlobIn, mxcsr) == 2112);
static_assert(offsetof(BlobIn, rbx) == 2120 && offsetof(BlobIn, rdx) == 2200);

struct alignas(64) BlobOut {
  uint64_t rax, flags, rcx, r11, rbx, rbp, r12, r13, r14, r15, r8, r9, r10, rdi, rsi, rdx;
  uint8_t vec[32][64];
  uint64_t k[8];
  uint32_t mxcsr;
};
static_assert(offsetof(BlobOut, vec) == 128 && offsetof(BlobOut, k) == 2176);
static_assert(offsetof(BlobOut, mxcsr) == 2240);

using BlobFn = long (*)(long nr, long a0, const BlobIn* in, BlobOut* out);

// The number the child's filter traps; the dispatcher serves only it.
constexpr int kTestNr = __NR_io_uring_enter;
constexpr uint64_t kCF = 1, kDF = 1u << 10;

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

// A copy of one blob in an RX buffer, placed so that the syscall sits at
// `site_mod8` modulo 8 (7 straddles an 8-byte boundary).
class Copy {
 public:
  Copy(bool wide, int site_mod8 = 0) {
    const unsigned char* start = wide ? rw_blob512 : rw_blob_sse;
    const unsigned char* site = wide ? rw_blob512_site : rw_blob_sse_site;
    const unsigned char* end = wide ? rw_blob512_end : rw_blob_sse_end;
    const size_t len = static_cast<size_t>(end - start);
    site_off_ = static_cast<size_t>(site - start);
    const size_t shift = static_cast<size_t>(site_mod8 - static_cast<int>(site_off_ % 8) + 8) % 8;
    void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<unsigned char*>(p);
    std::memcpy(base_ + 64 + shift, start, len);
    mprotect(base_, kSize, PROT_READ | PROT_EXEC);
    fn_ = reinterpret_cast<BlobFn>(base_ + 64 + shift);
    site_ = reinterpret_cast<uintptr_t>(base_ + 64 + shift + site_off_);
  }
  ~Copy() {
    if (base_) munmap(base_, kSize);
  }
  BlobFn fn() const { return fn_; }
  uintptr_t site() const { return site_; }

 private:
  static constexpr size_t kSize = 16384;
  unsigned char* base_ = nullptr;
  BlobFn fn_ = nullptr;
  size_t site_off_ = 0;
  uintptr_t site_ = 0;
};

// --- the child's trap and dispatcher ---

std::atomic<long> g_traps{0};
std::atomic<int> g_last_status{1};
bool g_rewrite = true;

// Overwrites the vector registers, mask registers and MXCSR, as glibc's
// memcpy or any C code may in a real dispatcher.
__attribute__((noinline)) void clobber_vector_state(bool wide) {
  __asm__ volatile(
      "pcmpeqd %%xmm0, %%xmm0\n pcmpeqd %%xmm1, %%xmm1\n pcmpeqd %%xmm2, %%xmm2\n"
      "pcmpeqd %%xmm3, %%xmm3\n pcmpeqd %%xmm4, %%xmm4\n pcmpeqd %%xmm5, %%xmm5\n"
      "pcmpeqd %%xmm6, %%xmm6\n pcmpeqd %%xmm7, %%xmm7\n pcmpeqd %%xmm8, %%xmm8\n"
      "pcmpeqd %%xmm9, %%xmm9\n pcmpeqd %%xmm10, %%xmm10\n pcmpeqd %%xmm11, %%xmm11\n"
      "pcmpeqd %%xmm12, %%xmm12\n pcmpeqd %%xmm13, %%xmm13\n pcmpeqd %%xmm14, %%xmm14\n"
      "pcmpeqd %%xmm15, %%xmm15\n" ::
          : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
            "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  if (wide) {
    // Registers the compiler does not use without -mavx512f: no clobbers.
    __asm__ volatile(
        ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"
        "30,31\n vpternlogd $0xff, %zmm\\i, %zmm\\i, %zmm\\i\n .endr\n"
        ".irp i,1,2,3,4,5,6,7\n kxnorq %k\\i, %k\\i, %k\\i\n .endr\n");
  }
  const uint32_t round_to_zero = 0x7f80;
  __asm__ volatile("ldmxcsr %0" ::"m"(round_to_zero));
}

bool g_wide = false;

long test_dispatch(long nr, const long a[6]) {
  clobber_vector_state(g_wide);
  if (nr != kTestNr) return -ENOSYS;
  return a[0] + 3 * a[1] + 5 * a[2] + 7 * a[3] + 11 * a[4] + 13 * a[5];
}

void on_sigsys(int, siginfo_t* si, void* ctx) {
  greg_t* r = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
  g_traps.fetch_add(1);
  if (g_rewrite) g_last_status.store(rewrite_site(static_cast<uintptr_t>(r[REG_RIP]) - 2));
  const long a[6] = {r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]};
  r[REG_RAX] = test_dispatch(si->si_syscall, a);
}

bool install_trap() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return false;
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kTestNr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 &&
         rewrite_init(test_dispatch, &kTestNr, 1) == 0;
}

// --- checks, reported from the child on stderr ---

std::atomic<int> g_failures{0};

void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  ++g_failures;
}

void fill(BlobIn& in, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (auto& v : in.vec)
    for (size_t i = 0; i < 64; i += 8) {
      const uint64_t r = next();
      std::memcpy(&v[i], &r, 8);
    }
  for (auto& k : in.k) k = next();
  in.mxcsr = 0x3f80;  // all exceptions masked, round down: not the default
  uint64_t* g = &in.rbx;
  for (int i = 0; i < 11; ++i) g[i] = next();
}

long expected(long a0, const BlobIn& in) {
  return a0 + 3 * static_cast<long>(in.rsi) + 5 * static_cast<long>(in.rdx) +
         7 * static_cast<long>(in.r10) + 11 * static_cast<long>(in.r8) +
         13 * static_cast<long>(in.r9);
}

// Everything `syscall` preserves came back; rcx and r11 as the kernel sets them.
void check_state(const char* what, bool wide, uintptr_t site, long a0, const BlobIn& in,
                 const BlobOut& out) {
  const size_t nvec = wide ? 32 : 16, width = wide ? 64 : 16;
  for (size_t i = 0; i < nvec; ++i)
    if (std::memcmp(in.vec[i], out.vec[i], width) != 0)
      fail("%s: vector register %zu changed", what, i);
  if (wide)
    for (int i = 1; i < 8; ++i)
      if (in.k[i] != out.k[i]) fail("%s: k%d changed", what, i);
  if (out.mxcsr != in.mxcsr) fail("%s: mxcsr %#x, expected %#x", what, out.mxcsr, in.mxcsr);
  const uint64_t want[] = {in.rbx, in.rbp, in.r12, in.r13, in.r14,
                           in.r15, in.r8,  in.r9,  in.r10, static_cast<uint64_t>(a0),
                           in.rsi, in.rdx};
  const uint64_t got[] = {out.rbx, out.rbp, out.r12, out.r13, out.r14, out.r15,
                          out.r8,  out.r9,  out.r10, out.rdi, out.rsi, out.rdx};
  const char* names[] = {"rbx", "rbp", "r12", "r13", "r14", "r15",
                         "r8",  "r9",  "r10", "rdi", "rsi", "rdx"};
  for (int i = 0; i < 12; ++i)
    if (want[i] != got[i]) fail("%s: %s changed", what, names[i]);
  if ((out.flags & (kCF | kDF)) != (kCF | kDF)) fail("%s: flags %#lx lost CF/DF", what, out.flags);
  if (out.r11 != out.flags) fail("%s: r11 %#lx, flags %#lx", what, out.r11, out.flags);
  if (out.rcx != site + 2) fail("%s: rcx %#lx, expected %#lx", what, out.rcx, site + 2);
}

// Runs fn in a forked child; returns its stderr, or "" when it exited 0.
std::string in_child(const std::function<int()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    _exit(fn() == 0 && g_failures.load() == 0 ? 0 : 1);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "child failed (status " + std::to_string(status) + "): " + text;
}

class Rewrite : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    SKIP_IF_SANITIZED();
    if (GetParam() && !has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
  bool wide() const { return GetParam(); }
};

TEST_P(Rewrite, SiteStopsTrappingAndKeepsEveryRegister) {
  const bool wide = this->wide();
  EXPECT_EQ(in_child([wide] {
              g_wide = wide;
              if (!install_trap()) return 2;
              Copy code(wide);
              BlobIn in{};
              BlobOut out{};
              fill(in, 1);
              long r = code.fn()(kTestNr, 42, &in, &out);
              if (r != expected(42, in)) fail("first call: %ld", r);
              check_state("trapped call", wide, code.site(), 42, in, out);
              if (g_traps.load() != 1) fail("traps %ld after the first call", g_traps.load());
              if (g_last_status.load() != REWRITE_PATCHED) fail("status %d", g_last_status.load());
              if (*reinterpret_cast<const uint8_t*>(code.site()) != 0xeb)
                fail("the site is not a jmp rel8 now");
              for (int i = 0; i < 2000; ++i) {
                fill(in, 100 + static_cast<uint64_t>(i));
                r = code.fn()(kTestNr, i, &in, &out);
                if (r != expected(i, in)) fail("call %d: %ld", i, r);
                check_state("rewritten call", wide, code.site(), i, in, out);
                if (g_failures.load()) break;
              }
              if (g_traps.load() != 1) fail("traps %ld after 2000 more calls", g_traps.load());
              return 0;
            }),
            "");
}

TEST_P(Rewrite, OtherSystemCallsRunForRealFromTheTrampoline) {
  const bool wide = this->wide();
  const pid_t parent = getpid();
  EXPECT_EQ(in_child([wide, parent] {
              g_wide = wide;
              if (!install_trap()) return 2;
              Copy code(wide);
              BlobIn in{};
              BlobOut out{};
              fill(in, 7);
              code.fn()(kTestNr, 1, &in, &out);  // traps once, rewrites
              if (g_last_status.load() != REWRITE_PATCHED) fail("status %d", g_last_status.load());
              fill(in, 8);
              long r = code.fn()(__NR_getppid, 0, &in, &out);
              if (r != parent) fail("getppid through the trampoline: %ld, expected %d", r, parent);
              check_state("getppid", wide, code.site(), 0, in, out);
              r = code.fn()(1000, 0, &in, &out);  // no such system call
              if (r != -ENOSYS) fail("nr 1000: %ld", r);
              if (g_traps.load() != 1) fail("traps %ld", g_traps.load());
              return 0;
            }),
            "");
}

TEST_P(Rewrite, SiteStraddlingEightBytesKeepsTrapping) {
  const bool wide = this->wide();
  EXPECT_EQ(in_child([wide] {
              g_wide = wide;
              if (!install_trap()) return 2;
              Copy code(wide, 7);
              if (code.site() % 8 != 7) fail("site %#lx not at 7 mod 8", code.site());
              BlobIn in{};
              BlobOut out{};
              for (int i = 0; i < 50; ++i) {
                fill(in, static_cast<uint64_t>(i));
                const long r = code.fn()(kTestNr, i, &in, &out);
                if (r != expected(i, in)) fail("call %d: %ld", i, r);
                check_state("trapped call", wide, code.site(), i, in, out);
              }
              if (g_last_status.load() != PLAN_STRADDLE) fail("status %d", g_last_status.load());
              if (g_traps.load() != 50) fail("traps %ld, expected 50", g_traps.load());
              return 0;
            }),
            "");
}

TEST_P(Rewrite, ThreadsRunTheSiteWhileItIsRewritten) {
  const bool wide = this->wide();
  EXPECT_EQ(in_child([wide] {
              g_wide = wide;
              if (!install_trap()) return 2;
              Copy code(wide);
              constexpr int kThreads = 4, kCalls = 3000;
              std::atomic<int> ready{0};
              std::atomic<bool> go{false};
              std::atomic<int> bad{0};
              std::vector<std::thread> threads;
              for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([&, t] {
                  BlobIn in{};
                  BlobOut out{};
                  ready.fetch_add(1);
                  while (!go.load()) {
                  }
                  for (int i = 0; i < kCalls; ++i) {
                    fill(in, static_cast<uint64_t>(t * kCalls + i));
                    const long r = code.fn()(kTestNr, i, &in, &out);
                    const int before = g_failures.load();
                    check_state("threaded call", wide, code.site(), i, in, out);
                    if (r != expected(i, in) || g_failures.load() != before) bad.fetch_add(1);
                  }
                });
              }
              while (ready.load() != kThreads) {
              }
              go.store(true);
              for (auto& th : threads) th.join();
              if (bad.load()) fail("%d calls went wrong", bad.load());
              const long traps = g_traps.load();
              if (traps < 1 || traps >= kThreads * kCalls / 4)
                fail("traps %ld of %d calls", traps, kThreads * kCalls);
              BlobIn in{};
              BlobOut out{};
              for (int i = 0; i < 100; ++i) code.fn()(kTestNr, i, &in, &out);
              if (g_traps.load() != traps) fail("traps after the threads: %ld", g_traps.load());
              return 0;
            }),
            "");
}

INSTANTIATE_TEST_SUITE_P(Vectors, Rewrite, ::testing::Values(false, true), [](const auto& info) {
  return std::string(info.param ? "Avx512" : "Sse");
});

}  // namespace

#else

TEST(Rewrite, Skipped) { GTEST_SKIP() << "the call-site rewriter was not built"; }

#endif
