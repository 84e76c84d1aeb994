// Turning a trace into a replay schedule.
#include "job/replay_log.hpp"

#include <algorithm>

namespace iostack::job {

std::vector<ReplayIo> make_schedule(const Trace& t, long proc, const ReplaySettings& s) {
  std::vector<ReplayIo> v;
  std::uint64_t last_due = 0;
  for (const TraceIo& io : t.ios) {
    if (proc >= 0 && io.proc != static_cast<std::uint32_t>(proc)) continue;
    if (s.skip & (1u << io.ddir)) continue;
    ReplayIo r;
    r.ddir = io.ddir;
    if (io.ddir != kSync) {
      r.offset = s.scale ? io.offset / s.scale : io.offset;
      r.len = io.len;
      if (s.align) {
        r.offset &= ~(s.align - 1);
        if (s.align_len) r.len = static_cast<std::uint32_t>((r.len + s.align - 1) & ~(s.align - 1));
      }
    }
    if (!s.no_stall) {
      const double due = static_cast<double>(io.time_ns) / (s.speed > 0 ? s.speed : 1.0);
      r.due_ns = std::max(last_due, static_cast<std::uint64_t>(due));
      last_due = r.due_ns;
    }
    v.push_back(r);
  }
  return v;
}

std::uint64_t remap_offset(std::uint64_t off, std::uint32_t len, std::uint64_t start,
                           std::uint64_t size, std::uint32_t align) {
  if (align == 0) align = 1;
  if (off > size - len) {
    off %= size;
    off -= off % align;
    if (off > size - len) off = (size - len) - (size - len) % align;
  }
  return start + off;
}

bool remap_offsets(std::vector<ReplayIo>* ios, std::uint64_t start, std::uint64_t size,
                   std::uint32_t align, const std::string& what, std::string* err) {
  for (std::size_t i = 0; i < ios->size(); ++i) {
    ReplayIo& r = (*ios)[i];
    if (r.ddir == kSync) continue;
    if (r.len > size) {
      *err = what + ": I/O " + std::to_string(i) + " of " + std::to_string(r.len) +
             " bytes is larger than the device's " + std::to_string(size);
      return false;
    }
    r.offset = remap_offset(r.offset, r.len, start, size, align);
  }
  return true;
}

void max_lengths(const std::vector<ReplayIo>& ios, std::uint32_t out[kRwDirs]) {
  for (int d = 0; d < kRwDirs; ++d) out[d] = 0;
  for (const ReplayIo& r : ios)
    if (r.ddir < kRwDirs) out[r.ddir] = std::max(out[r.ddir], r.len);
}

}  // namespace iostack::job
