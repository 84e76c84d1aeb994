// Configuration of a simulated hard disk (hdd:SIZE[,options]): geometry,
// mechanics, cache and queue, with presets from published drive datasheets
// (README, "Simulated disks").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace iostack::dev {

struct HddConfig {
  std::uint64_t size_bytes = 1ull << 40;
  unsigned rpm = 7200;
  unsigned heads = 2;                              // recording surfaces
  unsigned zones = 16;                             // zoned recording: tracks per zone are equal
  unsigned spt_outer = 3418;                       // sectors per track in the outermost zone
  unsigned spt_inner = 1709;                       // ... and in the innermost one
  core::Nanos seek_track = 1000 * core::kNsPerUs;  // one-cylinder seek
  core::Nanos seek_avg = 8500 * core::kNsPerUs;    // a seek over a third of the stroke
  core::Nanos seek_full = 17000 * core::kNsPerUs;  // full stroke
  core::Nanos head_switch = 800 * core::kNsPerUs;  // to another surface, same cylinder
  core::Nanos overhead = 50 * core::kNsPerUs;      // controller time per command
  std::uint64_t iface_mbps = 600;                  // host transfer (MB/s) for cache hits
  std::uint64_t cache_bytes = 64ull << 20;         // half read segments, half write-back
  unsigned cache_segments = 16;                    // read (read-ahead) segments
  bool write_cache = true;
  core::Nanos idle_destage = 1000 * core::kNsPerUs;  // idle time before write-back starts
  core::Nanos max_wait = 1000 * core::kNsPerMs;      // NCQ aging: older requests go first
  unsigned hw_queues = 1;
  unsigned queue_depth = 32;  // NCQ
  std::uint32_t max_sectors = 0;
};

// Fills *c with a named preset (keeping size_bytes); false when unknown.
bool hdd_preset(std::string_view name, HddConfig* c);
// Empty when usable, else one line naming the option.
std::string validate(const HddConfig& c);

}  // namespace iostack::dev
