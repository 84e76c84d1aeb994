// A queue with kyber on a virtual clock, fed through submit_bio, and a driver
// that records each request's domain and can hold requests, complete them
// inline, or complete them after a per-domain latency.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/driver.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/virtual_clock.hpp"
#include "sched/kyber.hpp"

namespace iostack::sched::test {

using block::REQ_OP_DISCARD;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using block::REQ_OP_WRITE_ZEROES;
using block::sector_t;

class KyberDriver final : public block::BlockDriver {
 public:
  enum class Mode { kInline, kHold, kTimer };

  struct Issued {
    unsigned domain;
    sector_t sector;
    std::uint32_t sectors;
    unsigned bios;
    std::uint32_t opf;
  };

  const char* name() const override { return "kyber-test"; }
  std::size_t cmd_size() const override { return sizeof(core::Timer); }

  block::BlkStatus queue_rq(block::HwCtx*, block::Request* rq, bool) override {
    if (blocked) return block::BlkStatus::DEV_RESOURCE;
    const unsigned d = kyber_sched_domain(rq->cmd_flags);
    unsigned nbios = 0;
    for (block::Bio* b = rq->bio; b; b = b->bi_next) ++nbios;
    issued.push_back({d, block::blk_rq_pos(rq), block::blk_rq_sectors(rq), nbios, rq->cmd_flags});
    if (++in_flight[d] > max_in_flight[d]) max_in_flight[d] = in_flight[d];
    switch (mode) {
      case Mode::kInline:
        finish(rq);
        break;
      case Mode::kHold:
        held.push_back(rq);
        break;
      case Mode::kTimer: {
        auto* t = new (rq->pdu) core::Timer{};
        t->fn = [](core::Timer* tm) {
          auto* r = static_cast<block::Request*>(tm->priv);
          static_cast<KyberDriver*>(r->q->driver())->finish(r);
        };
        t->priv = rq;
        clock->arm(t, clock->now() + latency_ns[d]);
        break;
      }
    }
    return block::BlkStatus::OK;
  }

  void finish(block::Request* rq) {
    --in_flight[kyber_sched_domain(rq->cmd_flags)];
    block::blk_mq_end_request(rq, block::BlkStatus::OK);
  }

  // Completes the oldest held request.
  void complete_oldest() {
    ASSERT_FALSE(held.empty());
    block::Request* rq = held.front();
    held.erase(held.begin());
    finish(rq);
  }

  // Completes what is held now (requests issued meanwhile stay held).
  void complete_held() {
    std::vector<block::Request*> now;
    now.swap(held);
    for (block::Request* rq : now) finish(rq);
  }

  std::string order() const {
    static constexpr char kLetter[] = {'R', 'W', 'D', 'O'};
    std::string s;
    for (const Issued& i : issued) s += kLetter[i.domain];
    return s;
  }

  Mode mode = Mode::kHold;
  bool blocked = false;  // answer DEV_RESOURCE
  core::VirtualClock* clock = nullptr;
  std::uint64_t latency_ns[kKyberNumDomains] = {1000, 1000, 1000, 1000};
  unsigned in_flight[kKyberNumDomains] = {};
  unsigned max_in_flight[kKyberNumDomains] = {};
  std::vector<Issued> issued;
  std::vector<block::Request*> held;
};

struct KyIo {
  block::Bio bio;
  int done = 0;
  int err = 1;
};

class KyberTest : public ::testing::Test {
 protected:
  static constexpr sector_t kCapacity = sector_t{1} << 21;  // 1 GiB

  void make(unsigned depth = 128, unsigned hw_queues = 1, block::QueueLimits lim = {}) {
    lim.max_hw_sectors = 2560;
    lim.max_discard_sectors = 2048;
    lim.max_write_zeroes_sectors = 2048;
    drv.clock = &clock;
    q = std::make_unique<block::RequestQueue>(&drv, block::TagSetConfig{hw_queues, depth}, lim,
                                              &clock);
    disk = std::make_unique<block::Disk>("kyb0", 7, 0, kCapacity, q.get());
    ASSERT_EQ(q->attr_store("scheduler", "kyber"), 0);
    ky = dynamic_cast<Kyber*>(q->elevator());
    ASSERT_NE(ky, nullptr);
  }

  void TearDown() override {
    if (!q) return;
    drv.blocked = false;
    drv.mode = KyberDriver::Mode::kInline;
    for (unsigned i = 0; i < q->nr_hw_queues(); ++i) block::blk_mq_run_hw_queue(q->hctx(i));
    drv.complete_held();
    clock.run_until_idle();
    drv.complete_held();
  }

  static void end_io(block::Bio* bio) {
    auto* io = static_cast<KyIo*>(bio->bi_private);
    ++io->done;
    io->err = block::blk_status_to_errno(bio->bi_status);
  }

  KyIo* make_io(std::uint32_t opf, sector_t sector, std::uint32_t sectors = 8) {
    ios.push_back(std::make_unique<KyIo>());
    KyIo* io = ios.back().get();
    block::bio_init(&io->bio, disk.get(), io->bio.bi_inline_vecs, block::kBioInlineVecs, opf);
    io->bio.bi_iter.bi_sector = sector;
    const std::uint32_t bytes = sectors << block::kSectorShift;
    const auto op = block::req_op(opf);
    if (op == REQ_OP_READ || op == REQ_OP_WRITE)
      block::bio_add_vec(&io->bio, aligned_buf(), bytes);
    else
      io->bio.bi_iter.bi_size = bytes;
    io->bio.bi_end_io = end_io;
    io->bio.bi_private = io;
    return io;
  }

  KyIo* submit(std::uint32_t opf, sector_t sector, std::uint32_t sectors = 8) {
    KyIo* io = make_io(opf, sector, sectors);
    block::submit_bio(&io->bio);
    return io;
  }

  unsigned done_count() const {
    unsigned n = 0;
    for (const auto& io : ios) n += io->done;
    return n;
  }

  // Completes held requests and fires timers until every bio has ended.
  void drain_hold(unsigned max_steps = 100000) {
    for (unsigned i = 0; i < max_steps && done_count() < ios.size(); ++i) {
      if (!drv.held.empty())
        drv.complete_held();
      else
        clock.run_one();
    }
  }

  char* aligned_buf() {
    auto base = reinterpret_cast<std::uintptr_t>(buf_.data());
    return reinterpret_cast<char*>((base + 4095) & ~std::uintptr_t{4095});
  }

  core::VirtualClock clock;
  KyberDriver drv;
  std::unique_ptr<block::RequestQueue> q;
  std::unique_ptr<block::Disk> disk;
  Kyber* ky = nullptr;
  std::vector<std::unique_ptr<KyIo>> ios;

 private:
  std::vector<char> buf_ = std::vector<char>((1u << 20) + 4096);
};

}  // namespace iostack::sched::test
