// kyber behind the real submission path: tunables, domains, token limits,
// batching, the async depth limit and bio merging on a virtual clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "block/elevator_registry.hpp"
#include "block/hctx.hpp"
#include "block/tags.hpp"
#include "kyber_fixture.hpp"

namespace iostack::sched::test {
namespace {

using block::REQ_NOWAIT;
using block::REQ_SYNC;

class KyberAttrTest : public KyberTest {
 protected:
  void SetUp() override { make(); }
  std::string show(const std::string& a) {
    std::string v;
    EXPECT_EQ(q->attr_show(a, &v), 0) << a;
    return v;
  }
};

TEST_F(KyberAttrTest, RegisteredAfterMqDeadline) {
  EXPECT_EQ(block::elevator_names(), (std::vector<std::string>{"mq-deadline", "kyber", "bfq"}));
  EXPECT_EQ(show("scheduler"), "none mq-deadline [kyber] bfq");
  EXPECT_STREQ(ky->name(), "kyber");
  const auto names = q->attr_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "iosched/read_lat_nsec"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "iosched/write_lat_nsec"), names.end());
}

TEST_F(KyberAttrTest, Defaults) {
  EXPECT_EQ(show("iosched/read_lat_nsec"), "2000000");
  EXPECT_EQ(show("iosched/write_lat_nsec"), "10000000");
  EXPECT_EQ(ky->latency_target(KYBER_DISCARD), 5000000000ull);
  const unsigned depth[] = {256, 128, 64, 16};
  const unsigned wake_batch[] = {8, 8, 8, 2};
  for (unsigned d = 0; d < kKyberNumDomains; ++d) {
    EXPECT_EQ(ky->domain_depth(static_cast<KyberDomain>(d)), depth[d]) << kyber_domain_name(d);
    EXPECT_EQ(ky->tokens(static_cast<KyberDomain>(d)).wake_batch(), wake_batch[d]);
    EXPECT_EQ(ky->domain_busy(static_cast<KyberDomain>(d)), 0u);
  }
  EXPECT_EQ(show("nr_requests"), "256");
  EXPECT_EQ(ky->async_depth(), 192u) << "75% of nr_requests";
  EXPECT_EQ(ky->cur_domain(q->hctx(0)), 0u);
  EXPECT_EQ(ky->batching(q->hctx(0)), 0u);
}

TEST_F(KyberAttrTest, LatencyTargetsTakeDecimalNanoseconds) {
  EXPECT_EQ(q->attr_store("iosched/read_lat_nsec", "3000000\n"), 0);
  EXPECT_EQ(show("iosched/read_lat_nsec"), "3000000");
  EXPECT_EQ(ky->latency_target(KYBER_READ), 3000000u);
  EXPECT_EQ(q->attr_store("iosched/write_lat_nsec", "+7"), 0);
  EXPECT_EQ(show("iosched/write_lat_nsec"), "7");
  EXPECT_EQ(q->attr_store("iosched/write_lat_nsec", "0"), 0) << "not clamped";
  EXPECT_EQ(show("iosched/write_lat_nsec"), "0");
  EXPECT_EQ(q->attr_store("iosched/write_lat_nsec", "18446744073709551615"), 0);
  EXPECT_EQ(show("iosched/write_lat_nsec"), "18446744073709551615");
  EXPECT_EQ(q->attr_store("iosched/read_lat_nsec", "010"), 0) << "base 10, not octal";
  EXPECT_EQ(show("iosched/read_lat_nsec"), "10");
}

TEST_F(KyberAttrTest, BadValuesAreRefusedAndChangeNothing) {
  for (const char* bad : {"junk", "", "-1", "0x10", "12abc", "1 ", " 1", "1\n\n", "1.5"})
    EXPECT_EQ(q->attr_store("iosched/read_lat_nsec", bad), -EINVAL) << '"' << bad << '"';
  EXPECT_EQ(q->attr_store("iosched/read_lat_nsec", "18446744073709551616"), -ERANGE);
  EXPECT_EQ(show("iosched/read_lat_nsec"), "2000000");
  EXPECT_EQ(q->attr_store("iosched/async_depth", "4"), -ENOENT);
  std::string v;
  EXPECT_EQ(q->attr_show("iosched/fifo_batch", &v), -ENOENT);
}

