// Queue limit defaults and validation.
#include "block/queue_limits.hpp"

#include <algorithm>
#include <bit>

namespace iostack::block {
namespace {

constexpr std::uint32_t kMaxBlockSize = 64 * 1024;  // BLK_MAX_BLOCK_SIZE
constexpr std::uint32_t kMinSegmentSize = 4096;     // BLK_MIN_SEGMENT_SIZE
constexpr std::uint32_t kSafeMaxSectors = 255;      // BLK_SAFE_MAX_SECTORS

std::uint32_t round_down(std::uint32_t v, std::uint32_t m) { return v - v % m; }

}  // namespace

int blk_validate_limits(QueueLimits* lim) {
  if (!lim->logical_block_size) lim->logical_block_size = kSectorSize;
  if (lim->logical_block_size < kSectorSize || lim->logical_block_size > kMaxBlockSize ||
      !std::has_single_bit(lim->logical_block_size))
    return -EINVAL;
  if (lim->physical_block_size < lim->logical_block_size)
    lim->physical_block_size = lim->logical_block_size;
  else if (!std::has_single_bit(lim->physical_block_size))
    return -EINVAL;
  if (lim->io_min < lim->physical_block_size) lim->io_min = lim->physical_block_size;

  const std::uint32_t lbs_sectors = lim->logical_block_size >> kSectorShift;
  if (!lim->max_hw_sectors) lim->max_hw_sectors = kSafeMaxSectors;
  if (lim->max_hw_sectors < kMinSegmentSize / kSectorSize || lbs_sectors > lim->max_hw_sectors)
    return -EINVAL;
  lim->max_hw_sectors = round_down(lim->max_hw_sectors, lbs_sectors);
  if (lim->max_user_sectors) {
    if (lim->max_user_sectors < kMinSegmentSize / kSectorSize) return -EINVAL;
    lim->max_sectors = std::min(lim->max_hw_sectors, lim->max_user_sectors);
  } else {
    lim->max_sectors = std::min(lim->max_hw_sectors, kDefMaxSectorsCap);
  }
  lim->max_sectors = round_down(lim->max_sectors, lbs_sectors);

  if (!lim->max_segments) lim->max_segments = 128;  // BLK_MAX_SEGMENTS
  if (!lim->max_discard_segments) lim->max_discard_segments = 1;
  if (!lim->seg_boundary_mask) lim->seg_boundary_mask = 0xFFFFFFFFull;
  if (!lim->max_segment_size) lim->max_segment_size = 65536;
  if (lim->max_segment_size < kMinSegmentSize) return -EINVAL;
  if (lim->chunk_sectors && !std::has_single_bit(lim->chunk_sectors)) return -EINVAL;
  if (lim->discard_granularity < lim->physical_block_size && lim->max_discard_sectors)
    lim->discard_granularity = lim->physical_block_size;

  lim->write_cache = lim->wc_feature && !lim->wc_disabled;
  lim->fua = lim->write_cache && lim->fua_feature;
  return 0;
}

}  // namespace iostack::block
