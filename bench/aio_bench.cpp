// Linux AIO on iostack beside the kernel's, in the same run:
//  - 4 KiB random O_DIRECT reads of a file at queue depth 32 (IOPS);
//  - submit + reap of 4 KiB reads, one at a time and 32 per call, on an
//    iostack ram device (ns per I/O), with the kernel's AIO on a tmpfs file
//    (buffered, served from memory) as the nearest kernel counterpart.
// Set IOSTACK_BENCH_DIR to a directory on a real file system (default
// /var/tmp) for the O_DIRECT file.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "iostack/aio.h"

namespace {

struct Api {
  long (*setup)(unsigned, aio_context_t*);
  long (*destroy)(aio_context_t);
  long (*submit)(aio_context_t, long, struct iocb**);
  long (*getevents)(aio_context_t, long, long, struct io_event*, struct timespec*);
};

long ret(long r) { return r < 0 ? -errno : r; }

const Api kKernel = {
    [](unsigned n, aio_context_t* c) { return ret(syscall(SYS_io_setup, n, c)); },
    [](aio_context_t c) { return ret(syscall(SYS_io_destroy, c)); },
    [](aio_context_t c, long n, struct iocb** p) { return ret(syscall(SYS_io_submit, c, n, p)); },
    [](aio_context_t c, long mn, long n, struct io_event* e, struct timespec* t) {
      return ret(syscall(SYS_io_getevents, c, mn, n, e, t));
    },
};
const Api kIostack = {
    [](unsigned n, aio_context_t* c) { return static_cast<long>(iostack_io_setup(n, c)); },
    [](aio_context_t c) { return static_cast<long>(iostack_io_destroy(c)); },
    [](aio_context_t c, long n, struct iocb** p) { return iostack_io_submit(c, n, p); },
    [](aio_context_t c, long mn, long n, struct io_event* e, struct timespec* t) {
      return iostack_io_getevents(c, mn, n, e, t);
    },
};

constexpr std::size_t kBlock = 4096;
constexpr std::uint64_t kFileSize = 256ull << 20;
constexpr int kDepth = 32;

// A 256 MiB file, written once per run.
const std::string& data_file() {
  static const std::string path = [] {
    const char* dir = std::getenv("IOSTACK_BENCH_DIR");
    std::string p = std::string(dir != nullptr ? dir : "/var/tmp") + "/iostack-aio-bench.dat";
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT, 0644);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < kFileSize) {
      std::vector<char> chunk(1 << 20, 'x');
      for (std::uint64_t off = 0; off < kFileSize; off += chunk.size()) {
        if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) < 0) break;
      }
      ::fsync(fd);
    }
    if (fd >= 0) ::close(fd);
    return p;
  }();
  return path;
}

struct Buffers {
  void* mem = nullptr;
  explicit Buffers(std::size_t n) {
    if (::posix_memalign(&mem, 4096, n * kBlock) != 0) mem = nullptr;
  }
  ~Buffers() { std::free(mem); }
  char* at(std::size_t i) const { return static_cast<char*>(mem) + i * kBlock; }
};

// Keeps `depth` random 4 KiB reads in flight; one iteration = one reap.
void run_random_reads(benchmark::State& state, const Api& api, int fd, std::uint64_t size,
                      int depth) {
  aio_context_t ctx = 0;
  if (api.setup(static_cast<unsigned>(depth) * 2, &ctx) != 0) {
    state.SkipWithError("io_setup failed");
    return;
  }
  Buffers bufs(static_cast<std::size_t>(depth));
  std::vector<struct iocb> cbs(static_cast<std::size_t>(depth));
  std::vector<struct iocb*> ready;
  std::mt19937_64 rng(42);
  const std::uint64_t blocks = size / kBlock;
  auto prep = [&](struct iocb* cb) {
    const std::size_t slot = static_cast<std::size_t>(cb - cbs.data());
    std::memset(cb, 0, sizeof(*cb));
    cb->aio_fildes = static_cast<std::uint32_t>(fd);
    cb->aio_lio_opcode = IOCB_CMD_PREAD;
    cb->aio_buf = reinterpret_cast<std::uintptr_t>(bufs.at(slot));
    cb->aio_nbytes = kBlock;
    cb->aio_offset = static_cast<std::int64_t>((rng() % blocks) * kBlock);
    cb->aio_data = slot;
  };
  for (auto& cb : cbs) {
    prep(&cb);
    ready.push_back(&cb);
  }
  if (api.submit(ctx, depth, ready.data()) != depth) {
    state.SkipWithError("io_submit failed");
    api.destroy(ctx);
    return;
  }
  std::vector<struct io_event> ev(static_cast<std::size_t>(depth));
  std::int64_t done = 0;
  for (auto _ : state) {
    const long n = api.getevents(ctx, 1, depth, ev.data(), nullptr);
    if (n <= 0) {
      state.SkipWithError("io_getevents failed");
      break;
    }
    ready.clear();
    for (long i = 0; i < n; ++i) {
      if (ev[static_cast<std::size_t>(i)].res != static_cast<long long>(kBlock)) {
        state.SkipWithError("short read");
      }
      struct iocb* cb = &cbs[ev[static_cast<std::size_t>(i)].data];
      prep(cb);
      ready.push_back(cb);
    }
    done += n;
    api.submit(ctx, n, ready.data());
  }
  // Drain what is still in flight.
  long left = depth;
  while (left > 0) {
    const long n = api.getevents(ctx, 1, depth, ev.data(), nullptr);
    if (n <= 0) break;
    left -= n;
  }
  api.destroy(ctx);
  state.SetItemsProcessed(done);
  state.counters["IOPS"] =
      benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
}

