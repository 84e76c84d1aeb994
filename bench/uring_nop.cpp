// io_uring round trips, kernel beside iostack in the same run: NOPs at batch
// 1 and 32, and 4 KiB random reads of a page-cached file at queue depth 32,
// as READ and as READV of 1 and of 16 segments (whose iovec arrays are
// copied in at submission).
// After the runs, the iostack/kernel ratio of each pair is printed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "iostack/uring.h"

namespace {

struct Api {
  int (*setup)(unsigned, io_uring_params*);
  int (*enter)(int, unsigned, unsigned, unsigned, const void*, size_t);
  void* (*map)(int, off_t, size_t);
  int (*close)(int);
};

int k_setup(unsigned e, io_uring_params* p) {
  long r = syscall(__NR_io_uring_setup, e, p);
  return r < 0 ? -errno : static_cast<int>(r);
}
int k_enter(int fd, unsigned s, unsigned m, unsigned f, const void* a, size_t z) {
  long r = syscall(__NR_io_uring_enter, fd, s, m, f, a, z);
  return r < 0 ? -errno : static_cast<int>(r);
}
void* k_map(int fd, off_t off, size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);
  return p == MAP_FAILED ? nullptr : p;
}
int k_close(int fd) { return ::close(fd); }
void* i_map(int fd, off_t off, size_t len) {
  void* p = iostack_io_uring_mmap(fd, off, len);
  return IOSTACK_URING_IS_ERR(p) ? nullptr : p;
}

const Api kKernel{k_setup, k_enter, k_map, k_close};
const Api kIostack{iostack_io_uring_setup, iostack_io_uring_enter, i_map, iostack_io_uring_close};

// The minimum of liburing: one mapping, SQEs, submit-and-wait, CQ reaping.
class MiniRing {
 public:
  MiniRing(const Api& api, unsigned entries) : api_(api) {
    io_uring_params p{};
    fd_ = api.setup(entries, &p);
    if (fd_ < 0) return;
    p_ = p;
    sz_ = std::max(p.sq_off.array + p.sq_entries * 4u, p.cq_off.cqes + p.cq_entries * 16u);
    ring_ = static_cast<char*>(api.map(fd_, IORING_OFF_SQ_RING, sz_));
    sqes_ = static_cast<io_uring_sqe*>(api.map(fd_, IORING_OFF_SQES, p.sq_entries * 64));
    sq_tail_ = reinterpret_cast<std::uint32_t*>(ring_ + p.sq_off.tail);
    cq_head_ = reinterpret_cast<std::uint32_t*>(ring_ + p.cq_off.head);
    cq_tail_ = reinterpret_cast<std::uint32_t*>(ring_ + p.cq_off.tail);
    array_ = reinterpret_cast<std::uint32_t*>(ring_ + p.sq_off.array);
    cqes_ = reinterpret_cast<io_uring_cqe*>(ring_ + p.cq_off.cqes);
    for (unsigned i = 0; i < p.sq_entries; ++i) array_[i] = i;
  }
  ~MiniRing() {
    if (ring_) munmap(ring_, sz_);
    if (sqes_) munmap(sqes_, p_.sq_entries * 64);
    if (fd_ >= 0) api_.close(fd_);
  }
  bool ok() const { return fd_ >= 0 && ring_ && sqes_; }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = &sqes_[tail_ & (p_.sq_entries - 1)];
    tail_++;
    std::memset(s, 0, sizeof(*s));
    return s;
  }
  int submit_wait(unsigned n, unsigned wait) {
    std::atomic_ref<std::uint32_t>(*sq_tail_).store(tail_, std::memory_order_release);
    return api_.enter(fd_, n, wait, IORING_ENTER_GETEVENTS, nullptr, 0);
  }
  // Reaps all ready CQEs; returns how many and checks their results.
  unsigned reap(int expect, bool* bad) {
    std::uint32_t head = *cq_head_;
    const std::uint32_t tail =
        std::atomic_ref<std::uint32_t>(*cq_tail_).load(std::memory_order_acquire);
    unsigned n = 0;
    for (; head != tail; ++head, ++n)
      if (cqes_[head & (p_.cq_entries - 1)].res != expect) *bad = true;
    std::atomic_ref<std::uint32_t>(*cq_head_).store(head, std::memory_order_release);
    return n;
  }

 private:
  const Api& api_;
  int fd_ = -1;
  io_uring_params p_{};
  std::size_t sz_ = 0;
  char* ring_ = nullptr;
  io_uring_sqe* sqes_ = nullptr;
  std::uint32_t *sq_tail_ = nullptr, *cq_head_ = nullptr, *cq_tail_ = nullptr, *array_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  std::uint32_t tail_ = 0;
};

