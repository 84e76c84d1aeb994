// dm-flakey: periodic unreliability over another device.
#include "dev/flakey.hpp"

#include <cstring>

#include "block/bio.hpp"
#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

namespace {

enum : std::uint32_t { kCanCorrupt = 1 };

// Sets byte `idx` of the bio's data; false when the bio is shorter.
bool corrupt_bio(const block::Bio* bio, std::uint32_t idx, std::uint8_t value) {
  bool done = false;
  block::bio_for_each_segment(bio, [&](void* data, std::uint32_t len) {
    if (done) return;
    if (idx < len) {
      static_cast<unsigned char*>(data)[idx] = value;
      done = true;
    } else {
      idx -= len;
    }
  });
  return done;
}

bool flags_match(const block::Bio* bio, std::uint32_t flags) {
  return (bio->bi_opf & flags) == flags;
}

}  // namespace

std::string validate(const FlakeyConfig& c) {
  if (c.up_interval + static_cast<std::uint64_t>(c.down_interval) == 0)
    return "flakey: up + down interval is zero";
  if (c.drop_writes && c.error_writes) return "flakey: drop_writes conflicts with error_writes";
  const bool corrupt_w = c.corrupt_bio_byte && c.corrupt_write;
  const bool corrupt_r = c.corrupt_bio_byte && !c.corrupt_write;
  if (c.drop_writes && (corrupt_w || c.random_write_corrupt))
    return "flakey: drop_writes is incompatible with corrupting writes";
  if (c.error_writes && (corrupt_w || c.random_write_corrupt))
    return "flakey: error_writes is incompatible with corrupting writes";
  if (c.error_reads && (corrupt_r || c.random_read_corrupt))
    return "flakey: error_reads is incompatible with corrupting reads";
  if (c.random_read_corrupt > 1000000000 || c.random_write_corrupt > 1000000000)
    return "flakey: random corruption probability above 1000000000";
  return {};
}

FlakeyTarget::FlakeyTarget(const FlakeyConfig& cfg, std::unique_ptr<BlockDevice> lower,
                           core::Clock* clock)
    : TargetDriver(std::move(lower), clock), cfg_(cfg), start_(clock->now()), rng_(cfg.seed) {
  // parse_features: with nothing asked for, all I/O fails while down.
  if (!cfg_.corrupt_bio_byte && !cfg_.error_reads && !cfg_.drop_writes && !cfg_.error_writes &&
      !cfg_.random_read_corrupt && !cfg_.random_write_corrupt) {
    cfg_.error_reads = cfg_.error_writes = true;
  }
}

bool FlakeyTarget::is_down() const {
  const std::uint64_t elapsed = (clock()->now() - start_) / core::kNsPerSec;
  const std::uint64_t cycle = std::uint64_t{cfg_.up_interval} + cfg_.down_interval;
  return elapsed % cycle >= cfg_.up_interval;
}

TargetDriver::Map FlakeyTarget::map(TargetIo* io, block::BlkStatus* status) {
  if (!is_down()) return Map::kRemap;
  down_ios_.fetch_add(1, std::memory_order_relaxed);
  block::Request* rq = io->rq;
  const std::uint32_t op = block::req_op(rq);
  const bool has_data =
      (op == block::REQ_OP_READ || op == block::REQ_OP_WRITE) && rq->bio && block::blk_rq_bytes(rq);
  if (has_data) io->flags |= kCanCorrupt;
  if (!target_is_write(rq->cmd_flags)) {
    if (cfg_.error_reads) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      *status = block::BlkStatus::IOERR;
      return Map::kKill;
    }
    return Map::kRemap;  // end_io decides about corrupting
  }
  if (cfg_.drop_writes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return Map::kDone;
  }
  if (cfg_.error_writes) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    *status = block::BlkStatus::IOERR;
    return Map::kKill;
  }
  if (!has_data) return Map::kRemap;
  const bool fixed = cfg_.corrupt_bio_byte && cfg_.corrupt_write;
  const bool random = rng_.chance(cfg_.random_write_corrupt);
  if (fixed || random) corrupt_write(io, fixed, random);
  return Map::kRemap;
}

// The kernel corrupts a private copy of the data (clone_bio), never the
// writer's pages: so does this, one copy for the whole request.
void FlakeyTarget::corrupt_write(TargetIo* io, bool fixed, bool random) {
  block::Request* rq = io->rq;
  char* copy = new char[block::blk_rq_bytes(rq)];
  std::uint32_t off = 0;
  for (const block::Bio* b = rq->bio; b; b = b->bi_next) {
    const std::uint32_t start = off;
    block::bio_for_each_segment(b, [&](void* data, std::uint32_t len) {
      std::memcpy(copy + off, data, len);
      off += len;
    });
    const std::uint32_t size = off - start;
    if (fixed && flags_match(b, cfg_.corrupt_flags) && cfg_.corrupt_bio_byte - 1 < size) {
      copy[start + cfg_.corrupt_bio_byte - 1] = static_cast<char>(cfg_.corrupt_value);
      corrupted_.fetch_add(1, std::memory_order_relaxed);
    }
    if (random && size) {
      const std::uint64_t r = rng_.next();
      copy[start + r % size] = static_cast<char>(r >> 56);
      corrupted_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  io->bounce = copy;
}

void FlakeyTarget::end_io(TargetIo* io, block::BlkStatus* status) {
  if (*status != block::BlkStatus::OK || !(io->flags & kCanCorrupt)) return;
  if (target_is_write(io->rq->cmd_flags)) return;
  for (const block::Bio* b = io->rq->bio; b; b = b->bi_next) {
    if (cfg_.corrupt_bio_byte && !cfg_.corrupt_write && flags_match(b, cfg_.corrupt_flags) &&
        corrupt_bio(b, cfg_.corrupt_bio_byte - 1, cfg_.corrupt_value)) {
      corrupted_.fetch_add(1, std::memory_order_relaxed);
    }
    if (rng_.chance(cfg_.random_read_corrupt) && b->bi_iter.bi_size) {
      const std::uint64_t r = rng_.next();
      if (corrupt_bio(b, static_cast<std::uint32_t>(r % b->bi_iter.bi_size),
                      static_cast<std::uint8_t>(r >> 56)))
        corrupted_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

Counters FlakeyTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  return {{"flakey_down_ios", n(down_ios_)},
          {"flakey_read_errors", n(read_errors_)},
          {"flakey_write_errors", n(write_errors_)},
          {"flakey_writes_dropped", n(dropped_)},
          {"flakey_bytes_corrupted", n(corrupted_)}};
}

}  // namespace iostack::dev