void BM_DirectRandRead4k_QD32(benchmark::State& state, const Api* api) {
  const int fd = ::open(data_file().c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) {
    state.SkipWithError("no O_DIRECT file (set IOSTACK_BENCH_DIR)");
    return;
  }
  run_random_reads(state, *api, fd, kFileSize, kDepth);
  ::close(fd);
}
BENCHMARK_CAPTURE(BM_DirectRandRead4k_QD32, kernel, &kKernel)->UseRealTime()->MinTime(3);
BENCHMARK_CAPTURE(BM_DirectRandRead4k_QD32, iostack, &kIostack)->UseRealTime()->MinTime(3);

// Submit `batch` reads, reap them all; reports time per I/O.
void submit_reap(benchmark::State& state, const Api& api, int fd, std::uint64_t size, int batch) {
  aio_context_t ctx = 0;
  if (api.setup(64, &ctx) != 0) {
    state.SkipWithError("io_setup failed");
    return;
  }
  Buffers bufs(static_cast<std::size_t>(batch));
  std::vector<struct iocb> cbs(static_cast<std::size_t>(batch));
  std::vector<struct iocb*> ptrs;
  for (auto& cb : cbs) ptrs.push_back(&cb);
  std::vector<struct io_event> ev(static_cast<std::size_t>(batch));
  std::uint64_t off = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      struct iocb& cb = cbs[static_cast<std::size_t>(i)];
      std::memset(&cb, 0, sizeof(cb));
      cb.aio_fildes = static_cast<std::uint32_t>(fd);
      cb.aio_lio_opcode = IOCB_CMD_PREAD;
      cb.aio_buf = reinterpret_cast<std::uintptr_t>(bufs.at(static_cast<std::size_t>(i)));
      cb.aio_nbytes = kBlock;
      cb.aio_offset = static_cast<std::int64_t>(off);
      off = (off + 64 * kBlock + kBlock) % (size - kBlock);
      off -= off % kBlock;
    }
    if (api.submit(ctx, batch, ptrs.data()) != batch) {
      state.SkipWithError("io_submit failed");
      break;
    }
    long got = 0;
    while (got < batch) {
      const long n = api.getevents(ctx, batch - got, batch - got, ev.data(), nullptr);
      if (n <= 0) break;
      got += n;
    }
  }
  api.destroy(ctx);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * batch);
  state.counters["ns_per_io"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SubmitReap4k_IostackRamDevice(benchmark::State& state) {
  std::string err;
  auto dev = iostack::dev::create_device("ram:64M", nullptr, &err);
  if (dev == nullptr) {
    state.SkipWithError(err.c_str());
    return;
  }
  const int fd = iostack::block::bdev_file_open(dev->disk(), O_RDWR | O_DIRECT);
  // Touch every page once so reads find allocated memory.
  {
    Buffers b(1);
    std::memset(b.at(0), 1, kBlock);
    aio_context_t ctx = 0;
    iostack_io_setup(8, &ctx);
    for (std::uint64_t off = 0; off < (64ull << 20); off += kBlock) {
      struct iocb cb {};
      cb.aio_fildes = static_cast<std::uint32_t>(fd);
      cb.aio_lio_opcode = IOCB_CMD_PWRITE;
      cb.aio_buf = reinterpret_cast<std::uintptr_t>(b.at(0));
      cb.aio_nbytes = kBlock;
      cb.aio_offset = static_cast<std::int64_t>(off);
      struct iocb* p = &cb;
      struct io_event e;
      iostack_io_submit(ctx, 1, &p);
      iostack_io_getevents(ctx, 1, 1, &e, nullptr);
    }
    iostack_io_destroy(ctx);
  }
  submit_reap(state, kIostack, fd, 64ull << 20, static_cast<int>(state.range(0)));
  iostack::block::bdev_file_close(fd);
}
BENCHMARK(BM_SubmitReap4k_IostackRamDevice)->Arg(1)->Arg(32);

void BM_SubmitReap4k_TmpfsFile(benchmark::State& state, const Api* api) {
  char path[] = "/dev/shm/iostack-aio-bench-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    state.SkipWithError("no /dev/shm");
    return;
  }
  std::vector<char> chunk(1 << 20, 'y');
  for (int i = 0; i < 64; ++i) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) break;
  }
  submit_reap(state, *api, fd, 64ull << 20, static_cast<int>(state.range(0)));
  ::close(fd);
  ::unlink(path);
}
BENCHMARK_CAPTURE(BM_SubmitReap4k_TmpfsFile, kernel, &kKernel)->Arg(1)->Arg(32);
BENCHMARK_CAPTURE(BM_SubmitReap4k_TmpfsFile, iostack, &kIostack)->Arg(1)->Arg(32);

}  // namespace

BENCHMARK_MAIN();
