// Presets and validation of simulated hard disks.
#include "dev/hdd_config.hpp"

#include "block/blk_types.hpp"

namespace iostack::dev {

namespace {
constexpr core::Nanos us(std::uint64_t n) { return n * core::kNsPerUs; }
}  // namespace

bool hdd_preset(std::string_view name, HddConfig* c) {
  const std::uint64_t size = c->size_bytes;
  HddConfig p;
  if (name == "desktop7200") {
    // Seagate BarraCuda 1TB ST1000DM010 (data sheet): 7200 rpm, one platter,
    // 64 MB cache, 210 MB/s sustained at the outer diameter -> 3418 sectors
    // per track. Seeks are not in that sheet: the average (8.5 ms, reads)
    // is the Barracuda 7200.12 product manual's; track-to-track, inner-zone
    // rate, full stroke and head switch are estimates.
    p.rpm = 7200;
    p.heads = 2;
    p.spt_outer = 3418;
    p.spt_inner = 1709;
    p.seek_track = us(1000);
    p.seek_avg = us(8500);
    p.seek_full = us(17000);
    p.head_switch = us(800);
    p.cache_bytes = 64ull << 20;
    p.queue_depth = 32;
  } else if (name == "enterprise15k") {
    // Seagate Cheetah 15K.7 SAS ST3600057SS (product manual 100516226):
    // 15000 rpm, 4 platters / 8 heads, 16 MB cache, 122-204 MB/s sustained
    // (953-1594 sectors per track), track-to-track 0.2 ms, average 3.4 ms
    // (reads). Full stroke and head switch are estimates.
    p.rpm = 15000;
    p.heads = 8;
    p.spt_outer = 1594;
    p.spt_inner = 953;
    p.seek_track = us(200);
    p.seek_avg = us(3400);
    p.seek_full = us(7500);
    p.head_switch = us(300);
    p.overhead = us(20);
    p.cache_bytes = 16ull << 20;
    p.queue_depth = 64;
  } else {
    return false;
  }
  p.size_bytes = size;
  *c = p;
  return true;
}

std::string validate(const HddConfig& c) {
  auto bad = [](const char* what, std::uint64_t v) {
    return std::string(what) + ", got " + std::to_string(v);
  };
  if (c.size_bytes == 0 || c.size_bytes % block::kSectorSize)
    return bad("size: expected a non-zero multiple of 512 bytes", c.size_bytes);
  if (c.rpm < 1000 || c.rpm > 30000) return bad("rpm: expected 1000 to 30000", c.rpm);
  if (c.heads < 1 || c.heads > 64) return bad("heads: expected 1 to 64", c.heads);
  if (c.zones < 1 || c.zones > 1024) return bad("zones: expected 1 to 1024", c.zones);
  if (c.spt_outer < 1 || c.spt_outer > 100000)
    return bad("spt_outer: expected 1 to 100000", c.spt_outer);
  if (c.spt_inner < 1 || c.spt_inner > c.spt_outer)
    return bad("spt_inner: expected 1 to spt_outer", c.spt_inner);
  if (c.seek_track == 0) return bad("seek_track_us: expected more than 0", 0);
  if (c.seek_avg <= c.seek_track)
    return bad("seek_avg_us: expected more than seek_track_us", c.seek_avg / core::kNsPerUs);
  if (c.seek_full < c.seek_avg)
    return bad("seek_full_us: expected at least seek_avg_us", c.seek_full / core::kNsPerUs);
  if (c.iface_mbps == 0) return bad("iface_mbps: expected more than 0", 0);
  if (c.cache_segments < 1 || c.cache_segments > 256)
    return bad("cache_segments: expected 1 to 256", c.cache_segments);
  if (c.hw_queues < 1 || c.hw_queues > 1024)
    return bad("hw_queues: expected 1 to 1024", c.hw_queues);
  if (c.queue_depth < 1 || c.queue_depth > 10240)
    return bad("queue_depth: expected 1 to 10240", c.queue_depth);
  if (c.max_sectors != 0 && c.max_sectors < 8)
    return bad("max_sectors: expected 0 (default) or at least 8", c.max_sectors);
  return {};
}

}  // namespace iostack::dev
