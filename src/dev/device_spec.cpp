// Parsing device specs (ram:, null:, loop:) with one clear error line.
#include "dev/device_spec.hpp"

#include <bit>
#include <charconv>
#include <cstdint>
#include <limits>

#include "dev/error_target.hpp"

namespace iostack::dev {

namespace {

bool parse_u64(std::string_view s, std::uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

// memparse-style: digits and an optional K/M/G/T (binary) suffix.
bool parse_size(std::string_view s, std::uint64_t* v) {
  unsigned shift = 0;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        break;
    }
  }
  if (shift) s.remove_suffix(1);
  std::uint64_t n;
  if (!parse_u64(s, &n) || n > (std::numeric_limits<std::uint64_t>::max() >> shift)) return false;
  *v = n << shift;
  return true;
}

// kstrtobool's spellings, plus true/false.
bool parse_bool(std::string_view s, bool* v) {
  for (std::string_view t : {"1", "y", "Y", "yes", "on", "true"}) {
    if (s == t) return *v = true, true;
  }
  for (std::string_view f : {"0", "n", "N", "no", "off", "false"}) {
    if (s == f) return *v = false, true;
  }
  return false;
}

template <typename T>
bool parse_uint(std::string_view s, T* v) {
  std::uint64_t n;
  if (!parse_u64(s, &n) || n > std::numeric_limits<T>::max()) return false;
  *v = static_cast<T>(n);
  return true;
}

bool parse_irqmode(std::string_view s, NullIrqMode* m) {
  if (s == "none" || s == "0") return *m = NullIrqMode::kNone, true;
  if (s == "softirq" || s == "1") return *m = NullIrqMode::kSoftirq, true;
  if (s == "timer" || s == "2") return *m = NullIrqMode::kTimer, true;
  return false;
}

bool parse_range(std::string_view s, NullBadRange* r) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_u64(s, &r->start)) return false;
    r->end = r->start;
    return true;
  }
  return parse_u64(s.substr(0, dash), &r->start) && parse_u64(s.substr(dash + 1), &r->end);
}

enum class Opt { kOk, kUnknown, kBad };

// Applies one option; on kBad, *expected says what the value should be.
Opt apply_common(std::string_view key, std::string_view val, std::uint64_t* size,
                 unsigned* hw_queues, unsigned* depth, std::uint32_t* max_sectors,
                 const char** expected) {
  if (key == "size") {
    *expected = "a size such as 4096, 64M or 1G";
    return parse_size(val, size) ? Opt::kOk : Opt::kBad;
  }
  *expected = "an unsigned number";
  if (key == "hw_queues" || key == "submit_queues") {
    return parse_uint(val, hw_queues) ? Opt::kOk : Opt::kBad;
  }
  if (key == "queue_depth" || key == "hw_queue_depth") {
    return parse_uint(val, depth) ? Opt::kOk : Opt::kBad;
  }
  if (key == "max_sectors") return parse_uint(val, max_sectors) ? Opt::kOk : Opt::kBad;
  return Opt::kUnknown;
}

Opt apply_null(std::string_view key, std::string_view val, NullBlkConfig* c,
               const char** expected) {
  const Opt common = apply_common(key, val, &c->size_bytes, &c->hw_queues, &c->queue_depth,
                                  &c->max_sectors, expected);
  if (common != Opt::kUnknown) return common;
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  *expected = "an unsigned number";
  if (key == "bs" || key == "blocksize") return result(parse_uint(val, &c->block_size));
  if (key == "completion_nsec") return result(parse_uint(val, &c->completion_nsec));
  if (key == "busy") return result(parse_uint(val, &c->busy));
  if (key == "busy_delay_nsec") return result(parse_uint(val, &c->busy_delay_nsec));
  if (key == "irqmode") {
    *expected = "none, softirq, timer, 0, 1 or 2";
    return result(parse_irqmode(val, &c->irqmode));
  }
  if (key == "badblocks") {
    *expected = "START or START-END in sectors";
    NullBadRange r;
    if (!parse_range(val, &r)) return Opt::kBad;
    c->badblocks.push_back(r);
    return Opt::kOk;
  }
  *expected = "a boolean (0 or 1)";
  if (key == "memory_backed") return result(parse_bool(val, &c->memory_backed));
  if (key == "discard") return result(parse_bool(val, &c->discard));
  if (key == "write_cache") return result(parse_bool(val, &c->write_cache));
  if (key == "fua") return result(parse_bool(val, &c->fua));
  if (key == "rotational") return result(parse_bool(val, &c->rotational));
  if (key == "badblocks_once") return result(parse_bool(val, &c->badblocks_once));
  if (key == "badblocks_partial_io") return result(parse_bool(val, &c->badblocks_partial_io));
  return Opt::kUnknown;
}

