// Device specifications as text, for job files, the command line and tests:
//   ram[:SIZE][,option=value...]    brd, default size 4 MiB
//   null[:SIZE][,option=value...]   null_blk, default size 250 GiB
//   loop:PATH[,option=value...]     loop over the file PATH (up to the first
//                                   comma), sized like the file by default
//   hdd:SIZE[,option=value...]      simulated hard disk (hdd_config.hpp)
//   ssd:SIZE[,option=value...]      simulated flash SSD (ssd_config.hpp)
// SIZE is bytes with an optional binary suffix K, M, G or T (also lower
// case), e.g. "ram:64M" or "null:1G,irqmode=timer,completion_nsec=10000".
// Options (null_blk's parameter names; aliases in parentheses):
//   both:  size, hw_queues (submit_queues), queue_depth (hw_queue_depth),
//          max_sectors
//   null:  bs (blocksize), irqmode (none|softirq|timer or 0|1|2),
//          completion_nsec, memory_backed, discard, write_cache, fua,
//          rotational, badblocks=START[-END] (sectors, inclusive, may repeat),
//          badblocks_once, badblocks_partial_io, busy=N, busy_delay_nsec
//   loop:  size (limits the device, or grows the file sparse when larger),
//          offset (SIZE), bs (blocksize; default 512, with dio the file's
//          direct I/O alignment), dio (direct_io), read_only (ro),
//          workers (I/O threads, default one per hardware queue)
//   hdd:   preset (desktop7200|enterprise15k, applied before the others),
//          rpm, heads, zones, spt_outer, spt_inner, seek_track_us,
//          seek_avg_us, seek_full_us, head_switch_us, overhead_us,
//          iface_mbps, cache (SIZE), cache_segments, write_cache,
//          idle_destage_us, max_wait_ms
//   ssd:   preset (nvme|sata), channels, dies, planes, pages_per_block,
//          op (percent), read_us, prog_us, erase_us, channel_mbps,
//          iface_mbps, overhead_us, buffer (SIZE), slc (SIZE), slc_prog_us
//   any:   powercut=1, powercut_ms, powercut_writes, powercut_mark,
//          powercut_order, powercut_atomic, powercut_seed: the device's own
//          power switch; the spec becomes a wcache over the device, sized
//          like its cache (hdd: the write-back half, ssd: its buffer).
//          Refused where the device's write cache is off (null, hdd).
// Booleans take 0/1, y/n, yes/no, on/off, true/false.
//
// Stacking targets wrap any spec, device-mapper style (target_config.hpp):
//   TARGET[,option=value...]:LOWER-SPEC
// The target's options come before the first colon; everything after it is
// the device below, which may itself be a target:
//   "delay,read_ms=5:flakey,up=10,down=2,drop_writes=1:ssd:1G,preset=nvme"
//   flakey:     up (up_interval), down (down_interval) in seconds,
//               error_reads, drop_writes, error_writes (booleans),
//               corrupt_bio_byte=N/r|w/VALUE/FLAGS, random_read_corrupt=P,
//               random_write_corrupt=P (P out of 1000000000), seed
//   dust:       bs (block size, default 512), badblocks=START[-END] (blocks,
//               inclusive, may repeat), enable, quiet
//   delay:      read_ms, write_ms (default read_ms), flush_ms (default
//               write_ms)
//   error:      ops (letters r, w, f, d; default rwfd), sectors=START-END
//               (inclusive), probability (a fraction 0..1), seed, status
//               (EIO, ENOSPC, ETIMEDOUT, ... or IOERR, NOSPC, ...)
//   log-writes: log=PATH (the log file, up to the next comma or colon)
//   wcache:     size (cache size), order (lose|fifo|any|torn: what a power
//               cut lets through), atomic (torn unit in bytes), seed,
//               powercut_ms, powercut_writes, powercut_mark
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "dev/hdd_config.hpp"
#include "dev/loop_config.hpp"
#include "dev/null_blk_config.hpp"
#include "dev/ram.hpp"
#include "dev/ssd_config.hpp"
#include "dev/target_config.hpp"

namespace iostack::dev {

enum class DeviceKind {
  kRam,
  kNull,
  kLoop,
  kHdd,
  kSsd,
  kFlakey,
  kDust,
  kDelay,
  kError,
  kLogWrites,
  kWcache,
};

struct DeviceSpec {
  DeviceKind kind = DeviceKind::kRam;
  RamConfig ram;       // when kind == kRam
  NullBlkConfig null;  // when kind == kNull
  LoopConfig loop;     // when kind == kLoop
  HddConfig hdd;       // when kind == kHdd
  SsdConfig ssd;       // when kind == kSsd
  FlakeyConfig flakey;
  DustConfig dust;
  DelayConfig delay;
  ErrorConfig error;
  LogWritesConfig log_writes;
  WcacheConfig wcache;
  std::shared_ptr<const DeviceSpec> lower;  // the device below a target

  bool is_target() const { return kind >= DeviceKind::kFlakey; }
};

// Parses `text` into *out. On a bad spec returns false, leaves *out alone and
// sets *err to one line naming the spec and the bad part. Never throws.
bool parse_device_spec(std::string_view text, DeviceSpec* out, std::string* err);

// True when `text` starts with a device or target type ("ram", "flakey",
// ...) rather than being a file name.
bool names_device_spec(std::string_view text);

// Empty when usable, else one line naming the option.
std::string validate(const RamConfig& cfg);
std::string validate(const DeviceSpec& spec);

}  // namespace iostack::dev
