// A request queue on a virtual clock with a driver that records what reaches
// it, for tests of the submission path (plugging, merging, flushes, splits).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/driver.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "core/virtual_clock.hpp"
#include "task/ioprio.hpp"

namespace iostack::block::test {

constexpr std::uint16_t kPrioRt = task::prio_value(task::kClassRt, 0);
constexpr std::uint16_t kPrioBe = task::prio_value(task::kClassBe, 0);
constexpr std::uint16_t kPrioIdle = task::prio_value(task::kClassIdle, 0);

// What the driver saw for one queue_rq call.
struct Issued {
  sector_t sector;
  std::uint32_t bytes;
  std::uint32_t opf;
  unsigned segments;
  unsigned bios;
  std::uint16_t ioprio;
};

class RecordingDriver final : public BlockDriver {
 public:
  enum class Mode { kInline, kHold, kTimer };

  const char* name() const override { return "recording"; }
  std::size_t cmd_size() const override { return sizeof(core::Timer); }

  BlkStatus queue_rq(HwCtx*, Request* rq, bool) override {
    if (busy > 0) {
      --busy;
      return BlkStatus::DEV_RESOURCE;
    }
    unsigned nbios = 0;
    for (Bio* b = rq->bio; b; b = b->bi_next) ++nbios;
    issued.push_back(
        {blk_rq_pos(rq), blk_rq_bytes(rq), rq->cmd_flags, rq->nr_phys_segments, nbios, rq->ioprio});
    if (fail_status != BlkStatus::OK) {
      const BlkStatus s = fail_status;
      blk_mq_end_request(rq, s);
      return BlkStatus::OK;
    }
    switch (mode) {
      case Mode::kInline:
        blk_mq_end_request(rq, BlkStatus::OK);
        break;
      case Mode::kHold:
        held.push_back(rq);
        break;
      case Mode::kTimer: {
        auto* t = new (rq->pdu) core::Timer{};
        t->fn = [](core::Timer* tm) {
          blk_mq_end_request(static_cast<Request*>(tm->priv), BlkStatus::OK);
        };
        t->priv = rq;
        clock->arm(t, clock->now() + latency_ns);
        break;
      }
    }
    return BlkStatus::OK;
  }

  // Completes the requests held now, in the order they were issued (ones
  // issued meanwhile stay held unless the mode changed).
  void complete_held(BlkStatus s = BlkStatus::OK) {
    std::vector<Request*> now;
    now.swap(held);
    for (Request* rq : now) blk_mq_end_request(rq, s);
  }

  Mode mode = Mode::kInline;
  core::VirtualClock* clock = nullptr;
  std::uint64_t latency_ns = 1000;
  int busy = 0;
  BlkStatus fail_status = BlkStatus::OK;
  std::vector<Issued> issued;
  std::vector<Request*> held;
};

// One submitted bio and its outcome.
struct Io {
  Bio bio;
  int done = 0;
  int err = 1;
};

class BlockTest : public ::testing::Test {
 protected:
  static constexpr sector_t kCapacity = 1u << 21;  // 1 GiB

  void make(const char* sched, QueueLimits lim = {}, unsigned depth = 64, unsigned hw_queues = 1) {
    if (!lim.max_hw_sectors) lim.max_hw_sectors = 2560;
    disk.reset();  // a disk must go before its queue
    q.reset();
    drv.clock = &clock;
    q = std::make_unique<RequestQueue>(&drv, TagSetConfig{hw_queues, depth}, lim, &clock);
    disk = std::make_unique<Disk>("tst0", 7, 0, kCapacity, q.get());
    ASSERT_EQ(q->set_elevator(sched), 0);
  }

  void TearDown() override {
    drv.mode = RecordingDriver::Mode::kInline;
    drv.complete_held();
    clock.run_until_idle();
    drv.complete_held();
  }

  static void end_io(Bio* bio) {
    auto* io = static_cast<Io*>(bio->bi_private);
    ++io->done;
    io->err = blk_status_to_errno(bio->bi_status);
  }

  // A bio over `bytes` of the test buffer at the same byte offset as `sector`.
  Io* make_io(std::uint32_t opf, sector_t sector, std::uint32_t bytes,
              std::uint16_t prio = kPrioBe) {
    ios.push_back(std::make_unique<Io>());
    Io* io = ios.back().get();
    bio_init(&io->bio, disk.get(), io->bio.bi_inline_vecs, kBioInlineVecs, opf);
    io->bio.bi_iter.bi_sector = sector;
    io->bio.bi_ioprio = prio;
    if (req_op(opf) == REQ_OP_READ || req_op(opf) == REQ_OP_WRITE) {
      if (bytes) bio_add_vec(&io->bio, buffer(sector, bytes), bytes);
    } else {
      io->bio.bi_iter.bi_size = bytes;
    }
    io->bio.bi_end_io = end_io;
    io->bio.bi_private = io;
    return io;
  }

  Io* submit(std::uint32_t opf, sector_t sector, std::uint32_t bytes,
             std::uint16_t prio = kPrioBe) {
    Io* io = make_io(opf, sector, bytes, prio);
    submit_bio(&io->bio);
    return io;
  }

  char* buffer(sector_t sector, std::uint32_t bytes) {
    const std::size_t off = (sector << kSectorShift) % (kBuf - bytes);
    auto base = reinterpret_cast<std::uintptr_t>(buf_.data());
    base = (base + 4095) & ~std::uintptr_t{4095};
    return reinterpret_cast<char*>(base) + (off & ~std::size_t{4095});
  }

  trace::DiskStats stats() const { return disk->stats(); }

  core::VirtualClock clock;
  RecordingDriver drv;
  std::unique_ptr<RequestQueue> q;
  std::unique_ptr<Disk> disk;
  std::vector<std::unique_ptr<Io>> ios;

 private:
  static constexpr std::size_t kBuf = 8u << 20;
  std::vector<char> buf_ = std::vector<char>(kBuf + 4096);
};

}  // namespace iostack::block::test
