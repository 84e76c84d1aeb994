// Configuration of a loop device: what LOOP_CONFIGURE's struct loop_config
// and losetup's options give drivers/block/loop.c (backing file, offset,
// size limit, block size, direct I/O, read-only), plus the module's
// hw_queue_depth and iostack's own worker count.
#pragma once

#include <cstdint>
#include <string>

namespace iostack::dev {

// LOOP_DEFAULT_HW_Q_DEPTH.
constexpr unsigned kLoopDefaultQueueDepth = 128;
// The max_hw_sectors loop_add gives its queue (the historic
// BLK_DEF_MAX_SECTORS cap, 2560 sectors = 1280 KiB).
constexpr std::uint32_t kLoopMaxHwSectors = 2560;

struct LoopConfig {
  std::string path;  // the backing file (or block device)
  // 0: the file's size less `offset`. Smaller than that: a size limit
  // (lo_sizelimit). Larger: the file is grown to offset + size, sparse.
  std::uint64_t size_bytes = 0;
  std::uint64_t offset = 0;      // lo_offset: where the device starts in the file
  std::uint32_t block_size = 0;  // 0: 512, or with dio the file's direct I/O alignment
  bool dio = false;              // LO_FLAGS_DIRECT_IO: O_DIRECT on the backing file
  bool read_only = false;        // LO_FLAGS_READ_ONLY: open O_RDONLY, read-only disk
  unsigned workers = 0;          // I/O threads; 0: 16 with dio, else one per hardware queue
  unsigned hw_queues = 1;
  unsigned queue_depth = kLoopDefaultQueueDepth;
  std::uint32_t max_sectors = 0;  // 0: kLoopMaxHwSectors
};

// Empty when the configuration is usable as far as can be told without the
// file, else one line naming the option.
std::string validate(const LoopConfig& cfg);

}  // namespace iostack::dev