TEST(KyberDomainTest, ByOperation) {
  EXPECT_EQ(kyber_sched_domain(REQ_OP_READ), KYBER_READ);
  EXPECT_EQ(kyber_sched_domain(REQ_OP_READ | block::REQ_RAHEAD), KYBER_READ);
  EXPECT_EQ(kyber_sched_domain(REQ_OP_WRITE), KYBER_WRITE) << "async writes too";
  EXPECT_EQ(kyber_sched_domain(REQ_OP_WRITE | REQ_SYNC), KYBER_WRITE);
  EXPECT_EQ(kyber_sched_domain(REQ_OP_DISCARD), KYBER_DISCARD);
  EXPECT_EQ(kyber_sched_domain(REQ_OP_WRITE_ZEROES), KYBER_OTHER);
  EXPECT_EQ(kyber_sched_domain(block::REQ_OP_FLUSH), KYBER_OTHER);
  EXPECT_STREQ(kyber_domain_name(KYBER_DISCARD), "DISCARD");
}

TEST(KyberBucketTest, QuarterTargetBuckets) {
  constexpr std::uint64_t t = 2000000;  // 2 ms: buckets of 500 us
  EXPECT_EQ(kyber_latency_bucket(t, 0), 0u);
  EXPECT_EQ(kyber_latency_bucket(t, 500000), 0u);
  EXPECT_EQ(kyber_latency_bucket(t, 500001), 1u);
  EXPECT_EQ(kyber_latency_bucket(t, 2000000), 3u) << "on target is still good";
  EXPECT_EQ(kyber_latency_bucket(t, 2000001), 4u);
  EXPECT_EQ(kyber_latency_bucket(t, 3500001), 7u);
  EXPECT_EQ(kyber_latency_bucket(t, 1000000000), 7u);
  EXPECT_EQ(kyber_latency_bucket(0, 5), 4u) << "a zero target has 1 ns buckets";
}

TEST_F(KyberTest, RequestsTakeATokenOfTheirDomain) {
  block::QueueLimits lim;
  lim.wc_feature = true;
  make(128, 1, lim);
  submit(REQ_OP_READ, 0);
  submit(REQ_OP_WRITE | REQ_SYNC, 1000);
  submit(REQ_OP_WRITE, 2000);
  submit(REQ_OP_DISCARD, 3000);
  submit(REQ_OP_WRITE_ZEROES, 4000);
  EXPECT_EQ(drv.order(), "RWWDO");
  EXPECT_EQ(ky->domain_busy(KYBER_READ), 1u);
  EXPECT_EQ(ky->domain_busy(KYBER_WRITE), 2u);
  EXPECT_EQ(ky->domain_busy(KYBER_DISCARD), 1u);
  EXPECT_EQ(ky->domain_busy(KYBER_OTHER), 1u);
  // A flush bypasses the scheduler: it reaches the driver without a token.
  submit(block::REQ_OP_FLUSH | block::REQ_PREFLUSH, 0, 0);
  ASSERT_EQ(drv.issued.size(), 6u);
  EXPECT_EQ(block::req_op(drv.issued.back().opf), block::REQ_OP_FLUSH);
  EXPECT_EQ(ky->domain_busy(KYBER_OTHER), 1u);
  drv.complete_held();
  for (unsigned d = 0; d < kKyberNumDomains; ++d)
    EXPECT_EQ(ky->domain_busy(static_cast<KyberDomain>(d)), 0u) << "finish_request frees it";
  EXPECT_EQ(done_count(), 6u);
}

TEST_F(KyberTest, InFlightPerDomainNeverExceedsItsTokens) {
  make(128);  // 128 driver tags, 256 scheduler tags: only tokens limit
  for (unsigned i = 0; i < 40; ++i) submit(REQ_OP_WRITE_ZEROES, 100000 + i * 64);
  for (unsigned i = 0; i < 80; ++i) submit(REQ_OP_DISCARD, 200000 + i * 64);
  EXPECT_EQ(drv.in_flight[KYBER_OTHER], 16u);
  EXPECT_EQ(drv.in_flight[KYBER_DISCARD], 64u);
  EXPECT_EQ(ky->domain_busy(KYBER_OTHER), 16u);
  EXPECT_EQ(ky->domain_busy(KYBER_DISCARD), 64u);
  EXPECT_TRUE(ky->waiting(q->hctx(0), KYBER_OTHER));
  EXPECT_TRUE(ky->waiting(q->hctx(0), KYBER_DISCARD));
  EXPECT_TRUE(ky->has_work(q->hctx(0)));
  drain_hold();
  EXPECT_EQ(done_count(), 120u);
  EXPECT_EQ(drv.issued.size(), 120u);
  EXPECT_EQ(drv.max_in_flight[KYBER_OTHER], 16u);
  EXPECT_EQ(drv.max_in_flight[KYBER_DISCARD], 64u);
  EXPECT_FALSE(ky->waiting(q->hctx(0), KYBER_OTHER));
  EXPECT_FALSE(ky->has_work(q->hctx(0)));
}

