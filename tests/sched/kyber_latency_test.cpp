// kyber's latency feedback on a virtual clock: completion samples, the timer
// that computes percentiles, and the domain depth changes of kyber_timer_fn;
// and kyber on a ram device with real threads and the real clock.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "kyber_fixture.hpp"

namespace iostack::sched::test {
namespace {

using block::REQ_SYNC;
constexpr std::uint64_t kUs = core::kNsPerUs;
constexpr std::uint64_t kMs = core::kNsPerMs;

class KyberLatencyTest : public KyberTest {
 protected:
  void SetUp() override {
    make(256);  // 256 driver and scheduler tags: tokens are the only limit
    drv.mode = KyberDriver::Mode::kTimer;
  }
  void submit_n(std::uint32_t opf, unsigned n, sector_t base) {
    for (unsigned i = 0; i < n; ++i) submit(opf, base + i * 64);
  }
};

TEST_F(KyberLatencyTest, CompletionsFillBothHistogramsAndArmTheTimer) {
  drv.latency_ns[KYBER_READ] = 1200 * kUs;
  EXPECT_FALSE(ky->timer_pending());
  clock.advance_by(kMs);
  submit(REQ_OP_READ, 0);
  clock.advance_by(1200 * kUs);
  ASSERT_EQ(done_count(), 1u);
  const auto total = ky->pending_samples(KYBER_READ, KYBER_TOTAL_LATENCY);
  const auto io = ky->pending_samples(KYBER_READ, KYBER_IO_LATENCY);
  EXPECT_EQ(total[2], 1u) << "1.2 ms against 2 ms: the third quarter bucket";
  EXPECT_EQ(io[2], 1u);
  EXPECT_TRUE(ky->timer_pending());

  // OTHER is not sampled; DISCARD is, against its 5 s target.
  submit(REQ_OP_WRITE_ZEROES, 1000);
  submit(REQ_OP_DISCARD, 2000);
  clock.advance_by(kMs);
  EXPECT_EQ(ky->pending_samples(KYBER_DISCARD, KYBER_TOTAL_LATENCY)[0], 1u);

  // 100 ms after the first sample the timer collects them; too few for a
  // percentile, so nothing changes.
  clock.advance_by(100 * kMs);
  EXPECT_FALSE(ky->timer_pending());
  EXPECT_EQ(ky->pending_samples(KYBER_READ, KYBER_TOTAL_LATENCY)[2], 0u);
  EXPECT_EQ(ky->domain_p99(KYBER_READ), -1);
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 256u);
}

// With jiffies the timer is a timer_list armed for jiffies + HZ / 10: it
// runs on the tick after that, whatever nanosecond of its jiffy the first
// completion fell in, and a later completion does not push it back.
TEST_F(KyberLatencyTest, TheTimerRunsOnTheTickAfterJiffiesPlusHzOverTen) {
  constexpr std::uint64_t kJiffy = 4 * kMs;  // HZ=250: HZ / 10 is 25 jiffies
  clock.set_jiffy(kJiffy);
  drv.latency_ns[KYBER_READ] = 1300 * kUs;
  clock.advance_to(401 * kMs);  // jiffy 100, 1 ms into it
  submit(REQ_OP_READ, 0);
  clock.advance_by(1300 * kUs);  // completes at 402.3 ms, still jiffy 100
  ASSERT_EQ(done_count(), 1u);
  ASSERT_TRUE(ky->timer_pending());
  EXPECT_EQ(clock.next_expiry(), 126 * kJiffy) << "jiffy 100 + 25, filed one tick later";
  // A completion in a later jiffy keeps the earlier expiry (timer_reduce).
  clock.advance_to(450 * kMs);
  submit(REQ_OP_READ, 64);
  clock.advance_by(1300 * kUs);
  EXPECT_EQ(clock.next_expiry(), 126 * kJiffy);
  clock.advance_to(126 * kJiffy - 1);
  EXPECT_TRUE(ky->timer_pending());
  clock.advance_to(126 * kJiffy);
  EXPECT_FALSE(ky->timer_pending());

  // HZ=1000: HZ / 10 is 100 jiffies of 1 ms.
  clock.set_jiffy(kMs);
  submit(REQ_OP_READ, 128);
  clock.advance_by(1300 * kUs);  // 505.3 ms: jiffy 505
  ASSERT_TRUE(ky->timer_pending());
  EXPECT_EQ(clock.next_expiry(), 606 * kMs);
}

TEST_F(KyberLatencyTest, FastReadsWithoutCongestionKeepTheirDepth) {
  drv.latency_ns[KYBER_READ] = 100 * kUs;
  submit_n(REQ_OP_READ, 600, 0);
  clock.advance_by(200 * kMs);
  EXPECT_EQ(done_count(), 600u);
  EXPECT_EQ(ky->domain_p99(KYBER_READ), 0) << "p99 within the first quarter, remembered";
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 256u) << "no congestion: no throttling";
}

