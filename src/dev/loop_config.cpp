// Parsing and validating a loop device's configuration.
#include "dev/loop_config.hpp"

#include <bit>
#include <cstdint>
#include <limits>

namespace iostack::dev {

std::string validate(const LoopConfig& c) {
  if (c.path.empty()) return "expected loop:PATH, the backing file";
  // blk_validate_block_size: a power of two from 512 to BLK_MAX_BLOCK_SIZE.
  if (c.block_size != 0 &&
      (c.block_size < 512 || c.block_size > 65536 || !std::has_single_bit(c.block_size))) {
    return "bs: expected a power of two from 512 to 65536, got " + std::to_string(c.block_size);
  }
  if (c.size_bytes % 512) {
    return "size: expected a multiple of 512 bytes, got " + std::to_string(c.size_bytes);
  }
  // loop_set_status_from_info: offsets and limits beyond LLONG_MAX are -EOVERFLOW.
  constexpr std::uint64_t kMaxOff = std::numeric_limits<std::int64_t>::max();
  if (c.offset > kMaxOff) return "offset: " + std::to_string(c.offset) + " is beyond 2^63-1";
  if (c.size_bytes > kMaxOff - c.offset) {
    return "size: offset + size (" + std::to_string(c.offset) + " + " +
           std::to_string(c.size_bytes) + ") is beyond 2^63-1";
  }
  if (c.hw_queues < 1 || c.hw_queues > 1024) {
    return "hw_queues: expected 1 to 1024, got " + std::to_string(c.hw_queues);
  }
  if (c.queue_depth < 1 || c.queue_depth > 10240) {  // BLK_MQ_MAX_DEPTH
    return "queue_depth: expected 1 to 10240, got " + std::to_string(c.queue_depth);
  }
  if (c.workers > 1024) {
    return "workers: expected 0 (one per hardware queue) to 1024, got " + std::to_string(c.workers);
  }
  if (c.max_sectors != 0 && c.max_sectors < 8) {
    return "max_sectors: expected 0 (default) or at least 8, got " + std::to_string(c.max_sectors);
  }
  return {};
}

}  // namespace iostack::dev
