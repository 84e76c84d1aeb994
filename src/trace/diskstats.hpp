// /proc/diskstats: the per-device I/O accounting the kernel keeps in struct
// disk_stats (include/linux/part_stat.h) and prints in diskstats_show()
// (block/genhd.c), with the same field order, widths and integer truncation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace iostack::trace {

// One STAT_* group of struct disk_stats; ticks are in milliseconds.
struct DiskStatGroup {
  std::uint64_t ios = 0;
  std::uint64_t merges = 0;
  std::uint64_t sectors = 0;
  std::uint64_t ticks_ms = 0;

  bool operator==(const DiskStatGroup&) const = default;
};

struct DiskStats {
  DiskStatGroup read, write, discard;
  DiskStatGroup flush;  // only ios and ticks_ms are shown; flushes never merge
  std::uint64_t in_flight = 0;
  std::uint64_t io_ticks_ms = 0;
  // The kernel derives this as (read + write + discard + flush time in ns)
  // / 1e6, i.e. the sum of the groups' un-rounded ticks.
  std::uint64_t time_in_queue_ms = 0;

  bool operator==(const DiskStats&) const = default;
};

// One /proc/diskstats line, newline included:
// "%4d %7d %s" then read ios merges sectors ticks, write (same four),
// in_flight io_ticks time_in_queue, discard (four), flush ios ticks. Ticks,
// in_flight, io_ticks and time_in_queue are 32-bit in the kernel and wrap.
std::string format_diskstats_line(unsigned major, unsigned minor, const std::string& name,
                                  const DiskStats& s);

// Parses a line in that layout (a trailing newline is allowed). Lines from
// kernels before 4.18 (11 counters) and 5.5 (15) are accepted; the missing
// groups stay 0. False and *err on anything else.
bool parse_diskstats_line(std::string_view line, unsigned* major, unsigned* minor,
                          std::string* name, DiskStats* s, std::string* err);

}  // namespace iostack::trace
