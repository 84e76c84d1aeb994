// kyber under real concurrency: several submitting threads and a driver that
// completes on its own thread, on the real clock. Every bio ends, data reads
// back, and no token is left behind.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "dev/device.hpp"
#include "sched/kyber.hpp"

namespace iostack::sched::test {
namespace {

struct Pending {
  std::atomic<int> left{0};
  std::atomic<int> errors{0};
};

void end_io(block::Bio* bio) {
  auto* p = static_cast<Pending*>(bio->bi_private);
  if (bio->bi_status != block::BlkStatus::OK) p->errors.fetch_add(1);
  block::bio_put(bio);
  p->left.fetch_sub(1, std::memory_order_release);
}

void submit(dev::BlockDevice& d, std::uint32_t opf, block::sector_t sector, char* data,
            std::uint32_t bytes, Pending* p) {
  block::Bio* bio = block::bio_alloc(d.disk(), 1, opf);
  bio->bi_iter.bi_sector = sector;
  if (data)
    block::bio_add_vec(bio, data, bytes);
  else
    bio->bi_iter.bi_size = bytes;
  bio->bi_end_io = end_io;
  bio->bi_private = p;
  p->left.fetch_add(1, std::memory_order_relaxed);
  block::submit_bio(bio);
}

void wait_all(const Pending& p) {
  while (p.left.load(std::memory_order_acquire) > 0) std::this_thread::yield();
}

TEST(KyberThreadsTest, ConcurrentMixedIoThroughTokenWaits) {
  std::string err;
  // A deep device queue and a completion thread: the write domain runs out
  // of tokens and is woken from the completion side while others submit.
  auto dev = dev::create_device(
      "null:64M,irqmode=softirq,memory_backed=1,discard=1,hw_queues=2,queue_depth=256", nullptr,
      &err);
  ASSERT_TRUE(dev) << err;
  ASSERT_EQ(dev->queue()->attr_store("scheduler", "kyber"), 0);
  auto* ky = dynamic_cast<Kyber*>(dev->queue()->elevator());
  ASSERT_NE(ky, nullptr);

  constexpr unsigned kThreads = 4;
  constexpr unsigned kIos = 1500;
  constexpr std::uint32_t kBytes = 4096;
  constexpr block::sector_t kRegion = 8192;  // sectors per thread (4 MiB)
  std::vector<std::vector<char>> data(kThreads, std::vector<char>(kRegion * 512));
  std::vector<std::vector<char>> back(kThreads, std::vector<char>(kRegion * 512));
  Pending p;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const block::sector_t base = t * kRegion;
      char* buf = data[t].data();
      for (std::size_t i = 0; i < data[t].size(); ++i) buf[i] = static_cast<char>(i * 7 + t);
      // Fill the region first; later writes rewrite the same bytes.
      for (block::sector_t s = 0; s < kRegion; s += 8)
        submit(*dev, block::REQ_OP_WRITE, base + s, buf + s * 512, kBytes, &p);
      for (unsigned i = 0; i < kIos; ++i) {
        const block::sector_t slot = (i * 37) % (kRegion / 8) * 8;
        switch (i % 5) {
          case 0:
          case 1:
            submit(*dev, block::REQ_OP_WRITE | (i % 2 ? block::REQ_SYNC : 0), base + slot,
                   buf + slot * 512, kBytes, &p);
            break;
          case 2:
          case 3:
            submit(*dev, block::REQ_OP_READ, base + slot, back[t].data() + slot * 512, kBytes, &p);
            break;
          default:
            // Discards go to a region nobody reads back.
            submit(*dev, block::REQ_OP_DISCARD, kThreads * kRegion + t * 64 + i % 8 * 8, nullptr,
                   kBytes, &p);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  wait_all(p);
  EXPECT_EQ(p.errors.load(), 0);

  // Read everything back once all is written.
  for (unsigned t = 0; t < kThreads; ++t) {
    for (block::sector_t s = 0; s < kRegion; s += 8)
      submit(*dev, block::REQ_OP_READ, t * kRegion + s, back[t].data() + s * 512, kBytes, &p);
  }
  wait_all(p);
  EXPECT_EQ(p.errors.load(), 0);
  for (unsigned t = 0; t < kThreads; ++t)
    EXPECT_EQ(0, std::memcmp(data[t].data(), back[t].data(), data[t].size())) << "thread " << t;
  for (unsigned d = 0; d < kKyberNumDomains; ++d)
    EXPECT_EQ(ky->domain_busy(static_cast<KyberDomain>(d)), 0u) << kyber_domain_name(d);
}

}  // namespace
}  // namespace iostack::sched::test