TEST_F(KyberTest, FreedTokensRerunTheQueueInWakeBatches) {
  make(128);
  for (unsigned i = 0; i < 20; ++i) submit(REQ_OP_WRITE_ZEROES, 100000 + i * 64);
  ASSERT_EQ(drv.in_flight[KYBER_OTHER], 16u);
  ASSERT_EQ(ky->tokens(KYBER_OTHER).wake_batch(), 2u);
  drv.complete_oldest();
  EXPECT_EQ(drv.in_flight[KYBER_OTHER], 15u) << "one free is less than a wake batch";
  EXPECT_TRUE(ky->waiting(q->hctx(0), KYBER_OTHER));
  drv.complete_oldest();
  EXPECT_EQ(drv.in_flight[KYBER_OTHER], 16u) << "the second free woke the queue";
  EXPECT_EQ(drv.issued.size(), 18u);
  // Tokens freed short of a batch are still found by the BLK_MQ_BUDGET_DELAY
  // rerun the block layer schedules after a fruitless dispatch.
  drv.complete_oldest();
  EXPECT_EQ(drv.issued.size(), 18u);
  clock.advance_by(3 * core::kNsPerMs);
  EXPECT_EQ(drv.issued.size(), 19u);
}

TEST_F(KyberTest, DispatchRotatesDomainsInBatches) {
  make(128);
  // Park the first read on the dispatch list so everything else queues up
  // in kyber, then let the driver take it all in kyber's order.
  drv.blocked = true;
  submit(REQ_OP_READ, 0);
  for (unsigned i = 0; i < 40; ++i) submit(REQ_OP_READ, 10000 + i * 64);
  for (unsigned i = 0; i < 20; ++i) submit(REQ_OP_WRITE | REQ_SYNC, 20000 + i * 64);
  for (unsigned i = 0; i < 4; ++i) submit(REQ_OP_DISCARD, 30000 + i * 64);
  for (unsigned i = 0; i < 4; ++i) submit(REQ_OP_WRITE_ZEROES, 40000 + i * 64);
  EXPECT_TRUE(drv.issued.empty());
  EXPECT_EQ(ky->cur_domain(q->hctx(0)), unsigned{KYBER_READ});
  EXPECT_EQ(ky->batching(q->hctx(0)), 1u) << "the parked read counts in the batch";
  drv.blocked = false;
  block::blk_mq_run_hw_queue(q->hctx(0));
  const std::string r16(16, 'R'), w8(8, 'W');
  EXPECT_EQ(drv.order(),
            r16 + w8 + "DO" + r16 + w8 + "DO" + std::string(9, 'R') + "WWWW" + "DO" + "DO");
  // Sector order inside a domain is insertion order.
  EXPECT_EQ(drv.issued[1].sector, 10000u);
  EXPECT_EQ(drv.issued[16].sector, 20000u);
}

TEST_F(KyberTest, AsyncRequestsGetThreeQuartersOfTheTags) {
  make(128);
  block::HwCtx* hctx = q->hctx(0);
  ASSERT_EQ(hctx->sched_tags->bits_per_word(), 64u);
  block::AllocData data{q.get(), REQ_OP_WRITE, 0, hctx};
  ky->limit_depth(&data);
  EXPECT_EQ(data.shallow_depth, 48u) << "192 of 256 tags = 48 of each 64-bit word";
  for (std::uint32_t sync_op :
       {REQ_OP_READ, REQ_OP_WRITE | REQ_SYNC, REQ_OP_WRITE | block::REQ_FUA}) {
    block::AllocData s{q.get(), sync_op, 0, hctx};
    ky->limit_depth(&s);
    EXPECT_EQ(s.shallow_depth, 0u) << sync_op;
  }
  block::AllocData disc{q.get(), REQ_OP_DISCARD, 0, hctx};
  ky->limit_depth(&disc);
  EXPECT_EQ(disc.shallow_depth, 48u);

  // End to end: async writes stop at 192 scheduler tags (128 in the driver
  // and 64 waiting for a token); sync reads still get the other 64.
  unsigned async_ok = 0;
  for (unsigned i = 0; i < 300; ++i) {
    KyIo* io = submit(REQ_OP_WRITE | REQ_NOWAIT, i * 64);
    if (io->done && io->err == -EAGAIN) break;
    ++async_ok;
  }
  EXPECT_EQ(async_ok, 192u);
  EXPECT_EQ(drv.in_flight[KYBER_WRITE], 128u);
  unsigned sync_ok = 0;
  for (unsigned i = 0; i < 100; ++i) {
    KyIo* io = submit(REQ_OP_READ | REQ_NOWAIT, 500000 + i * 64);
    if (io->done && io->err == -EAGAIN) break;
    ++sync_ok;
  }
  EXPECT_EQ(sync_ok, 64u);
}

