// The MSR Cambridge block traces as SNIA publishes them: one CSV line per
// I/O, "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime", the
// timestamp a Windows filetime (100 ns units since 1601).
#include <strings.h>
#include <algorithm>
#include <charconv>
#include <string_view>

#include "job/trace_io.hpp"

namespace iostack::job {
namespace {

bool to_u64(std::string_view s, std::uint64_t* v) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, const char* b) {
  const std::string_view bv(b);
  return a.size() == bv.size() && strncasecmp(a.data(), b, a.size()) == 0;
}

}  // namespace

bool parse_msr_csv(const std::string& text, const std::string& name, Trace* out, std::string* err) {
  std::string_view rest(text);
  int lineno = 0;
  Trace t;
  bool have_base = false;
  std::uint64_t base = 0;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++lineno;
    auto fail = [&](const std::string& what) {
      *err = name + ":" + std::to_string(lineno) + ": " + what;
      return false;
    };
    if (trimmed(line).empty()) continue;
    std::vector<std::string_view> f;
    std::size_t s = 0;
    for (;;) {
      const auto c = line.find(',', s);
      f.push_back(line.substr(s, c == std::string_view::npos ? c : c - s));
      if (c == std::string_view::npos) break;
      s = c + 1;
    }
    // A header line naming the columns is allowed first.
    if (lineno == 1 && iequals(trimmed(f[0]), "Timestamp")) continue;
    if (f.size() != 7)
      return fail(
          "expected 7 comma-separated fields "
          "(Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime), got " +
          std::to_string(f.size()));
    std::uint64_t ts, disk, off, len, resp;
    if (!to_u64(f[0], &ts))
      return fail("Timestamp '" + std::string(f[0]) + "': expected 100 ns units (a filetime)");
    if (!to_u64(f[2], &disk))
      return fail("DiskNumber '" + std::string(f[2]) + "': expected a number");
    if (!to_u64(f[4], &off)) return fail("Offset '" + std::string(f[4]) + "': expected bytes");
    if (!to_u64(f[5], &len) || len == 0 || len > 0xffffffffull)
      return fail("Size '" + std::string(f[5]) + "': expected 1 to 4294967295 bytes");
    if (!to_u64(f[6], &resp))
      return fail("ResponseTime '" + std::string(f[6]) + "': expected 100 ns units");
    TraceIo io;
    const std::string_view type = trimmed(f[3]);
    if (iequals(type, "Read"))
      io.ddir = kRead;
    else if (iequals(type, "Write"))
      io.ddir = kWrite;
    else
      return fail("Type '" + std::string(type) + "': expected Read or Write");
    if (!have_base || ts < base) base = ts;
    have_base = true;
    io.time_ns = ts;  // made relative below
    io.offset = off;
    io.len = static_cast<std::uint32_t>(len);
    io.proc = t.proc_index(-1, std::string(trimmed(f[1])) + "." + std::to_string(disk));
    t.ios.push_back(io);
  }
  if (t.ios.empty()) {
    *err = name + ": no I/O in the trace";
    return false;
  }
  // Lines are in time order in the published traces; sort anyway, stably.
  for (TraceIo& io : t.ios) io.time_ns = (io.time_ns - base) * 100;
  std::stable_sort(t.ios.begin(), t.ios.end(),
                   [](const TraceIo& a, const TraceIo& b) { return a.time_ns < b.time_ns; });
  *out = std::move(t);
  return true;
}

}  // namespace iostack::job
