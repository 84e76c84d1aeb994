// io_uring round trips, kernel beside iostack in the same run: NOPs at batch
// 1 and 32, and 4 KiB random reads of a page-cached file at queue depth 32,
// as READ and as READV of 1 and of 16 segments (whose iovec arrays are
// copied in at submission).
// After the runs, the iostack/kernel ratio of each pair is printed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "iostack/ring.h"

namespace {

// The same ring client code on both: the system's liburing over the
// kernel, iostack's ring client (iostack/ring.h) over iostack.
struct Api {
  int (*init)(unsigned, io_uring*, unsigned);
  int (*submit_and_wait)(io_uring*, unsigned);
  void (*exit)(io_uring*);
};

const Api kKernel{io_uring_queue_init, io_uring_submit_and_wait, io_uring_queue_exit};
const Api kIostack{iostack_ring_queue_init, iostack_ring_submit_and_wait, iostack_ring_queue_exit};

// A ring of one API: SQEs, submit-and-wait, CQ reaping.
class Ring {
 public:
  Ring(const Api& api, unsigned entries) : api_(api) { ok_ = api.init(entries, &ring_, 0) == 0; }
  ~Ring() {
    if (ok_) api_.exit(&ring_);
  }
  bool ok() const { return ok_; }

  // The ring is sized so that a free SQE is always there.
  io_uring_sqe* sqe() { return io_uring_get_sqe(&ring_); }
  int submit_wait(unsigned wait) { return api_.submit_and_wait(&ring_, wait); }
  // Reaps all ready CQEs; returns how many and checks their results.
  unsigned reap(int expect, bool* bad) {
    unsigned head, n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (cqe->res != expect) *bad = true;
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    return n;
  }

 private:
  const Api& api_;
  io_uring ring_{};
  bool ok_ = false;
};

void nop_round_trips(benchmark::State& state, const Api& api) {
  const unsigned batch = static_cast<unsigned>(state.range(0));
  Ring ring(api, 64);
  if (!ring.ok()) {
    state.SkipWithError("io_uring_setup failed");
    return;
  }
  bool bad = false;
  for (auto _ : state) {
    for (unsigned i = 0; i < batch; ++i) io_uring_prep_nop(ring.sqe());
    ring.submit_wait(batch);
    unsigned got = ring.reap(0, &bad);
    while (got < batch) {
      ring.submit_wait(1);
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
  Ring ring(api, kQd);
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
      const std::uint64_t off = (rng() % blocks) * 4096;
      if (nvec)
        io_uring_prep_readv(s, file.fd, iovs[slot], nvec, off);
      else
        io_uring_prep_read(s, file.fd, bufs[slot], 4096, off);
    }
  };
  queue(kQd);
  ring.submit_wait(0);
  inflight = kQd;
  std::int64_t done = 0;
  for (auto _ : state) {
    ring.submit_wait(1);
    const unsigned got = ring.reap(4096, &bad);
    inflight -= got;
    done += got;
    queue(got);
    ring.submit_wait(0);
    inflight += got;
  }
  while (inflight) {
    ring.submit_wait(1);
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
    Ring ring(kIostack, 64);
    bool bad = false;
    std::uint64_t off = 0;
    for (auto _ : state) {
      for (unsigned i = 0; i < kBatch; ++i) {
        io_uring_sqe* s = ring.sqe();
        io_uring_prep_readv(s, fd, iov, nvec, off);
        off = (off + 8192) % (1 << 30);
      }
      ring.submit_wait(kBatch);
      unsigned got = ring.reap(8192, &bad);
      while (got < kBatch) {
        ring.submit_wait(1);
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
