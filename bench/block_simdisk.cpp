// Simulated disks in virtual time: how many simulated I/Os per second of
// wall-clock time the block layer (mq-deadline) and the hdd:/ssd: models
// sustain, with 32 random 4 KiB I/Os (within the first GiB) kept in flight
// on a VirtualClock. The data stores take their memory from a process-wide
// pool of chunks: by default it already holds the GiB a run writes (memory
// the process has, as for a device made after another); the _FreshMemory
// runs empty it first, so that every first write of a page also pays the
// kernel's fault for fresh memory.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "core/virtual_clock.hpp"
#include "dev/chunk_pool.hpp"
#include "dev/device.hpp"

namespace {

using namespace iostack;

constexpr unsigned kDepth = 32;
constexpr std::size_t kSpan = std::size_t{1} << 30;  // bytes the I/Os land in

struct Rig {
  core::VirtualClock clock{0};
  std::unique_ptr<dev::BlockDevice> dev;
  std::vector<block::Bio> bios{kDepth};
  std::vector<block::Bio*> done;
  std::vector<char> buf = std::vector<char>(4096);
  std::uint64_t seq = 0;
};

void end_io(block::Bio* bio) { static_cast<Rig*>(bio->bi_private)->done.push_back(bio); }

void submit(Rig& r, block::Bio* bio, std::uint32_t op) {
  block::bio_init(bio, r.dev->disk(), bio->bi_inline_vecs, block::kBioInlineVecs, op);
  block::bio_add_vec(bio, r.buf.data(), 4096);
  // Over the first GiB only, so that the data store's pages get reused and
  // allocating memory does not dominate.
  const block::sector_t sectors =
      std::min<block::sector_t>(r.dev->disk()->capacity(), kSpan >> 9) - 8;
  bio->bi_iter.bi_sector = ((++r.seq * 2654435761u) % sectors) & ~block::sector_t{7};
  bio->bi_end_io = end_io;
  bio->bi_private = &r;
  block::submit_bio(bio);
}

enum class Memory { kPooled, kFresh };

void run(benchmark::State& state, const char* spec, std::uint32_t op, bool prefill = false,
         Memory mem = Memory::kPooled) {
  if (mem == Memory::kFresh) {
    dev::ChunkPool::instance().trim();
  } else {
    dev::ChunkPool::instance().reserve(kSpan);
  }
  Rig r;
  std::string err;
  r.dev = dev::create_device(spec, &r.clock, &err);
  if (!r.dev || r.dev->queue()->attr_store("scheduler", "mq-deadline") != 0) std::abort();
  r.done.reserve(kDepth);
  if (prefill) {  // reads of mapped pages reach the flash; writes find their memory
    block::Bio bio;
    for (block::sector_t s = 0; s < (kSpan >> 9); s += 8) {
      block::bio_init(&bio, r.dev->disk(), bio.bi_inline_vecs, block::kBioInlineVecs,
                      block::REQ_OP_WRITE);
      block::bio_add_vec(&bio, r.buf.data(), 4096);
      bio.bi_iter.bi_sector = s;
      if (block::submit_bio_wait(&bio) != 0) std::abort();
    }
    r.clock.run_until_idle();  // the write-back too
  }
  const core::Nanos t0 = r.clock.now();
  for (auto& b : r.bios) submit(r, &b, op);
  for (auto _ : state) {
    while (r.done.empty()) r.clock.run_one();
    block::Bio* b = r.done.back();
    r.done.pop_back();
    submit(r, b, op);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["virtual_us_per_io"] =
      static_cast<double>(r.clock.now() - t0) / 1000.0 / static_cast<double>(state.iterations());
  r.clock.run_until_idle();
}

void BM_Hdd_RandRead(benchmark::State& s) { run(s, "hdd:1T", block::REQ_OP_READ); }
void BM_Hdd_RandWrite(benchmark::State& s) { run(s, "hdd:1T", block::REQ_OP_WRITE); }
void BM_Ssd_RandRead(benchmark::State& s) { run(s, "ssd:64G", block::REQ_OP_READ, true); }
void BM_Ssd_RandWrite(benchmark::State& s) { run(s, "ssd:16G,op=28", block::REQ_OP_WRITE); }

// Each first write of a page takes memory the kernel faults in (and, in a
// virtual machine, often the host too), as the first device of a process
// does.
void BM_Hdd_RandWrite_FreshMemory(benchmark::State& s) {
  run(s, "hdd:1T", block::REQ_OP_WRITE, false, Memory::kFresh);
}
void BM_Ssd_RandWrite_FreshMemory(benchmark::State& s) {
  run(s, "ssd:16G,op=28", block::REQ_OP_WRITE, false, Memory::kFresh);
}

// The same writes once every page of the first GiB holds data (filled
// before timing): no write is the first of its page. In the benchmarks
// above most writes are, as the device is made anew for each run and a
// run is a few hundred thousand I/Os.
void BM_Hdd_RandWrite_Filled(benchmark::State& s) { run(s, "hdd:1T", block::REQ_OP_WRITE, true); }
void BM_Ssd_RandWrite_Filled(benchmark::State& s) {
  run(s, "ssd:16G,op=28", block::REQ_OP_WRITE, true);
}

BENCHMARK(BM_Hdd_RandRead)->MinTime(1.0);
BENCHMARK(BM_Hdd_RandWrite)->MinTime(1.0);
BENCHMARK(BM_Ssd_RandRead)->MinTime(1.0);
BENCHMARK(BM_Ssd_RandWrite)->MinTime(1.0);
BENCHMARK(BM_Hdd_RandWrite_Filled)->MinTime(1.0);
BENCHMARK(BM_Ssd_RandWrite_Filled)->MinTime(1.0);
BENCHMARK(BM_Hdd_RandWrite_FreshMemory)->MinTime(1.0);
BENCHMARK(BM_Ssd_RandWrite_FreshMemory)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
