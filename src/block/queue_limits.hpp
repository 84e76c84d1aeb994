// struct queue_limits (include/linux/blkdev.h): what one request may carry.
#pragma once

#include <cstdint>

#include "block/blk_types.hpp"

namespace iostack::block {

struct QueueLimits {
  std::uint32_t logical_block_size = 512;
  std::uint32_t physical_block_size = 512;
  std::uint32_t io_min = 512;
  std::uint32_t max_hw_sectors = 0;    // driver hard limit; 0: BLK_SAFE_MAX_SECTORS
  std::uint32_t max_sectors = 0;       // derived: min(hw, user or default cap)
  std::uint32_t max_user_sectors = 0;  // what the user asked for, 0 = default
  std::uint16_t max_segments = 128;    // BLK_MAX_SEGMENTS
  std::uint16_t max_discard_segments = 1;
  std::uint32_t max_segment_size = 65536;  // BLK_MAX_SEGMENT_SIZE
  std::uint64_t seg_boundary_mask = 0xFFFFFFFFull;
  std::uint32_t chunk_sectors = 0;
  std::uint32_t max_discard_sectors = 0;  // 0: discard not supported
  std::uint32_t max_write_zeroes_sectors = 0;
  std::uint32_t discard_granularity = 0;
  bool rotational = false;
  bool wc_feature = false;   // device has a volatile write cache (BLK_FEAT_WRITE_CACHE)
  bool wc_disabled = false;  // user chose "write through" (BLK_FLAG_WRITE_CACHE_DISABLED)
  bool fua_feature = false;  // device honours REQ_FUA (BLK_FEAT_FUA)
  // Derived by blk_validate_limits: the cache is in use, and FUA with it.
  bool write_cache = false;
  bool fua = false;
};

// BLK_DEF_MAX_SECTORS_CAP: the default soft cap on max_sectors (2560 = 1280 KiB).
constexpr std::uint32_t kDefMaxSectorsCap = 2560;

// blk_validate_limits: fills defaults and derived fields; 0 or -EINVAL.
int blk_validate_limits(QueueLimits* lim);

}  // namespace iostack::block
