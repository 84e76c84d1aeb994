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
// Booleans take 0/1, y/n, yes/no, on/off, true/false.
#pragma once

#include <string>
#include <string_view>

#include "dev/hdd_config.hpp"
#include "dev/loop_config.hpp"
#include "dev/null_blk_config.hpp"
#include "dev/ram.hpp"
#include "dev/ssd_config.hpp"

namespace iostack::dev {

enum class DeviceKind { kRam, kNull, kLoop, kHdd, kSsd };

struct DeviceSpec {
  DeviceKind kind = DeviceKind::kRam;
  RamConfig ram;       // when kind == kRam
  NullBlkConfig null;  // when kind == kNull
  LoopConfig loop;     // when kind == kLoop
  HddConfig hdd;       // when kind == kHdd
  SsdConfig ssd;       // when kind == kSsd
};

// Parses `text` into *out. On a bad spec returns false, leaves *out alone and
// sets *err to one line naming the spec and the bad part. Never throws.
bool parse_device_spec(std::string_view text, DeviceSpec* out, std::string* err);

// Empty when usable, else one line naming the option.
std::string validate(const RamConfig& cfg);
std::string validate(const DeviceSpec& spec);

}  // namespace iostack::dev
