// Presets and validation of simulated SSDs.
#include "dev/ssd_config.hpp"

#include "block/blk_types.hpp"

namespace iostack::dev {

namespace {
constexpr core::Nanos us(std::uint64_t n) { return n * core::kNsPerUs; }
}  // namespace

bool ssd_preset(std::string_view name, SsdConfig* c) {
  const std::uint64_t size = c->size_bytes;
  SsdConfig p;  // the defaults are the NVMe class
  if (name == "nvme") {
  } else if (name == "sata") {
    // A SATA 6 Gb/s drive: 4 channels, 550 MB/s link, queue of 32.
    p.channels = 4;
    p.dies = 2;
    p.planes = 2;
    p.t_read = us(50);
    p.t_prog = us(150);
    p.channel_mbps = 400;
    p.iface_mbps = 550;
    p.overhead = us(20);
    p.queue_depth = 32;
    p.buffer_bytes = 32ull << 20;
  } else {
    return false;
  }
  p.size_bytes = size;
  *c = p;
  return true;
}

std::string validate(const SsdConfig& c) {
  auto bad = [](const char* what, std::uint64_t v) {
    return std::string(what) + ", got " + std::to_string(v);
  };
  if (c.size_bytes < (1u << 20) || c.size_bytes % 4096)
    return bad("size: expected a multiple of 4096 bytes, at least 1M", c.size_bytes);
  if (c.channels < 1 || c.channels > 64) return bad("channels: expected 1 to 64", c.channels);
  if (c.dies < 1 || c.dies > 64) return bad("dies: expected 1 to 64", c.dies);
  if (c.planes < 1 || c.planes > 16) return bad("planes: expected 1 to 16", c.planes);
  if (c.pages_per_block < 4 || c.pages_per_block > 65536)
    return bad("pages_per_block: expected 4 to 65536", c.pages_per_block);
  if (c.op_percent < 1 || c.op_percent > 400)
    return bad("op: expected 1 to 400 (percent)", c.op_percent);
  if (c.channel_mbps == 0 || c.iface_mbps == 0)
    return bad("channel_mbps, iface_mbps: expected more than 0", 0);
  if (c.buffer_bytes > (4ull << 30)) return bad("buffer: expected at most 4G", c.buffer_bytes);
  if (c.hw_queues < 1 || c.hw_queues > 1024)
    return bad("hw_queues: expected 1 to 1024", c.hw_queues);
  if (c.queue_depth < 1 || c.queue_depth > 10240)
    return bad("queue_depth: expected 1 to 10240", c.queue_depth);
  if (c.max_sectors != 0 && c.max_sectors < 8)
    return bad("max_sectors: expected 0 (default) or at least 8", c.max_sectors);
  return {};
}

}  // namespace iostack::dev
