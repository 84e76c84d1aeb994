// A queue with mq-deadline on a virtual clock, and hand-made requests that
// the tests insert and dispatch directly, without the submission path.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/driver.hpp"
#include "block/request.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/virtual_clock.hpp"
#include "sched/mq_deadline.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched::test {

constexpr std::uint16_t kRt = task::prio_value(task::kClassRt, 0);
constexpr std::uint16_t kBe = task::prio_value(task::kClassBe, 0);
constexpr std::uint16_t kIdle = task::prio_value(task::kClassIdle, 0);

// Takes every request and never completes it; these tests never dispatch
// through the block layer anyway.
class HoldDriver final : public block::BlockDriver {
 public:
  const char* name() const override { return "hold"; }
  block::BlkStatus queue_rq(block::HwCtx*, block::Request* rq, bool) override {
    taken.push_back(rq);
    return block::BlkStatus::OK;
  }
  std::vector<block::Request*> taken;
};

// One request with the single bio it was built from.
struct TestRq {
  block::Request rq;
  block::Bio bio;
};

class DdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    q_ = std::make_unique<block::RequestQueue>(&driver_, block::TagSetConfig{1, 64},
                                               block::QueueLimits{}, &clock_);
    ASSERT_EQ(q_->set_elevator("mq-deadline"), 0);
    dd_ = dynamic_cast<MqDeadline*>(q_->elevator());
    ASSERT_NE(dd_, nullptr);
  }

  void TearDown() override {
    // Take back whatever a test left queued so the queue can be destroyed.
    if (dd_)
      while (dd_->dispatch_request(q_->hctx(0))) {
      }
  }

  // A request of `sectors` at `sector`; reads unless `opf` says otherwise.
  block::Request* make(block::sector_t sector, std::uint32_t sectors = 8,
                       std::uint32_t opf = block::REQ_OP_READ, std::uint16_t ioprio = kBe) {
    auto& t = *rqs_.emplace_back(std::make_unique<TestRq>());
    t.bio.bi_opf = opf;
    t.bio.bi_ioprio = ioprio;
    t.bio.bi_iter.bi_sector = sector;
    t.bio.bi_iter.bi_size = sectors << block::kSectorShift;
    block::Request* rq = &t.rq;
    rq->q = q_.get();
    rq->mq_hctx = q_->hctx(0);
    rq->cmd_flags = opf;
    rq->ioprio = ioprio;
    rq->__sector = sector;
    rq->__data_len = sectors << block::kSectorShift;
    rq->bio = rq->biotail = &t.bio;
    rq->nr_phys_segments = 1;
    rq->start_time_ns = clock_.now();
    dd_->prepare_request(rq);
    return rq;
  }

  void insert(block::Request* rq, unsigned flags = block::INSERT_NONE) {
    core::ListHead list;
    rq->queuelist.add_tail(&list);
    dd_->insert_requests(q_->hctx(0), &list, flags);
  }

  block::Request* add(block::sector_t sector, std::uint32_t opf = block::REQ_OP_READ,
                      std::uint16_t ioprio = kBe) {
    block::Request* rq = make(sector, 8, opf, ioprio);
    insert(rq);
    return rq;
  }

  block::Request* dispatch() { return dd_->dispatch_request(q_->hctx(0)); }

  // Dispatches until empty (completing each one) and returns the sectors.
  std::vector<block::sector_t> drain() {
    std::vector<block::sector_t> out;
    while (block::Request* rq = dispatch()) {
      out.push_back(block::blk_rq_pos(rq));
      dd_->finish_request(rq);
    }
    return out;
  }

  // A fresh scheduler continues "a write batch" at sector 0 (last_dir starts
  // as WRITE); one read dispatch leaves that state so direction choice shows.
  void start_read_batch() {
    add(0);
    block::Request* rq = dispatch();
    ASSERT_NE(rq, nullptr);
    dd_->finish_request(rq);
  }

  void set(const char* attr, const char* value) { ASSERT_EQ(dd_->attr_store(attr, value), 0); }
  void advance_ms(std::uint64_t ms) { clock_.advance_by(ms * core::kNsPerMs); }

  core::VirtualClock clock_{0};
  HoldDriver driver_;
  std::vector<std::unique_ptr<TestRq>> rqs_;  // outlives the queue's references
  std::unique_ptr<block::RequestQueue> q_;
  MqDeadline* dd_ = nullptr;
};

}  // namespace iostack::sched::test