Opt apply_ram(std::string_view key, std::string_view val, RamConfig* c, const char** expected) {
  return apply_common(key, val, &c->size_bytes, &c->hw_queues, &c->queue_depth, &c->max_sectors,
                      expected);
}

Opt apply_loop(std::string_view key, std::string_view val, LoopConfig* c, const char** expected) {
  const Opt common = apply_common(key, val, &c->size_bytes, &c->hw_queues, &c->queue_depth,
                                  &c->max_sectors, expected);
  if (common != Opt::kUnknown) return common;
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  if (key == "offset") {
    *expected = "a size such as 4096, 64M or 1G";
    return result(parse_size(val, &c->offset));
  }
  *expected = "an unsigned number";
  if (key == "bs" || key == "blocksize") return result(parse_uint(val, &c->block_size));
  if (key == "workers") return result(parse_uint(val, &c->workers));
  *expected = "a boolean (0 or 1)";
  if (key == "dio" || key == "direct_io") return result(parse_bool(val, &c->dio));
  if (key == "read_only" || key == "ro") return result(parse_bool(val, &c->read_only));
  return Opt::kUnknown;
}

template <typename T>
Opt micros(std::string_view val, T* v) {
  std::uint64_t n;
  if (!parse_u64(val, &n) || n > (1ull << 40)) return Opt::kBad;
  *v = n * core::kNsPerUs;
  return Opt::kOk;
}

Opt apply_hdd(std::string_view key, std::string_view val, HddConfig* c, const char** expected) {
  const Opt common = apply_common(key, val, &c->size_bytes, &c->hw_queues, &c->queue_depth,
                                  &c->max_sectors, expected);
  if (common != Opt::kUnknown) return common;
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  if (key == "preset") return Opt::kOk;  // applied first, see parse_device_spec
  if (key == "cache") {
    *expected = "a size such as 8M";
    return result(parse_size(val, &c->cache_bytes));
  }
  *expected = "a boolean (0 or 1)";
  if (key == "write_cache") return result(parse_bool(val, &c->write_cache));
  *expected = "an unsigned number";
  if (key == "rpm") return result(parse_uint(val, &c->rpm));
  if (key == "heads") return result(parse_uint(val, &c->heads));
  if (key == "zones") return result(parse_uint(val, &c->zones));
  if (key == "spt_outer") return result(parse_uint(val, &c->spt_outer));
  if (key == "spt_inner") return result(parse_uint(val, &c->spt_inner));
  if (key == "iface_mbps") return result(parse_uint(val, &c->iface_mbps));
  if (key == "cache_segments") return result(parse_uint(val, &c->cache_segments));
  if (key == "seek_track_us") return micros(val, &c->seek_track);
  if (key == "seek_avg_us") return micros(val, &c->seek_avg);
  if (key == "seek_full_us") return micros(val, &c->seek_full);
  if (key == "head_switch_us") return micros(val, &c->head_switch);
  if (key == "overhead_us") return micros(val, &c->overhead);
  if (key == "idle_destage_us") return micros(val, &c->idle_destage);
  if (key == "max_wait_ms") {
    const Opt r = micros(val, &c->max_wait);
    c->max_wait *= 1000;
    return r;
  }
  return Opt::kUnknown;
}

