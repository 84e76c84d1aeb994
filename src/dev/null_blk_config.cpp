// Parsing and validating null_blk's parameters.
#include "dev/null_blk_config.hpp"

#include <bit>

namespace iostack::dev {

std::string validate(const NullBlkConfig& c) {
  if (c.block_size < 512 || c.block_size > 4096 || !std::has_single_bit(c.block_size)) {
    return "bs: expected a power of two from 512 to 4096, got " + std::to_string(c.block_size);
  }
  if (c.size_bytes == 0 || c.size_bytes % c.block_size) {
    return "size: expected a non-zero multiple of the block size (" + std::to_string(c.block_size) +
           "), got " + std::to_string(c.size_bytes);
  }
  if (c.hw_queues < 1 || c.hw_queues > 1024) {
    return "hw_queues: expected 1 to 1024, got " + std::to_string(c.hw_queues);
  }
  if (c.queue_depth < 1 || c.queue_depth > 10240) {  // BLK_MQ_MAX_DEPTH
    return "queue_depth: expected 1 to 10240, got " + std::to_string(c.queue_depth);
  }
  if (static_cast<unsigned>(c.irqmode) > static_cast<unsigned>(NullIrqMode::kTimer)) {
    return "irqmode: expected none, softirq or timer";
  }
  // blk_validate_limits refuses commands smaller than a page.
  if (c.max_sectors != 0 && c.max_sectors < 8) {
    return "max_sectors: expected 0 (default) or at least 8, got " + std::to_string(c.max_sectors);
  }
  if (c.discard && !c.memory_backed) return "discard: requires memory_backed=1";
  for (const auto& r : c.badblocks) {
    if (r.start > r.end) {
      return "badblocks: range " + std::to_string(r.start) + "-" + std::to_string(r.end) +
             " ends before it starts";
    }
  }
  return {};
}

}  // namespace iostack::dev
