// Configuration of a null_blk device: the module parameters and configfs
// attributes of drivers/block/null_blk/main.c that iostack implements, with
// the kernel's defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block/blk_types.hpp"
#include "core/clock.hpp"

namespace iostack::dev {

// NULL_IRQ_NONE / SOFTIRQ / TIMER: how a request is completed.
enum class NullIrqMode : unsigned {
  kNone = 0,     // inside queue_rq
  kSoftirq = 1,  // on the driver's completion thread
  kTimer = 2,    // completion_nsec after queue_rq, through the clock's timers
};

// One entry of the badblocks list; `end` is inclusive, as in configfs
// ("+start-end").
struct NullBadRange {
  block::sector_t start = 0;
  block::sector_t end = 0;
};

struct NullBlkConfig {
  std::uint64_t size_bytes = 250ull << 30;  // gb=250
  std::uint32_t block_size = 512;           // bs
  unsigned hw_queues = 1;                   // submit_queues
  unsigned queue_depth = 64;                // hw_queue_depth
  NullIrqMode irqmode = NullIrqMode::kSoftirq;
  core::Nanos completion_nsec = 10000;
  std::uint32_t max_sectors = 0;  // 0: BLK_SAFE_MAX_SECTORS
  // Keep written data (sparse pages) so it can be read back. Without it the
  // device transfers nothing: reads leave the caller's buffer untouched.
  bool memory_backed = false;
  bool discard = false;      // needs memory_backed, as in null_config_discard
  bool write_cache = false;  // report a volatile write cache (flushes are no-ops)
  bool fua = true;           // with write_cache: report FUA support
  bool rotational = false;

  // Fault injection. Requests (other than flushes) overlapping a bad range
  // fail with BLK_STS_IOERR (null_handle_badblocks).
  std::vector<NullBadRange> badblocks;
  bool badblocks_once = false;        // a range is cleared after it fails once
  bool badblocks_partial_io = false;  // memory: transfer the blocks before the bad one
  // The next `busy` calls of queue_rq answer BLK_STS_DEV_RESOURCE; the driver
  // then reruns the queues after busy_delay_nsec (its promise under
  // DEV_RESOURCE). Default delay: BLK_MQ_RESOURCE_DELAY, 3 ms.
  std::uint64_t busy = 0;
  core::Nanos busy_delay_nsec = 3 * core::kNsPerMs;
};

// Empty when the configuration is usable, else one line naming the option.
std::string validate(const NullBlkConfig& cfg);

}  // namespace iostack::dev
