// Block layer cost: nanoseconds per 4 KiB I/O from submit_bio to completion
// on a null device that completes inline (null_blk irqmode=0), with no
// scheduler and with mq-deadline; and IOPS with two submitting threads.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <string>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "dev/device.hpp"

namespace {

using namespace iostack;

std::unique_ptr<dev::BlockDevice> make_null(const char* sched, const char* extra = "") {
  std::string err;
  auto d =
      dev::create_device(std::string("null:4G,irqmode=none,queue_depth=64") + extra, nullptr, &err);
  if (!d || d->queue()->attr_store("scheduler", sched) != 0) std::abort();
  return d;
}

void count_end_io(block::Bio* bio) {
  static_cast<std::atomic<std::uint64_t>*>(bio->bi_private)
      ->fetch_add(1, std::memory_order_relaxed);
}

// One 4 KiB read per iteration at a random-looking offset.
void run(benchmark::State& state, block::Disk* disk, std::uint32_t op) {
  alignas(4096) static thread_local char buf[4096];
  std::atomic<std::uint64_t> done{0};
  block::Bio bio;
  std::uint64_t i = 0;
  const block::sector_t sectors = disk->capacity() - 8;
  for (auto _ : state) {
    block::bio_init(&bio, disk, bio.bi_inline_vecs, block::kBioInlineVecs, op);
    block::bio_add_vec(&bio, buf, 4096);
    bio.bi_iter.bi_sector = ((i++ * 2654435761u) % sectors) & ~block::sector_t{7};
    bio.bi_end_io = count_end_io;
    bio.bi_private = &done;
    block::submit_bio(&bio);
    // With several submitters another thread may be the one dispatching
    // (and so completing) this bio: wait for it before reusing it.
    while (done.load(std::memory_order_acquire) != i) {
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SubmitBio_None(benchmark::State& state) {
  static auto d = make_null("none");
  run(state, d->disk(), block::REQ_OP_READ);
}
void BM_SubmitBio_MqDeadline(benchmark::State& state) {
  static auto d = make_null("mq-deadline");
  run(state, d->disk(), block::REQ_OP_READ);
}
void BM_SubmitBio_None_TwoThreads(benchmark::State& state) {
  static auto d = make_null("none", ",hw_queues=2");
  run(state, d->disk(), block::REQ_OP_READ);
}
void BM_SubmitBio_MqDeadline_TwoThreads(benchmark::State& state) {
  static auto d = make_null("mq-deadline");
  run(state, d->disk(), block::REQ_OP_READ);
}
// The device of the no-scheduler two-thread line: one scheduler for both
// hardware queues (as in the kernel), tags per queue.
void BM_SubmitBio_MqDeadline_TwoThreads_TwoQueues(benchmark::State& state) {
  static auto d = make_null("mq-deadline", ",hw_queues=2");
  run(state, d->disk(), block::REQ_OP_READ);
}

BENCHMARK(BM_SubmitBio_None)->MinTime(1.0);
BENCHMARK(BM_SubmitBio_MqDeadline)->MinTime(1.0);
BENCHMARK(BM_SubmitBio_None_TwoThreads)->Threads(2)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_SubmitBio_MqDeadline_TwoThreads)->Threads(2)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_SubmitBio_MqDeadline_TwoThreads_TwoQueues)->Threads(2)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