void nop_round_trips(benchmark::State& state, const Api& api) {
  const unsigned batch = static_cast<unsigned>(state.range(0));
  MiniRing ring(api, 64);
  if (!ring.ok()) {
    state.SkipWithError("io_uring_setup failed");
    return;
  }
  bool bad = false;
  for (auto _ : state) {
    for (unsigned i = 0; i < batch; ++i) ring.sqe()->opcode = IORING_OP_NOP;
    ring.submit_wait(batch, batch);
    unsigned got = ring.reap(0, &bad);
    while (got < batch) {
      ring.submit_wait(0, 1);
      got += ring.reap(0, &bad);
    }
  }
  if (bad) state.SkipWithError("a NOP failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * batch);
}

struct CachedFile {
  static constexpr std::size_t kSize = 64 << 20;
  int fd = -1;
  CachedFile() {
    char path[] = "/tmp/iostack-bench-XXXXXX";
    fd = mkstemp(path);
    unlink(path);
    std::string chunk(1 << 20, 'x');
    for (std::size_t off = 0; off < kSize; off += chunk.size())
      if (write(fd, chunk.data(), chunk.size()) < 0) break;
    std::string sink(1 << 20, 0);
    for (std::size_t off = 0; off < kSize; off += sink.size())
      if (pread(fd, sink.data(), sink.size(), static_cast<off_t>(off)) < 0) break;
  }
  ~CachedFile() { ::close(fd); }
};

// 4 KiB random reads at queue depth 32: READ when `nvec` is 0, else READV
// of `nvec` equal segments.
void random_reads(benchmark::State& state, const Api& api, unsigned nvec) {
  static CachedFile file;
  constexpr unsigned kQd = 32;
  MiniRing ring(api, kQd);
  if (!ring.ok()) {
    state.SkipWithError("io_uring_setup failed");
    return;
  }
  static char bufs[kQd][4096] __attribute__((aligned(4096)));
  static struct iovec iovs[kQd][16];
  for (unsigned i = 0; i < kQd; ++i)
    for (unsigned v = 0; v < nvec; ++v) iovs[i][v] = {bufs[i] + v * (4096 / nvec), 4096 / nvec};
  std::mt19937_64 rng(42);
  const std::uint64_t blocks = CachedFile::kSize / 4096;
  bool bad = false;
  unsigned inflight = 0;
  unsigned next = 0;
  auto queue = [&](unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      io_uring_sqe* s = ring.sqe();
      const unsigned slot = next++ % kQd;
      s->opcode = nvec ? IORING_OP_READV : IORING_OP_READ;
      s->fd = file.fd;
      if (nvec) {
        s->addr = reinterpret_cast<std::uintptr_t>(iovs[slot]);
        s->len = nvec;
      } else {
        s->addr = reinterpret_cast<std::uintptr_t>(bufs[slot]);
        s->len = 4096;
      }
      s->off = (rng() % blocks) * 4096;
    }
  };
  queue(kQd);
  ring.submit_wait(kQd, 0);
  inflight = kQd;
  std::int64_t done = 0;
  for (auto _ : state) {
    ring.submit_wait(0, 1);
    const unsigned got = ring.reap(4096, &bad);
    inflight -= got;
    done += got;
    queue(got);
    ring.submit_wait(got, 0);
    inflight += got;
  }
  while (inflight) {
    ring.submit_wait(0, 1);
    inflight -= ring.reap(4096, &bad);
  }
  if (bad) state.SkipWithError("a read failed");
  state.SetItemsProcessed(done);
}

