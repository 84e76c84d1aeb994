// Cost of reaching the engine from an inline `syscall` instruction through
// the preload shim. Run it preloaded:
//   LD_PRELOAD=build/release/compat/preload/libiostack_preload.so
//   build/release/bench/preload_rewrite
// Two copies of a raw system call function are built at run time: one the
// shim rewrites after its first trap, one whose `syscall` straddles an
// 8-byte boundary so that it traps every time. Beside them, the same work
// as a plain call into the engine (this program's own iostack). Without the
// shim, the raw functions reach the kernel: the kernel's figures.
#include <benchmark/benchmark.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "iostack/uring.h"

namespace {

using RawFn = long (*)(long nr, long a, long b, long c, long d, long e, long f);

// mov rdi->rax, rsi->rdi, rdx->rsi, rcx->rdx, r8->r10, r9->r8, [rsp+8]->r9;
// nops so that the syscall lands at `site_off`; syscall; ret; int3 filler.
RawFn build_raw(unsigned char* at, unsigned site_off) {
  static const unsigned char head[] = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89,
                                       0xd6, 0x48, 0x89, 0xca, 0x4d, 0x89, 0xc2, 0x4d,
                                       0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08};
  std::memcpy(at, head, sizeof(head));
  std::memset(at + sizeof(head), 0x90, site_off - sizeof(head));
  at[site_off] = 0x0f;
  at[site_off + 1] = 0x05;
  at[site_off + 2] = 0xc3;
  std::memset(at + site_off + 3, 0xcc, 64 - site_off - 3);
  return reinterpret_cast<RawFn>(at);
}

struct RawFns {
  RawFn rewritable = nullptr, trapping = nullptr;
  RawFns() {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    auto* b = static_cast<unsigned char*>(p);
    rewritable = build_raw(b, 24);     // 24 % 8 == 0; filler 27..32
    trapping = build_raw(b + 64, 31);  // 31 % 8 == 7: never rewritten
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
  }
};

const RawFns& raw() {
  static RawFns fns;
  return fns;
}

using EnterFn = long (*)(int fd, unsigned submit, unsigned wait, unsigned flags);

long enter_rewritable(int fd, unsigned s, unsigned w, unsigned f) {
  return raw().rewritable(__NR_io_uring_enter, fd, s, w, f, 0, 0);
}
long enter_trapping(int fd, unsigned s, unsigned w, unsigned f) {
  return raw().trapping(__NR_io_uring_enter, fd, s, w, f, 0, 0);
}
long enter_direct(int fd, unsigned s, unsigned w, unsigned f) {
  return iostack_io_uring_enter(fd, s, w, f, nullptr, 0);
}

// One ring, NOPs only; set up through the shim (inline calls) or directly.
struct Ring {
  int fd = -1;
  io_uring_params p{};
  char* rings = nullptr;
  io_uring_sqe* sqes = nullptr;

  explicit Ring(bool direct) {
    if (direct) {
      fd = iostack_io_uring_setup(8, &p);
    } else {
      fd = static_cast<int>(
          raw().rewritable(__NR_io_uring_setup, 8, reinterpret_cast<long>(&p), 0, 0, 0, 0));
    }
    if (fd < 0) return;
    const size_t len =
        std::max(p.sq_off.array + p.sq_entries * 4, p.cq_off.cqes + p.cq_entries * 16);
    rings = static_cast<char*>(map(direct, IORING_OFF_SQ_RING, len));
    sqes = static_cast<io_uring_sqe*>(map(direct, IORING_OFF_SQES, p.sq_entries * 64));
    auto* array = reinterpret_cast<uint32_t*>(rings + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; ++i) array[i] = i;
  }
  void* map(bool direct, off_t off, size_t len) const {
    if (direct) {
      void* m = iostack_io_uring_mmap(fd, off, len);
      return IOSTACK_URING_IS_ERR(m) ? nullptr : m;
    }
    const long m = raw().rewritable(__NR_mmap, 0, static_cast<long>(len), PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_POPULATE, fd, off);
    return m < 0 && m > -4096 ? nullptr : reinterpret_cast<void*>(m);
  }
  bool ok() const { return fd >= 0 && rings && sqes; }

  // Queues a NOP, enters with submit 1 / wait 1, reaps the CQE.
  bool nop(EnterFn enter) {
    auto* tail = reinterpret_cast<uint32_t*>(rings + p.sq_off.tail);
    const uint32_t t = *tail;
    io_uring_sqe* s = &sqes[t & (p.sq_entries - 1)];
    std::memset(s, 0, sizeof(*s));
    s->opcode = IORING_OP_NOP;
    std::atomic_ref<uint32_t>(*tail).store(t + 1, std::memory_order_release);
    if (enter(fd, 1, 1, IORING_ENTER_GETEVENTS) != 1) return false;
    auto* head = reinterpret_cast<uint32_t*>(rings + p.cq_off.head);
    const auto* cqes = reinterpret_cast<io_uring_cqe*>(rings + p.cq_off.cqes);
    const uint32_t h = *head;
    const bool good = cqes[h & (p.cq_entries - 1)].res == 0;
    std::atomic_ref<uint32_t>(*head).store(h + 1, std::memory_order_release);
    return good;
  }
};

void enter_empty(benchmark::State& state, EnterFn enter, bool direct) {
  Ring ring(direct);
  if (!ring.ok()) return state.SkipWithError("ring setup failed");
  for (auto _ : state)
    if (enter(ring.fd, 0, 0, 0) != 0) return state.SkipWithError("enter failed");
}

void nop_round_trip(benchmark::State& state, EnterFn enter, bool direct) {
  Ring ring(direct);
  if (!ring.ok()) return state.SkipWithError("ring setup failed");
  for (auto _ : state)
    if (!ring.nop(enter)) return state.SkipWithError("NOP failed");
}

void getppid_via(benchmark::State& state, RawFn fn) {
  const long want = getppid();
  for (auto _ : state)
    if (fn(__NR_getppid, 0, 0, 0, 0, 0, 0) != want) return state.SkipWithError("getppid");
}

}  // namespace

int main(int argc, char** argv) {
  const char* pre = std::getenv("LD_PRELOAD");
  const bool shim = pre && std::strstr(pre, "iostack_preload");
  const std::string trapped = shim ? "Trapped" : "Kernel";
  const std::string rewritten = shim ? "Rewritten" : "KernelToo";
  benchmark::RegisterBenchmark(("EnterEmpty/" + trapped).c_str(), enter_empty, enter_trapping,
                               false);
  benchmark::RegisterBenchmark(("EnterEmpty/" + rewritten).c_str(), enter_empty, enter_rewritable,
                               false);
  benchmark::RegisterBenchmark("EnterEmpty/DirectCall", enter_empty, enter_direct, true);
  benchmark::RegisterBenchmark(("NopQD1/" + trapped).c_str(), nop_round_trip, enter_trapping,
                               false);
  benchmark::RegisterBenchmark(("NopQD1/" + rewritten).c_str(), nop_round_trip, enter_rewritable,
                               false);
  benchmark::RegisterBenchmark("NopQD1/DirectCall", nop_round_trip, enter_direct, true);
  // A system call the shim does not serve, from a rewritten site: the
  // trampoline's pass-through, against the same call from libc.
  benchmark::RegisterBenchmark("Getppid/RewrittenSite", getppid_via, raw().rewritable);
  benchmark::RegisterBenchmark("Getppid/Libc", [](benchmark::State& s) {
    for (auto _ : s) benchmark::DoNotOptimize(getppid());
  });
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
