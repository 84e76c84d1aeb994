// Formatting /proc/diskstats lines.
#include "trace/diskstats.hpp"

#include <fmt/format.h>

#include <charconv>
#include <vector>

namespace iostack::trace {
namespace {

// The kernel prints these through (unsigned int) casts.
std::uint32_t u32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

bool parse_u64(std::string_view tok, std::uint64_t* v) {
  const char* end = tok.data() + tok.size();
  auto [p, ec] = std::from_chars(tok.data(), end, *v);
  return ec == std::errc() && p == end;
}

}  // namespace

std::string format_diskstats_line(unsigned major, unsigned minor, const std::string& name,
                                  const DiskStats& s) {
  return fmt::format("{:4} {:7} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n", major,
                     minor, name, s.read.ios, s.read.merges, s.read.sectors, u32(s.read.ticks_ms),
                     s.write.ios, s.write.merges, s.write.sectors, u32(s.write.ticks_ms),
                     u32(s.in_flight), u32(s.io_ticks_ms), u32(s.time_in_queue_ms), s.discard.ios,
                     s.discard.merges, s.discard.sectors, u32(s.discard.ticks_ms), s.flush.ios,
                     u32(s.flush.ticks_ms));
}

bool parse_diskstats_line(std::string_view line, unsigned* major, unsigned* minor,
                          std::string* name, DiskStats* s, std::string* err) {
  std::vector<std::string_view> tok;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\n') ++i;
    if (i > start) tok.push_back(line.substr(start, i - start));
  }
  auto fail = [&](const std::string& what) {
    if (err != nullptr) *err = "diskstats line '" + std::string(line) + "': " + what;
    return false;
  };
  const std::size_t counters = tok.size() < 3 ? 0 : tok.size() - 3;
  if (counters != 11 && counters != 15 && counters != 17) {
    return fail("expected major, minor, name and 11, 15 or 17 counters, got " +
                std::to_string(tok.size()) + " fields");
  }
  std::uint64_t v[20] = {};
  for (std::size_t k = 0; k < tok.size(); ++k) {
    if (k == 2) continue;
    if (!parse_u64(tok[k], &v[k])) return fail("field " + std::to_string(k + 1) + " not a number");
  }
  *major = static_cast<unsigned>(v[0]);
  *minor = static_cast<unsigned>(v[1]);
  *name = std::string(tok[2]);
  *s = DiskStats{};
  s->read = {v[3], v[4], v[5], v[6]};
  s->write = {v[7], v[8], v[9], v[10]};
  s->in_flight = v[11];
  s->io_ticks_ms = v[12];
  s->time_in_queue_ms = v[13];
  s->discard = {v[14], v[15], v[16], v[17]};
  s->flush.ios = v[18];
  s->flush.ticks_ms = v[19];
  return true;
}

}  // namespace iostack::trace
