// Configuration of a simulated flash SSD (ssd:SIZE[,options]): NAND layout
// and timings, over-provisioning, SLC cache and queue, with class presets
// (README, "Simulated disks"). A "page" is the FTL's 4 KiB mapping unit;
// its times are per such page.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace iostack::dev {

struct SsdConfig {
  std::uint64_t size_bytes = 64ull << 30;
  unsigned channels = 8;
  unsigned dies = 4;    // per channel
  unsigned planes = 2;  // per die; each plane programs and erases on its own
  unsigned pages_per_block = 256;
  unsigned op_percent = 7;  // physical pages beyond the user's, in % of theirs
  core::Nanos t_read = 40 * core::kNsPerUs;
  core::Nanos t_prog = 120 * core::kNsPerUs;
  core::Nanos t_erase = 3000 * core::kNsPerUs;
  std::uint64_t channel_mbps = 1200;          // NAND bus per channel
  std::uint64_t iface_mbps = 3500;            // host link
  core::Nanos overhead = 5 * core::kNsPerUs;  // controller time per command
  // Controller RAM taking written data ahead of the flash (protected from
  // power loss, so nothing to flush): a write completes once its pages are
  // in it; 0: writes complete when programmed.
  std::uint64_t buffer_bytes = 64ull << 20;
  std::uint64_t slc_bytes = 0;  // SLC write cache; 0: none
  core::Nanos t_slc_prog = 30 * core::kNsPerUs;
  unsigned hw_queues = 1;
  unsigned queue_depth = 256;
  std::uint32_t max_sectors = 0;
};

bool ssd_preset(std::string_view name, SsdConfig* c);
std::string validate(const SsdConfig& c);

}  // namespace iostack::dev
