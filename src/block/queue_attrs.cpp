// The /sys/block/<dev>/queue attributes (block/blk-sysfs.c, elevator.c):
// show formats and store validation as Linux 6.18 answers them.
#include <climits>

#include "block/disk.hpp"
#include "block/elevator_registry.hpp"
#include "block/request_queue.hpp"
#include "core/kstrtox.hpp"
#include "core/mutex.hpp"

namespace iostack::block {
namespace {

constexpr const char* kIoschedPrefix = "iosched/";

// queue_var_store: a decimal unsigned value (kstrtoul), else -EINVAL.
int parse_uint(const std::string& v, unsigned* out) {
  int x;
  if (v.empty() || v[0] == '-' || core::kstrtoint(v.c_str(), 10, &x) < 0) return -EINVAL;
  *out = static_cast<unsigned>(x);
  return 0;
}

std::string strip(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::vector<std::string> RequestQueue::attr_names() const {
  std::vector<std::string> names = {"scheduler",
                                    "nr_requests",
                                    "max_sectors_kb",
                                    "max_hw_sectors_kb",
                                    "logical_block_size",
                                    "physical_block_size",
                                    "hw_sector_size",
                                    "minimum_io_size",
                                    "max_segments",
                                    "max_discard_segments",
                                    "max_segment_size",
                                    "chunk_sectors",
                                    "discard_granularity",
                                    "discard_max_bytes",
                                    "write_zeroes_max_bytes",
                                    "nomerges",
                                    "rotational",
                                    "write_cache",
                                    "fua",
                                    "iostats",
                                    "read_only"};
  if (elevator_)
    for (const auto& a : elevator_->attr_names()) names.push_back(kIoschedPrefix + a);
  return names;
}

int RequestQueue::attr_show(const std::string& name, std::string* out) const {
  const QueueLimits& l = limits_;
  auto num = [&](std::uint64_t v) {
    *out = std::to_string(v);
    return 0;
  };
  if (name == "scheduler") {
    // As elv_iosched_show prints it: none first, the active one bracketed.
    const std::string cur = elevator_ ? elevator_->name() : "none";
    std::string s = cur == "none" ? "[none]" : "none";
    for (const auto& n : elevator_names()) s += n == cur ? " [" + n + "]" : " " + n;
    *out = s;
    return 0;
  }
  if (name == "nr_requests") return num(nr_requests_);
  if (name == "max_sectors_kb") return num(l.max_sectors >> 1);
  if (name == "max_hw_sectors_kb") return num(l.max_hw_sectors >> 1);
  if (name == "logical_block_size" || name == "hw_sector_size") return num(l.logical_block_size);
  if (name == "physical_block_size") return num(l.physical_block_size);
  if (name == "minimum_io_size") return num(l.io_min);
  if (name == "max_segments") return num(l.max_segments);
  if (name == "max_discard_segments") return num(l.max_discard_segments);
  if (name == "max_segment_size") return num(l.max_segment_size);
  if (name == "chunk_sectors") return num(l.chunk_sectors);
  if (name == "discard_granularity") return num(l.discard_granularity);
  if (name == "discard_max_bytes") return num(std::uint64_t{l.max_discard_sectors} << kSectorShift);
  if (name == "write_zeroes_max_bytes")
    return num(std::uint64_t{l.max_write_zeroes_sectors} << kSectorShift);
  if (name == "nomerges") return num(static_cast<std::uint64_t>(nomerges()));
  if (name == "rotational") return num(l.rotational);
  if (name == "write_cache") {
    *out = l.write_cache ? "write back" : "write through";
    return 0;
  }
  if (name == "fua") return num(l.fua);
  if (name == "iostats") return num(io_stat_);
  if (name == "read_only") return num(disk_ && disk_->read_only());
  if (starts_with(name, kIoschedPrefix) && elevator_)
    return elevator_->attr_show(name.substr(8), out);
  return -ENOENT;
}

int RequestQueue::attr_store(const std::string& name, const std::string& value) {
  if (name == "scheduler") return set_elevator(strip(value));
  if (starts_with(name, kIoschedPrefix)) {
    core::LockGuard lock(sysfs_lock_);
    return elevator_ ? elevator_->attr_store(name.substr(8), value) : -ENOENT;
  }
  if (name == "write_cache") {
    // queue_wc_store: "write back" keeps a cacheless device as it is.
    QueueLimits lim = limits_;
    if (starts_with(value, "write back"))
      lim.wc_disabled = false;
    else if (starts_with(value, "write through") || starts_with(value, "none"))
      lim.wc_disabled = true;
    else
      return -EINVAL;
    core::LockGuard lock(sysfs_lock_);
    return store_limits(lim);
  }
  unsigned v;
  if (int err = parse_uint(value, &v)) return err;
  core::LockGuard lock(sysfs_lock_);
  QueueLimits lim = limits_;
  if (name == "nr_requests") return set_nr_requests(v);
  if (name == "nomerges") {
    // Any non-zero value other than 2 means "simple merges only".
    set_nomerges(v == 2 ? 2 : (v ? 1 : 0));
    return 0;
  }
  if (name == "rotational") {
    lim.rotational = v != 0;
    return store_limits(lim);
  }
  if (name == "iostats") {
    io_stat_ = v != 0;
    return 0;
  }
  if (name == "max_sectors_kb") {
    if (v > UINT_MAX / 2) return -EINVAL;
    lim.max_user_sectors = v << 1;
    return store_limits(lim);
  }
  // The geometry below is fixed by the driver in Linux (read-only files);
  // iostack lets it change, with the same validation, for experiments.
  if (name == "logical_block_size") {
    lim.logical_block_size = v;
    if (lim.physical_block_size < v) lim.physical_block_size = v;
    return v ? store_limits(lim) : -EINVAL;
  }
  if (name == "physical_block_size") {
    if (v < lim.logical_block_size) return -EINVAL;
    lim.physical_block_size = v;
    return store_limits(lim);
  }
  if (name == "max_segments") {
    if (!v || v > 65535) return -EINVAL;
    lim.max_segments = static_cast<std::uint16_t>(v);
    return store_limits(lim);
  }
  if (name == "read_only") {
    if (!disk_) return -ENODEV;
    disk_->set_read_only(v != 0);
    return 0;
  }
  for (const auto& n : attr_names())
    if (n == name) return -EACCES;  // a read-only attribute
  return -ENOENT;
}

}  // namespace iostack::block
