// mq-deadline's part of merging: the front-merge lookup in its sector trees,
// re-sorting after a front merge, and the FIFO deadline a merged pair keeps.
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

using block::ElvMerge;
using Sectors = std::vector<block::sector_t>;

// A data-less bio covering [sector, sector + sectors).
void bio_at(block::Bio* b, block::sector_t sector, std::uint32_t sectors, std::uint32_t opf,
            std::uint16_t ioprio = kBe) {
  b->bi_opf = opf;
  b->bi_ioprio = ioprio;
  b->bi_iter.bi_sector = sector;
  b->bi_iter.bi_size = sectors << block::kSectorShift;
}

TEST_F(DdTest, FrontMergeFindsRequestStartingAtBioEnd) {
  add(1000);
  block::Request* rq = add(100);
  block::Request* found = nullptr;
  block::Bio b;
  bio_at(&b, 92, 8, block::REQ_OP_READ);
  EXPECT_EQ(dd_->request_merge(&found, &b), ElvMerge::FRONT);
  EXPECT_EQ(found, rq);

  block::Bio gap;
  bio_at(&gap, 90, 8, block::REQ_OP_READ);  // ends at 98
  EXPECT_EQ(dd_->request_merge(&found, &gap), ElvMerge::NONE);
  block::Bio write;
  bio_at(&write, 92, 8, block::REQ_OP_WRITE);  // other direction's tree
  EXPECT_EQ(dd_->request_merge(&found, &write), ElvMerge::NONE);
  block::Bio rt;
  bio_at(&rt, 92, 8, block::REQ_OP_READ, kRt);  // other class's tree
  EXPECT_EQ(dd_->request_merge(&found, &rt), ElvMerge::NONE);
  block::Bio nomerge;
  bio_at(&nomerge, 92, 8, std::uint32_t{block::REQ_OP_READ} | block::REQ_NOMERGE);
  EXPECT_EQ(dd_->request_merge(&found, &nomerge), ElvMerge::NONE);
}

TEST_F(DdTest, FrontMergesZeroDisablesTheLookup) {
  add(100);
  set("front_merges", "0");
  block::Request* found = nullptr;
  block::Bio b;
  bio_at(&b, 92, 8, block::REQ_OP_READ);
  EXPECT_EQ(dd_->request_merge(&found, &b), ElvMerge::NONE);
  set("front_merges", "1");
  EXPECT_EQ(dd_->request_merge(&found, &b), ElvMerge::FRONT);
}

TEST_F(DdTest, FrontMergedRequestIsResorted) {
  add(100);
  add(300);
  block::Request* grown = add(200);
  // As if a 160-sector bio had been merged in front of it.
  grown->__sector = 40;
  grown->__data_len += 160 << block::kSectorShift;
  dd_->request_merged(grown, ElvMerge::FRONT);
  EXPECT_EQ(drain(), (Sectors{40, 100, 300}));
}

TEST_F(DdTest, NeighboursInTheSectorTree) {
  block::Request* a = add(100);
  block::Request* b = add(300);
  block::Request* c = add(200);
  block::Request* w = add(250, block::REQ_OP_WRITE);
  EXPECT_EQ(dd_->former_request(a), nullptr);
  EXPECT_EQ(dd_->next_request(a), c);
  EXPECT_EQ(dd_->next_request(c), b);
  EXPECT_EQ(dd_->former_request(b), c);
  EXPECT_EQ(dd_->next_request(b), nullptr);
  EXPECT_EQ(dd_->next_request(w), nullptr);          // writes are a tree of their own
  EXPECT_EQ(dd_->former_request(make(5)), nullptr);  // not inserted
}

TEST_F(DdTest, MergedRequestTakesTheEarlierDeadlineAndFifoSlot) {
  block::Request* next = add(2008);  // t = 0: deadline 500 ms, FIFO head
  advance_ms(5);
  add(1000);  // deadline 505 ms
  advance_ms(5);
  block::Request* rq = add(2000);  // deadline 510 ms
  dd_->requests_merged(rq, next);
  EXPECT_EQ(rq->fifo_time, 500 * core::kNsPerMs);
  EXPECT_FALSE(next->queuelist.linked());
  EXPECT_FALSE(next->rb_node.is_linked());
  EXPECT_EQ(dd_->stats(DD_BE_PRIO).merged, 1u);
  dd_->finish_request(next);  // freed by the block layer
  advance_ms(600);
  // rq now heads the FIFO in next's place, ahead of 1000.
  EXPECT_EQ(drain(), (Sectors{2000, 1000}));
}

TEST_F(DdTest, MergedRequestKeepsItsOwnEarlierDeadline) {
  block::Request* rq = add(2000);  // deadline 500 ms
  advance_ms(5);
  add(1000);  // 505 ms
  advance_ms(5);
  block::Request* next = add(3000);  // 510 ms; not adjacent, so no insert merge
  dd_->requests_merged(rq, next);
  dd_->finish_request(next);
  EXPECT_EQ(rq->fifo_time, 500 * core::kNsPerMs);
  EXPECT_EQ(dd_->queued(DD_BE_PRIO), 2u);
  advance_ms(600);
  EXPECT_EQ(drain(), (Sectors{2000, 1000}));
}

TEST_F(DdTest, MergedRequestLeavesMergeCandidates) {
  block::Request* first = add(2008);
  block::Request* rq = add(2000);
  EXPECT_EQ(dd_->last_merge, first);
  EXPECT_EQ(dd_->rqhash_find(2016), first);
  dd_->requests_merged(rq, first);
  dd_->finish_request(first);
  EXPECT_EQ(dd_->last_merge, nullptr);
  EXPECT_EQ(dd_->rqhash_find(2016), nullptr);
}

}  // namespace
}  // namespace iostack::sched::test