TEST_F(KyberLatencyTest, ReadsMissingTheirTargetAreNotThrottled) {
  // Slow reads make the device look congested, but a domain whose own p99
  // misses the target gets depth * (p99 + 1) / 4 -- more, capped at 256.
  drv.latency_ns[KYBER_READ] = 5 * kMs;
  submit_n(REQ_OP_READ, 600, 0);
  clock.advance_by(300 * kMs);
  EXPECT_EQ(done_count(), 600u);
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 256u);
  EXPECT_EQ(ky->domain_p99(KYBER_READ), -1) << "used up by the congestion";
}

TEST_F(KyberLatencyTest, CongestionShrinksGoodDomainsAndBadLatencyGrowsThemBack) {
  // Fast reads: p99 in bucket 0 is remembered.
  drv.latency_ns[KYBER_READ] = 100 * kUs;
  drv.latency_ns[KYBER_WRITE] = 30 * kMs;
  submit_n(REQ_OP_READ, 600, 0);
  clock.advance_by(200 * kMs);
  ASSERT_EQ(ky->domain_p99(KYBER_READ), 0);

  // Slow synchronous writes (30 ms against 10 ms) congest the device: the
  // read domain is throttled to 256 * (0 + 1) / 4.
  submit_n(REQ_OP_WRITE | REQ_SYNC, 600, 100000);
  clock.advance_by(1000 * kMs);
  EXPECT_EQ(done_count(), 1200u);
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 64u);
  EXPECT_EQ(ky->domain_depth(KYBER_WRITE), 128u) << "bad p99: 128 * 8 / 4, capped";
  EXPECT_EQ(ky->domain_depth(KYBER_DISCARD), 64u) << "no samples, no change";
  EXPECT_EQ(ky->domain_depth(KYBER_OTHER), 16u);
  EXPECT_EQ(ky->domain_p99(KYBER_READ), -1);

  // The throttled domain now holds reads back to 64 at a time.
  drv.mode = KyberDriver::Mode::kHold;
  submit_n(REQ_OP_READ, 100, 200000);
  EXPECT_EQ(drv.in_flight[KYBER_READ], 64u);
  EXPECT_EQ(ky->tokens(KYBER_READ).wake_batch(), 8u);
  drv.complete_held();
  drv.complete_held();
  EXPECT_EQ(done_count(), 1300u);
  EXPECT_EQ(drv.max_in_flight[KYBER_READ], 256u) << "before the shrink";

  // Reads now miss their target (5 ms against 2 ms, and queueing behind 64
  // tokens): the read domain's depth doubles per window.
  drv.mode = KyberDriver::Mode::kTimer;
  drv.latency_ns[KYBER_READ] = 5 * kMs;
  drv.latency_ns[KYBER_WRITE] = 1 * kMs;
  clock.advance_by(1000 * kMs);  // let the samples of the held reads go
  const unsigned before = ky->domain_depth(KYBER_READ);
  ASSERT_LE(before, 128u);
  submit_n(REQ_OP_READ, 600, 300000);
  clock.advance_by(1000 * kMs);
  EXPECT_EQ(done_count(), 1900u);
  EXPECT_EQ(ky->domain_depth(KYBER_READ), before * 2);
}