TEST_F(KyberTest, BiosMergeIntoRequestsWaitingForATokenOfTheirDomain) {
  make(256);  // driver tags to spare for the read
  // Use up the write tokens so the next writes wait in kyber's queue.
  for (unsigned i = 0; i < 128; ++i) submit(REQ_OP_WRITE | REQ_SYNC, 100000 + i * 64);
  ASSERT_EQ(drv.in_flight[KYBER_WRITE], 128u);
  submit(REQ_OP_WRITE | REQ_SYNC, 1008);  // queued
  submit(REQ_OP_WRITE | REQ_SYNC, 1016);  // back merge
  submit(REQ_OP_WRITE | REQ_SYNC, 1000);  // front merge
  submit(REQ_OP_READ, 1024);              // another domain: its own request
  ASSERT_EQ(drv.issued.size(), 129u);
  EXPECT_EQ(drv.issued.back().domain, unsigned{KYBER_READ});
  EXPECT_EQ(drv.issued.back().bios, 1u);
  drain_hold();
  ASSERT_EQ(drv.issued.size(), 130u);
  const auto& merged = drv.issued.back();
  EXPECT_EQ(merged.domain, unsigned{KYBER_WRITE});
  EXPECT_EQ(merged.sector, 1000u);
  EXPECT_EQ(merged.sectors, 24u);
  EXPECT_EQ(merged.bios, 3u);
  EXPECT_EQ(done_count(), 132u);
  EXPECT_EQ(disk->stats().write.merges, 2u);
}

TEST_F(KyberTest, RequestsAlreadyDispatchedDoNotMerge) {
  make(128);
  submit(REQ_OP_WRITE | REQ_SYNC, 1000);
  submit(REQ_OP_WRITE | REQ_SYNC, 1008);
  EXPECT_EQ(drv.issued.size(), 2u) << "the first had a token and left kyber";
  drain_hold();
  EXPECT_EQ(done_count(), 2u);
}

TEST_F(KyberTest, RequeuedRequestGivesItsTokenBack) {
  make(128);
  submit(REQ_OP_WRITE_ZEROES, 1000);
  ASSERT_EQ(drv.held.size(), 1u);
  ASSERT_EQ(ky->domain_busy(KYBER_OTHER), 1u);
  block::Request* rq = drv.held.front();
  drv.held.clear();
  --drv.in_flight[KYBER_OTHER];
  block::blk_mq_requeue_request(rq, true);
  EXPECT_EQ(ky->domain_busy(KYBER_OTHER), 0u);
  ASSERT_EQ(drv.held.size(), 1u) << "reissued from the dispatch list";
  drv.complete_held();
  EXPECT_EQ(ky->domain_busy(KYBER_OTHER), 0u) << "not freed twice";
  EXPECT_EQ(done_count(), 1u);
}

TEST_F(KyberTest, SeveralHardwareQueues) {
  make(64, 2);
  drv.mode = KyberDriver::Mode::kInline;
  for (unsigned i = 0; i < 50; ++i) submit(i % 2 ? REQ_OP_READ : REQ_OP_WRITE, i * 64);
  EXPECT_EQ(done_count(), 50u);
  for (unsigned d = 0; d < kKyberNumDomains; ++d)
    EXPECT_EQ(ky->domain_busy(static_cast<KyberDomain>(d)), 0u);
  EXPECT_EQ(q->attr_store("scheduler", "mq-deadline"), 0);
  EXPECT_EQ(q->hctx(0)->sched_data, nullptr);
  EXPECT_EQ(q->hctx(1)->sched_data, nullptr);
}

}  // namespace
}  // namespace iostack::sched::test
