// A rotational queue with bfq on a virtual clock, processes as io_contexts,
// and hand-made requests the tests insert, dispatch and complete directly.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/driver.hpp"
#include "block/request.hpp"
#include "block/request_queue.hpp"
#include "core/virtual_clock.hpp"
#include "sched/bfq.hpp"
#include "task/blkcg.hpp"
#include "task/io_context.hpp"
#include "task/ioprio.hpp"

namespace iostack::sched::test {

class BfqHoldDriver final : public block::BlockDriver {
 public:
  const char* name() const override { return "hold"; }
  block::BlkStatus queue_rq(block::HwCtx*, block::Request*, bool) override {
    return block::BlkStatus::OK;
  }
};

struct BfqTestRq {
  block::Request rq;
  block::Bio bio;
};

class BfqTest : public ::testing::Test {
 protected:
  // A process: its io_context, priority, where its next sequential read
  // goes, and its cgroup (the bios' bi_blkcg; nullptr: the root).
  struct Proc {
    task::IoContext* ioc;
    int pid;
    std::uint16_t ioprio;
    block::sector_t next;
    task::Blkcg* cg = nullptr;
  };

  void SetUp() override {
    block::QueueLimits lim;
    lim.rotational = rotational_;
    q_ = std::make_unique<block::RequestQueue>(&driver_, block::TagSetConfig{1, 64}, lim, &clock_);
    ASSERT_EQ(q_->set_elevator("bfq"), 0);
    bfq_ = dynamic_cast<Bfq*>(q_->elevator());
    ASSERT_NE(bfq_, nullptr);
    bfq_->set_kick([](void* p) { ++*static_cast<int*>(p); }, &kicks_);
  }

  void TearDown() override {
    if (bfq_) {
      for (;;) {
        block::Request* rq = dispatch();
        if (!rq) {
          // An idling queue holds the rest until its timer fires.
          if (!clock_.run_one()) break;
          continue;
        }
        complete(rq);
      }
    }
    q_.reset();
    for (Proc& p : procs_) task::put_io_context(p.ioc);
  }

  Proc* proc(int pid, std::uint16_t ioprio, block::sector_t start = 0) {
    procs_.push_back({task::alloc_io_context(), pid, ioprio, start});
    return &procs_.back();
  }

  block::Request* make(Proc* p, block::sector_t sector, std::uint32_t sectors = 8,
                       std::uint32_t opf = block::REQ_OP_READ | block::REQ_SYNC) {
    auto& t = *rqs_.emplace_back(std::make_unique<BfqTestRq>());
    t.bio.bi_opf = opf;
    t.bio.bi_ioprio = p->ioprio;
    t.bio.bi_blkcg = p->cg;
    t.bio.bi_iter.bi_sector = sector;
    t.bio.bi_iter.bi_size = sectors << block::kSectorShift;
    block::Request* rq = &t.rq;
    rq->q = q_.get();
    rq->mq_hctx = q_->hctx(0);
    rq->cmd_flags = opf;
    rq->ioprio = p->ioprio;
    rq->pid = p->pid;
    rq->__sector = sector;
    rq->__data_len = sectors << block::kSectorShift;
    rq->bio = rq->biotail = &t.bio;
    rq->nr_phys_segments = 1;
    rq->start_time_ns = clock_.now();
    rq->rq_flags = block::RQF_USE_SCHED;
    bfq_->assign_ioc(rq, p->ioc);
    return rq;
  }

  void insert(block::Request* rq) {
    core::ListHead list;
    rq->queuelist.add_tail(&list);
    bfq_->insert_requests(q_->hctx(0), &list, block::INSERT_NONE);
  }

  // The process's next read: sequential but for a gap of 8 sectors, so that
  // queued reads stay separate requests (not merged) yet are not seeky.
  block::Request* read_next(Proc* p, std::uint32_t sectors = 8) {
    block::Request* rq = make(p, p->next, sectors);
    p->next += sectors + 8;
    insert(rq);
    return rq;
  }

  block::Request* dispatch() { return bfq_->dispatch_request(q_->hctx(0)); }

  // Keeps four sequential reads queued for each process, completes every
  // dispatch at once, and returns the sectors each pid was served.
  std::map<int, std::uint64_t> backlogged(std::vector<Proc*> procs, std::uint64_t total,
                                          std::uint32_t rq_sectors = 256,
                                          const std::function<void(block::Request*)>& each = {}) {
    std::map<block::Request*, Proc*> owner;
    for (Proc* p : procs)
      for (int i = 0; i < 4; ++i) owner[read_next(p, rq_sectors)] = p;
    std::map<int, std::uint64_t> served;
    std::uint64_t sum = 0;
    while (sum < total) {
      block::Request* rq = dispatch();
      if (!rq) {
        if (!clock_.run_one()) break;  // an idle timer ends the wait
        continue;
      }
      auto it = owner.find(rq);
      if (it == owner.end()) {  // left queued by an earlier call
        complete(rq);
        continue;
      }
      if (each) each(rq);
      Proc* p = it->second;
      served[p->pid] += block::blk_rq_sectors(rq);
      sum += block::blk_rq_sectors(rq);
      complete(rq);
      owner[read_next(p, rq_sectors)] = p;
    }
    return served;
  }

  void complete(block::Request* rq) {
    bfq_->completed_request(rq, clock_.now());
    bfq_->finish_request(rq);
  }

  void set(const char* attr, const char* value) { ASSERT_EQ(bfq_->attr_store(attr, value), 0); }
  std::string show(const char* attr) {
    std::string v;
    EXPECT_EQ(bfq_->attr_show(attr, &v), 0);
    return v;
  }
  void advance_ms(std::uint64_t ms) { clock_.advance_by(ms * core::kNsPerMs); }

  bool rotational_ = true;  // set before SetUp for a non-rotational queue
  core::VirtualClock clock_{0};
  BfqHoldDriver driver_;
  std::vector<std::unique_ptr<BfqTestRq>> rqs_;
  std::unique_ptr<block::RequestQueue> q_;
  Bfq* bfq_ = nullptr;
  int kicks_ = 0;
  std::deque<Proc> procs_;
};

}  // namespace iostack::sched::test