// Engine cost of READV alone: 32 reads of 8 KiB per round trip from an
// iostack null_blk device, which completes inline and copies no data; the
// iovec arrays (`nvec` segments each) are imported at submission.
void BM_ReadvNullDevice(benchmark::State& state) {
  const unsigned nvec = static_cast<unsigned>(state.range(0));
  constexpr unsigned kBatch = 32;
  std::string err;
  auto dev = iostack::dev::create_device("null:1G,irqmode=none", nullptr, &err);
  if (!dev) {
    state.SkipWithError(err.c_str());
    return;
  }
  const int fd = iostack::block::bdev_file_open(dev->disk(), O_RDWR | O_DIRECT);
  static char buf[8192] __attribute__((aligned(4096)));
  struct iovec iov[16];
  for (unsigned v = 0; v < nvec; ++v) iov[v] = {buf + v * (8192 / nvec), 8192 / nvec};
  {
    MiniRing ring(kIostack, 64);
    bool bad = false;
    std::uint64_t off = 0;
    for (auto _ : state) {
      for (unsigned i = 0; i < kBatch; ++i) {
        io_uring_sqe* s = ring.sqe();
        s->opcode = IORING_OP_READV;
        s->fd = fd;
        s->addr = reinterpret_cast<std::uintptr_t>(iov);
        s->len = nvec;
        s->off = off;
        off = (off + 8192) % (1 << 30);
      }
      ring.submit_wait(kBatch, kBatch);
      unsigned got = ring.reap(8192, &bad);
      while (got < kBatch) {
        ring.submit_wait(0, 1);
        got += ring.reap(8192, &bad);
      }
    }
    if (bad) state.SkipWithError("a READV failed");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch);
  }
  iostack::block::bdev_file_close(fd);
}
BENCHMARK(BM_ReadvNullDevice)->Arg(1)->Arg(16);

void BM_Nop_Kernel(benchmark::State& s) { nop_round_trips(s, kKernel); }
void BM_Nop_Iostack(benchmark::State& s) { nop_round_trips(s, kIostack); }
void BM_RandRead4k_QD32_Kernel(benchmark::State& s) { random_reads(s, kKernel, 0); }
void BM_RandRead4k_QD32_Iostack(benchmark::State& s) { random_reads(s, kIostack, 0); }
void BM_RandReadv4k_QD32_Kernel(benchmark::State& s) {
  random_reads(s, kKernel, static_cast<unsigned>(s.range(0)));
}
void BM_RandReadv4k_QD32_Iostack(benchmark::State& s) {
  random_reads(s, kIostack, static_cast<unsigned>(s.range(0)));
}

BENCHMARK(BM_Nop_Kernel)->Arg(1)->Arg(32);
BENCHMARK(BM_Nop_Iostack)->Arg(1)->Arg(32);
BENCHMARK(BM_RandRead4k_QD32_Kernel);
BENCHMARK(BM_RandRead4k_QD32_Iostack);
BENCHMARK(BM_RandReadv4k_QD32_Kernel)->Arg(1)->Arg(16);
BENCHMARK(BM_RandReadv4k_QD32_Iostack)->Arg(1)->Arg(16);

// Prints iostack/kernel for each pair once everything ran.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates_[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& [name, rate] : rates_) {
      const auto pos = name.find("_Iostack");
      if (pos == std::string::npos) continue;
      std::string kname = name;
      kname.replace(pos, 8, "_Kernel");
      auto k = rates_.find(kname);
      if (k == rates_.end() || k->second <= 0) continue;
      std::printf("%-32s iostack %.2fM/s  kernel %.2fM/s  ratio %.2fx\n", name.c_str(), rate / 1e6,
                  k->second / 1e6, rate / k->second);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
