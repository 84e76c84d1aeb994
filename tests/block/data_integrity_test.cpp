// Data written through the whole stack reads back identical: random sizes
// and offsets, batches under a plug so bios merge, on ram and on a
// memory-backed null device, through each merge path (software queue and
// plug without a scheduler, mq-deadline's and kyber's merges, and no merging
// at all).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/plug.hpp"
#include "core/virtual_clock.hpp"
#include "dev/device.hpp"

namespace iostack::block::test {
namespace {

struct Param {
  const char* spec;
  const char* sched;
  const char* nomerges;
};

class DataIntegrityTest : public ::testing::TestWithParam<Param> {};

struct Pending {
  std::atomic<int> left{0};
  std::atomic<int> errors{0};
};

void end_io(Bio* bio) {
  auto* p = static_cast<Pending*>(bio->bi_private);
  if (bio->bi_status != BlkStatus::OK) p->errors.fetch_add(1);
  bio_put(bio);
  p->left.fetch_sub(1, std::memory_order_release);
}

// Submits one bio over `len` bytes at `off`, its data cut into up to three
// vectors at sector boundaries so segments and pages do not line up.
void submit_rw(dev::BlockDevice& d, std::uint32_t op, std::uint64_t off, char* data,
               std::uint32_t len, Pending* p, std::mt19937& rng) {
  Bio* bio = bio_alloc(d.disk(), 3, op);
  bio->bi_iter.bi_sector = off >> kSectorShift;
  std::uint32_t done = 0;
  for (int i = 0; i < 2 && len - done > kSectorSize; ++i) {
    const std::uint32_t cut = (rng() % ((len - done) / kSectorSize)) * kSectorSize;
    if (!cut) continue;
    bio_add_vec(bio, data + done, cut);
    done += cut;
  }
  bio_add_vec(bio, data + done, len - done);
  bio->bi_end_io = end_io;
  bio->bi_private = p;
  p->left.fetch_add(1);
  submit_bio(bio);
}

void wait_all(Pending& p) {
  while (p.left.load(std::memory_order_acquire) > 0) std::this_thread::yield();
}

TEST_P(DataIntegrityTest, RandomWritesReadBackIdentical) {
  const Param& prm = GetParam();
  std::string err;
  auto dev = dev::create_device(prm.spec, nullptr, &err);
  ASSERT_TRUE(dev) << err;
  ASSERT_EQ(dev->queue()->attr_store("scheduler", prm.sched), 0);
  ASSERT_EQ(dev->queue()->attr_store("nomerges", prm.nomerges), 0);
  const std::uint64_t size = dev->disk()->capacity() << kSectorShift;
  std::vector<char> shadow(size, 0);
  std::vector<char> data(size);
  std::mt19937 rng(1234);
  Pending p;
  for (int batch = 0; batch < 40; ++batch) {
    // A batch: sequential runs (which merge) and scattered writes, with no
    // two writes of a batch overlapping.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> ranges;
    std::uint64_t off = (rng() % (size / 4096)) * 4096 % (size - 512 * 1024);
    for (int i = 0; i < 24; ++i) {
      const std::uint32_t len = (1 + rng() % 64) * kSectorSize;
      if (i % 3 == 2) off = (rng() % (size / kSectorSize)) * kSectorSize % (size - 64 * 1024);
      const bool overlaps = std::any_of(ranges.begin(), ranges.end(), [&](auto r) {
        return off < r.first + r.second && r.first < off + len;
      });
      if (!overlaps && off + len <= size) ranges.emplace_back(off, len);
      off += len;
    }
    BlkPlug plug;
    blk_start_plug(&plug);
    for (auto [o, len] : ranges) {
      for (std::uint32_t k = 0; k < len; ++k) data[o + k] = static_cast<char>(rng());
      std::copy(data.begin() + static_cast<long>(o), data.begin() + static_cast<long>(o + len),
                shadow.begin() + static_cast<long>(o));
      submit_rw(*dev, REQ_OP_WRITE, o, data.data() + o, len, &p, rng);
    }
    blk_finish_plug(&plug);
    wait_all(p);
  }
  ASSERT_EQ(p.errors.load(), 0);
  // Read everything back in random-sized pieces, also under plugs.
  std::vector<char> back(size, 0x5a);
  std::uint64_t off = 0;
  BlkPlug plug;
  blk_start_plug(&plug);
  while (off < size) {
    std::uint32_t len = (1 + rng() % 256) * kSectorSize;
    if (off + len > size) len = static_cast<std::uint32_t>(size - off);
    submit_rw(*dev, REQ_OP_READ, off, back.data() + off, len, &p, rng);
    off += len;
  }
  blk_finish_plug(&plug);
  wait_all(p);
  ASSERT_EQ(p.errors.load(), 0);
  EXPECT_TRUE(shadow == back) << "data differs after a round trip";
  if (std::string(prm.nomerges) == "0")
    EXPECT_GT(dev->disk()->stats().write.merges, 0u) << "this path should have merged";
  else
    EXPECT_EQ(dev->disk()->stats().write.merges, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, DataIntegrityTest,
    ::testing::Values(Param{"ram:16M", "none", "0"}, Param{"ram:16M", "mq-deadline", "0"},
                      Param{"ram:16M", "mq-deadline", "2"}, Param{"ram:16M", "kyber", "0"},
                      Param{"null:16M,memory_backed=1,irqmode=softirq", "kyber", "0"},
                      Param{"null:16M,memory_backed=1", "none", "0"},
                      Param{"null:16M,memory_backed=1,irqmode=softirq", "mq-deadline", "0"},
                      Param{"null:16M,memory_backed=1,irqmode=timer,completion_nsec=20000",
                            "mq-deadline", "0"},
                      Param{"null:16M,memory_backed=1,hw_queues=2", "none", "2"}),
    [](const auto& info) {
      std::string n =
          std::string(info.param.spec) + "_" + info.param.sched + "_nm" + info.param.nomerges;
      for (char& c : n)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
}  // namespace iostack::block::test