TEST_F(KyberLatencyTest, FewSamplesWaitASecondAndThenUseTheRememberedP99) {
  // Fast reads leave p99 = bucket 0 remembered.
  drv.latency_ns[KYBER_READ] = 100 * kUs;
  submit_n(REQ_OP_READ, 600, 0);
  clock.advance_by(200 * kMs);
  ASSERT_EQ(ky->domain_p99(KYBER_READ), 0);
  ASSERT_EQ(ky->domain_depth(KYBER_READ), 256u);

  // A trickle of slow reads: under 500 samples, so nothing is computed until
  // a second after the first of them.
  drv.latency_ns[KYBER_READ] = 5 * kMs;
  for (unsigned i = 0; i < 9; ++i) {
    submit(REQ_OP_READ, 100000 + i * 64);
    clock.advance_by(100 * kMs);
  }
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 256u) << "still inside the one-second window";
  EXPECT_EQ(ky->domain_p99(KYBER_READ), 0);
  for (unsigned i = 9; i < 14; ++i) {
    submit(REQ_OP_READ, 100000 + i * 64);
    clock.advance_by(100 * kMs);
  }
  clock.advance_by(500 * kMs);
  // Then the I/O p90 (bucket 7) reports congestion and closes the window the
  // two histograms share, so the total-latency p99 starts a new one and has
  // no value: the remembered bucket 0 is used, once. Slow reads, throttled
  // to 256 * 1 / 4 -- exactly what kyber_timer_fn does.
  EXPECT_EQ(ky->domain_depth(KYBER_READ), 64u);
  EXPECT_EQ(ky->domain_p99(KYBER_READ), -1);
}

// Data written through kyber on a ram device reads back identical, and the
// queue switches schedulers with I/O done in between.
TEST(KyberRamTest, SwitchToKyberAndRoundTripData) {
  std::string err;
  auto dev = dev::create_device("ram:16M", nullptr, &err);
  ASSERT_TRUE(dev) << err;
  block::RequestQueue* q = dev->queue();
  ASSERT_EQ(q->attr_store("scheduler", "kyber"), 0);
  std::string sched;
  ASSERT_EQ(q->attr_show("scheduler", &sched), 0);
  EXPECT_EQ(sched, "none mq-deadline [kyber] bfq");
  ASSERT_NE(dynamic_cast<Kyber*>(q->elevator()), nullptr);

  constexpr std::uint32_t kChunk = 64 * 1024;
  constexpr unsigned kChunks = 64;  // 4 MiB
  std::vector<char> data(kChunk * kChunks), back(kChunk * kChunks, 0);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 12));
  for (unsigned c = 0; c < kChunks; ++c) {
    block::Bio bio;
    block::bio_init(&bio, dev->disk(), bio.bi_inline_vecs, block::kBioInlineVecs,
                    REQ_OP_WRITE | (c % 2 ? REQ_SYNC : 0));
    bio.bi_iter.bi_sector = (std::uint64_t{c} * kChunk) >> block::kSectorShift;
    block::bio_add_vec(&bio, data.data() + std::size_t{c} * kChunk, kChunk);
    ASSERT_EQ(block::submit_bio_wait(&bio), 0);
  }
  for (unsigned c = 0; c < kChunks; ++c) {
    block::Bio bio;
    block::bio_init(&bio, dev->disk(), bio.bi_inline_vecs, block::kBioInlineVecs, REQ_OP_READ);
    bio.bi_iter.bi_sector = (std::uint64_t{c} * kChunk) >> block::kSectorShift;
    block::bio_add_vec(&bio, back.data() + std::size_t{c} * kChunk, kChunk);
    ASSERT_EQ(block::submit_bio_wait(&bio), 0);
  }
  EXPECT_EQ(0, std::memcmp(data.data(), back.data(), data.size()));

  ASSERT_EQ(q->attr_store("iosched/read_lat_nsec", "1000000"), 0);
  ASSERT_EQ(q->attr_store("scheduler", "mq-deadline"), 0);
  ASSERT_EQ(q->attr_store("scheduler", "kyber"), 0);
  std::string v;
  ASSERT_EQ(q->attr_show("iosched/read_lat_nsec", &v), 0);
  EXPECT_EQ(v, "2000000") << "a new instance starts from the defaults";
  ASSERT_EQ(q->attr_store("scheduler", "none"), 0);
}

}  // namespace
}  // namespace iostack::sched::test