Opt apply_ssd(std::string_view key, std::string_view val, SsdConfig* c, const char** expected) {
  const Opt common = apply_common(key, val, &c->size_bytes, &c->hw_queues, &c->queue_depth,
                                  &c->max_sectors, expected);
  if (common != Opt::kUnknown) return common;
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  if (key == "preset") return Opt::kOk;
  if (key == "slc") {
    *expected = "a size such as 8G, or 0";
    return result(parse_size(val, &c->slc_bytes));
  }
  if (key == "buffer") {
    *expected = "a size such as 64M, or 0";
    return result(parse_size(val, &c->buffer_bytes));
  }
  *expected = "an unsigned number";
  if (key == "channels") return result(parse_uint(val, &c->channels));
  if (key == "dies") return result(parse_uint(val, &c->dies));
  if (key == "planes") return result(parse_uint(val, &c->planes));
  if (key == "pages_per_block") return result(parse_uint(val, &c->pages_per_block));
  if (key == "op") return result(parse_uint(val, &c->op_percent));
  if (key == "channel_mbps") return result(parse_uint(val, &c->channel_mbps));
  if (key == "iface_mbps") return result(parse_uint(val, &c->iface_mbps));
  if (key == "read_us") return micros(val, &c->t_read);
  if (key == "prog_us") return micros(val, &c->t_prog);
  if (key == "erase_us") return micros(val, &c->t_erase);
  if (key == "overhead_us") return micros(val, &c->overhead);
  if (key == "slc_prog_us") return micros(val, &c->t_slc_prog);
  return Opt::kUnknown;
}

Opt apply_flakey(std::string_view key, std::string_view val, FlakeyConfig* c,
                 const char** expected) {
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  *expected = "a number of seconds";
  if (key == "up" || key == "up_interval") return result(parse_uint(val, &c->up_interval));
  if (key == "down" || key == "down_interval") return result(parse_uint(val, &c->down_interval));
  *expected = "a boolean (0 or 1)";
  if (key == "error_reads") return result(parse_bool(val, &c->error_reads));
  if (key == "drop_writes") return result(parse_bool(val, &c->drop_writes));
  if (key == "error_writes") return result(parse_bool(val, &c->error_writes));
  *expected = "a probability out of 1000000000";
  if (key == "random_read_corrupt") return result(parse_uint(val, &c->random_read_corrupt));
  if (key == "random_write_corrupt") return result(parse_uint(val, &c->random_write_corrupt));
  *expected = "an unsigned number";
  if (key == "seed") return result(parse_uint(val, &c->seed));
  if (key == "corrupt_bio_byte") {
    // dm-flakey's four arguments: <Nth_byte> <direction> <value> <flags>.
    *expected = "NTH_BYTE/DIRECTION/VALUE/FLAGS such as 32/r/1/0 (byte from 1, r or w, 0-255)";
    std::string_view part[4];
    std::string_view v = val;
    for (int i = 0; i < 4; ++i) {
      const auto slash = v.find('/');
      if ((slash == std::string_view::npos) != (i == 3)) return Opt::kBad;
      part[i] = v.substr(0, slash);
      v = slash == std::string_view::npos ? "" : v.substr(slash + 1);
    }
    std::uint32_t value;
    if (!parse_uint(part[0], &c->corrupt_bio_byte) || c->corrupt_bio_byte == 0) return Opt::kBad;
    if (part[1] != "r" && part[1] != "w" && part[1] != "R" && part[1] != "W") return Opt::kBad;
    c->corrupt_write = part[1] == "w" || part[1] == "W";
    if (!parse_uint(part[2], &value) || value > 255) return Opt::kBad;
    c->corrupt_value = static_cast<std::uint8_t>(value);
    return result(parse_uint(part[3], &c->corrupt_flags));
  }
  return Opt::kUnknown;
}

Opt apply_dust(std::string_view key, std::string_view val, DustConfig* c, const char** expected) {
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  *expected = "an unsigned number";
  if (key == "bs" || key == "blocksize") return result(parse_uint(val, &c->block_size));
  *expected = "a boolean (0 or 1)";
  if (key == "enable") return result(parse_bool(val, &c->enable));
  if (key == "quiet") return result(parse_bool(val, &c->quiet));
  if (key == "badblocks") {
    *expected = "START or START-END in blocks";
    NullBadRange r;
    if (!parse_range(val, &r) || r.end < r.start || r.end - r.start > (1u << 24)) return Opt::kBad;
    for (std::uint64_t b = r.start; b <= r.end; ++b) c->bad_blocks.push_back(b);
    return Opt::kOk;
  }
  return Opt::kUnknown;
}

Opt apply_wcache(std::string_view key, std::string_view val, WcacheConfig* c,
                 const char** expected) {
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  if (key == "size") {
    *expected = "a size such as 64M";
    return result(parse_size(val, &c->size_bytes));
  }
  if (key == "order") {
    *expected = "lose, fifo, any or torn";
    if (val == "lose") return c->order = CutOrder::kLose, Opt::kOk;
    if (val == "fifo") return c->order = CutOrder::kFifo, Opt::kOk;
    if (val == "any") return c->order = CutOrder::kAny, Opt::kOk;
    if (val == "torn") return c->order = CutOrder::kTorn, Opt::kOk;
    return Opt::kBad;
  }
  *expected = "an unsigned number";
  if (key == "atomic") return result(parse_uint(val, &c->atomic_bytes));
  if (key == "seed") return result(parse_u64(val, &c->seed));
  if (key == "powercut_ms") return result(parse_u64(val, &c->powercut_ms));
  if (key == "powercut_writes") return result(parse_u64(val, &c->powercut_writes));
  if (key == "powercut_mark") {
    *expected = "the text of a mark";
    c->powercut_mark = std::string(val);
    return result(!val.empty());
  }
  return Opt::kUnknown;
}

Opt apply_delay(std::string_view key, std::string_view val, DelayConfig* c, bool set[3],
                const char** expected) {
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  *expected = "milliseconds";
  if (key == "read_ms") return set[0] = true, result(parse_u64(val, &c->read_ms));
  if (key == "write_ms") return set[1] = true, result(parse_u64(val, &c->write_ms));
  if (key == "flush_ms") return set[2] = true, result(parse_u64(val, &c->flush_ms));
  return Opt::kUnknown;
}

Opt apply_error(std::string_view key, std::string_view val, ErrorConfig* c, const char** expected) {
  auto result = [](bool ok) { return ok ? Opt::kOk : Opt::kBad; };
  if (key == "ops") {
    *expected = "letters r, w, f, d (read, write, flush, discard)";
    unsigned ops = 0;
    for (char ch : val) {
      const auto at = std::string_view("rwfd").find(ch);
      if (at == std::string_view::npos) return Opt::kBad;
      ops |= 1u << at;
    }
    c->ops = ops;
    return result(ops != 0);
  }
  if (key == "sectors") {
    *expected = "START-END in sectors (inclusive)";
    NullBadRange r;
    if (!parse_range(val, &r) || r.end < r.start) return Opt::kBad;
    c->has_range = true;
    c->start = r.start;
    c->end = r.end;
    return Opt::kOk;
  }
  if (key == "probability") {
    *expected = "a fraction from 0 to 1, such as 0.01";
    double p;
    auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), p);
    if (val.empty() || ec != std::errc() || ptr != val.data() + val.size() || !(p >= 0) || p > 1)
      return Opt::kBad;
    c->probability = static_cast<std::uint32_t>(p * 1e9 + 0.5);
    return Opt::kOk;
  }
  if (key == "seed") {
    *expected = "an unsigned number";
    return result(parse_u64(val, &c->seed));
  }
  if (key == "status") {
    *expected = "a block status such as EIO, ENOSPC, ETIMEDOUT, ENODATA, ENOLINK";
    return result(parse_blk_status(val, &c->status));
  }
  return Opt::kUnknown;
}

}  // namespace

std::string validate(const RamConfig& c) {
  if (c.size_bytes == 0 || c.size_bytes % block::kSectorSize) {
    return "size: expected a non-zero multiple of 512 bytes, got " + std::to_string(c.size_bytes);
  }
  if (c.hw_queues < 1 || c.hw_queues > 1024) {
    return "hw_queues: expected 1 to 1024, got " + std::to_string(c.hw_queues);
  }
  if (c.queue_depth < 1 || c.queue_depth > 10240) {  // BLK_MQ_MAX_DEPTH
    return "queue_depth: expected 1 to 10240, got " + std::to_string(c.queue_depth);
  }
  if (c.max_sectors != 0 && c.max_sectors < 8) {
    return "max_sectors: expected 0 (default) or at least 8, got " + std::to_string(c.max_sectors);
  }
  return {};
}

std::string validate(const DeviceSpec& spec) {
  switch (spec.kind) {
    case DeviceKind::kRam:
      return validate(spec.ram);
    case DeviceKind::kNull:
      return validate(spec.null);
    case DeviceKind::kLoop:
      return validate(spec.loop);
    case DeviceKind::kHdd:
      return validate(spec.hdd);
    case DeviceKind::kSsd:
      return validate(spec.ssd);
    case DeviceKind::kFlakey:
      return validate(spec.flakey);
    case DeviceKind::kDust:
      return validate(spec.dust);
    case DeviceKind::kLogWrites:
      if (spec.log_writes.log_path.empty()) return "log-writes: missing log=PATH";
      return {};
    case DeviceKind::kWcache:
      if (spec.wcache.atomic_bytes &&
          (spec.wcache.atomic_bytes % 512 || !std::has_single_bit(spec.wcache.atomic_bytes)))
        return "wcache: atomic must be a power of 2 and a multiple of 512";
      return {};
    case DeviceKind::kDelay:
    case DeviceKind::kError:
      return {};
  }
  return "unknown device kind";
}

namespace {

bool parse_spec(std::string_view text, DeviceSpec* out, std::string* err);

struct TargetName {
  std::string_view name;
  DeviceKind kind;
};
constexpr TargetName kTargets[] = {
    {"flakey", DeviceKind::kFlakey},        {"dust", DeviceKind::kDust},
    {"delay", DeviceKind::kDelay},          {"error", DeviceKind::kError},
    {"log-writes", DeviceKind::kLogWrites}, {"wcache", DeviceKind::kWcache}};

// A device's own power switch: powercut (1: only the "powercut" message),
// powercut_ms, powercut_writes, powercut_mark, and what a cut lets through:
// powercut_order, powercut_atomic, powercut_seed (wcache's options).
Opt apply_powercut(std::string_view key, std::string_view val, WcacheConfig* c,
                   const char** expected) {
  if (key == "powercut") {
    bool on = false;
    *expected = "a boolean";
    return parse_bool(val, &on) && on ? Opt::kOk : Opt::kBad;
  }
  if (key == "powercut_order" || key == "powercut_atomic" || key == "powercut_seed")
    return apply_wcache(key.substr(9), val, c, expected);
  if (key == "powercut_ms" || key == "powercut_writes" || key == "powercut_mark")
    return apply_wcache(key, val, c, expected);
  return Opt::kUnknown;
}

// A device given a power switch keeps what it acknowledged in a volatile
// write cache until a FLUSH, a FUA write or its own write-back: the spec
// becomes a wcache target over the device, sized like the device's cache
// where it has one. A device whose write cache is turned off has nothing to
// lose, so the switch is refused there.
bool with_power_switch(DeviceSpec dev, WcacheConfig cut, DeviceSpec* out, std::string* err) {
  const bool write_through = (dev.kind == DeviceKind::kNull && !dev.null.write_cache) ||
                             (dev.kind == DeviceKind::kHdd && !dev.hdd.write_cache);
  if (write_through) {
    if (err) *err = "powercut: needs write_cache=1 (a write-through device loses nothing)";
    return false;
  }
  if (dev.kind == DeviceKind::kHdd) cut.size_bytes = dev.hdd.cache_bytes / 2;  // write-back half
  if (dev.kind == DeviceKind::kSsd) cut.size_bytes = dev.ssd.buffer_bytes;
  DeviceSpec spec;
  spec.kind = DeviceKind::kWcache;
  spec.wcache = std::move(cut);
  spec.lower = std::make_shared<DeviceSpec>(std::move(dev));
  *out = std::move(spec);
  return true;
}

// TARGET[,option=value...]:LOWER
bool parse_target(DeviceKind kind, std::string_view text, DeviceSpec* out, std::string* err) {
  auto fail = [&](const std::string& why) {
    if (err) *err = why;
    return false;
  };
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string_view name = head.substr(0, head.find(','));
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return fail("expected " + std::string(name) + "[,option=value...]:DEVICE-SPEC");
  }
  DeviceSpec spec;
  spec.kind = kind;
  bool delay_set[3] = {false, false, false};
  std::string_view rest = head.size() > name.size() ? head.substr(name.size() + 1) : "";
  if (head.size() > name.size() && rest.empty()) return fail("trailing comma");
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view tok = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) return fail("trailing comma");
    if (tok.empty()) return fail("empty option between commas");
    const auto eq = tok.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail("\"" + std::string(tok) + "\": expected option=value");
    }
    const std::string_view key = tok.substr(0, eq), val = tok.substr(eq + 1);
    const char* expected = "";
    Opt r = Opt::kUnknown;
    switch (kind) {
      case DeviceKind::kFlakey:
        r = apply_flakey(key, val, &spec.flakey, &expected);
        break;
      case DeviceKind::kDust:
        r = apply_dust(key, val, &spec.dust, &expected);
        break;
      case DeviceKind::kDelay:
        r = apply_delay(key, val, &spec.delay, delay_set, &expected);
        break;
      case DeviceKind::kError:
        r = apply_error(key, val, &spec.error, &expected);
        break;
      case DeviceKind::kWcache:
        r = apply_wcache(key, val, &spec.wcache, &expected);
        break;
      default:
        if (key == "log") {
          spec.log_writes.log_path = std::string(val);
          expected = "a file name";
          r = val.empty() ? Opt::kBad : Opt::kOk;
        }
        break;
    }
    if (r == Opt::kUnknown) {
      return fail("unknown option \"" + std::string(key) + "\" for a " + std::string(name) +
                  " target");
    }
    if (r == Opt::kBad) {
      return fail(std::string(key) + ": expected " + expected + ", got \"" + std::string(val) +
                  "\"");
    }
  }
  // dm-delay's defaults: writes like reads, flushes like writes.
  if (!delay_set[1]) spec.delay.write_ms = spec.delay.read_ms;
  if (!delay_set[2]) spec.delay.flush_ms = spec.delay.write_ms;
  if (kind == DeviceKind::kFlakey && !spec.flakey.up_interval && !spec.flakey.down_interval) {
    return fail("flakey: expected up=SECONDS and/or down=SECONDS");
  }
  if (const std::string why = validate(spec); !why.empty()) return fail(why);
  auto lower = std::make_shared<DeviceSpec>();
  if (!parse_spec(text.substr(colon + 1), lower.get(), err)) return false;
  spec.lower = std::move(lower);
  *out = std::move(spec);
  return true;
}

bool parse_spec(std::string_view text, DeviceSpec* out, std::string* err) {
  auto fail = [&](const std::string& why) {
    if (err) *err = why;
    return false;
  };
  const auto kind_end = text.find_first_of(":,");
  const std::string_view kind = text.substr(0, kind_end);
  for (const auto& t : kTargets) {
    if (kind == t.name) return parse_target(t.kind, text, out, err);
  }
  DeviceSpec spec;
  if (kind == "ram") {
    spec.kind = DeviceKind::kRam;
  } else if (kind == "null") {
    spec.kind = DeviceKind::kNull;
  } else if (kind == "loop") {
    spec.kind = DeviceKind::kLoop;
  } else if (kind == "hdd") {
    spec.kind = DeviceKind::kHdd;
  } else if (kind == "ssd") {
    spec.kind = DeviceKind::kSsd;
  } else {
    return fail("unknown device type \"" + std::string(kind) +
                "\" (expected ram, null, loop, hdd, ssd, flakey, dust, delay, error, "
                "log-writes or wcache)");
  }
  std::string_view rest = kind_end == std::string_view::npos ? "" : text.substr(kind_end);
  if (spec.kind == DeviceKind::kLoop && (rest.empty() || rest.front() != ':')) {
    return fail("expected loop:PATH[,option=value...]");
  }
  // A size may follow the colon directly: "ram:64M".
  bool size_allowed = !rest.empty() && rest.front() == ':';
  if (!rest.empty()) rest.remove_prefix(1);
  if (!text.empty() && kind_end != std::string_view::npos && rest.empty()) {
    return fail("nothing after \"" + std::string(text.substr(kind_end, 1)) + "\"");
  }
  if (spec.kind == DeviceKind::kLoop) {
    // The backing file runs up to the first comma; no size may follow it.
    const auto comma = rest.find(',');
    spec.loop.path = std::string(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    if (spec.loop.path.empty()) return fail("missing the backing file after \"loop:\"");
    if (comma != std::string_view::npos && rest.empty()) return fail("trailing comma");
    size_allowed = false;
  }
  // A preset sets every figure; the other options then change single ones.
  for (std::string_view r = rest; !r.empty();) {
    const auto comma = r.find(',');
    const std::string_view tok = r.substr(0, comma);
    r = comma == std::string_view::npos ? "" : r.substr(comma + 1);
    if (tok.substr(0, 7) != "preset=") continue;
    const std::string_view name = tok.substr(7);
    const bool ok = spec.kind == DeviceKind::kHdd   ? hdd_preset(name, &spec.hdd)
                    : spec.kind == DeviceKind::kSsd ? ssd_preset(name, &spec.ssd)
                                                    : false;
    if (!ok && (spec.kind == DeviceKind::kHdd || spec.kind == DeviceKind::kSsd)) {
      return fail("preset: expected " +
                  std::string(spec.kind == DeviceKind::kHdd ? "desktop7200 or enterprise15k"
                                                            : "nvme or sata") +
                  ", got \"" + std::string(name) + "\"");
    }
  }
  WcacheConfig cut;
  bool cut_set = false;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view tok = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) return fail("trailing comma");
    if (tok.empty()) return fail("empty option between commas");
    const auto eq = tok.find('=');
    std::string_view key = "size", val = tok;
    if (eq != std::string_view::npos) {
      key = tok.substr(0, eq);
      val = tok.substr(eq + 1);
    } else if (!size_allowed) {
      return fail("\"" + std::string(tok) + "\": expected option=value");
    }
    size_allowed = false;
    if (key.empty()) return fail("\"" + std::string(tok) + "\": missing option name");
    const char* expected = "";
    Opt r;
    if (key.substr(0, 8) == "powercut") {
      r = apply_powercut(key, val, &cut, &expected);
      cut_set |= r == Opt::kOk;
    } else if (spec.kind == DeviceKind::kRam) {
      r = apply_ram(key, val, &spec.ram, &expected);
    } else if (spec.kind == DeviceKind::kNull) {
      r = apply_null(key, val, &spec.null, &expected);
    } else if (spec.kind == DeviceKind::kHdd) {
      r = apply_hdd(key, val, &spec.hdd, &expected);
    } else if (spec.kind == DeviceKind::kSsd) {
      r = apply_ssd(key, val, &spec.ssd, &expected);
    } else {
      r = apply_loop(key, val, &spec.loop, &expected);
    }
    if (r == Opt::kUnknown) {
      return fail("unknown option \"" + std::string(key) + "\" for a " + std::string(kind) +
                  " device");
    }
    if (r == Opt::kBad) {
      return fail(std::string(key) + ": expected " + expected + ", got \"" + std::string(val) +
                  "\"");
    }
  }
  const std::string why = validate(spec);
  if (!why.empty()) return fail(why);
  if (cut_set) return with_power_switch(std::move(spec), std::move(cut), out, err);
  *out = std::move(spec);
  return true;
}

}  // namespace

bool names_device_spec(std::string_view text) {
  const std::string_view kind = text.substr(0, text.find_first_of(":,"));
  for (const auto& t : kTargets)
    if (kind == t.name) return true;
  return kind == "ram" || kind == "null" || kind == "loop" || kind == "hdd" || kind == "ssd";
}

bool parse_device_spec(std::string_view text, DeviceSpec* out, std::string* err) {
  std::string why;
  if (parse_spec(text, out, &why)) return true;
  if (err) *err = "device spec \"" + std::string(text) + "\": " + why;
  return false;
}

}  // namespace iostack::dev
