// fio's iolog (iolog.c read_iolog): a version line, then one line per file
// action (add, open, close) or I/O (read, write, trim, sync, datasync, and
// in version 2 wait). Version 3 starts each line with microseconds since
// the log began. Logs appended to one file (a job's threads) are issuers
// of their own, each timed from its own start.
#include <algorithm>
#include <charconv>
#include <string_view>

#include "job/trace_io.hpp"

namespace iostack::job {
namespace {

constexpr std::string_view kV2 = "fio version 2 iolog";
constexpr std::string_view kV3 = "fio version 3 iolog";

bool to_u64(std::string_view s, std::uint64_t* v) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t s = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > s) f.push_back(line.substr(s, i - s));
  }
  return f;
}

std::string base_name(const std::string& path) {
  const auto s = path.find_last_of('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

}  // namespace

bool parse_iolog(const std::string& text, const std::string& name, Trace* out, std::string* err) {
  std::string_view rest(text);
  int lineno = 0;
  int version = 0;
  Trace t;
  std::uint32_t proc = t.proc_index(-1, base_name(name));
  int section = 1;
  std::uint64_t floor_ns = 0;  // version 2: where the last wait put the clock
  bool have_base = false;
  std::uint64_t base_us = 0;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++lineno;
    auto fail = [&](const std::string& what) {
      *err = name + ":" + std::to_string(lineno) + ": " + what;
      return false;
    };
    if (lineno == 1) {
      if (line.substr(0, kV2.size()) == kV2)
        version = 2;
      else if (line.substr(0, kV3.size()) == kV3)
        version = 3;
      else if (line.substr(0, 11) == "fio version")
        return fail("'" + std::string(line) +
                    "': only iolog versions 2 and 3 are supported, as in fio");
      else
        return fail("expected \"fio version 2 iolog\" or \"fio version 3 iolog\"");
      continue;
    }
    // Another log appended (write_iolog appends, one log per job thread):
    // a process of its own, its times from its own start.
    if (line.substr(0, kV2.size()) == kV2 || line.substr(0, kV3.size()) == kV3) {
      version = line.substr(0, kV2.size()) == kV2 ? 2 : 3;
      proc = t.proc_index(-1, base_name(name) + "#" + std::to_string(++section));
      have_base = false;
      floor_ns = 0;
      continue;
    }
    const auto f = fields(line);
    if (f.empty()) continue;
    std::size_t i = 0;
    std::uint64_t ttime = 0;
    if (version == 3) {
      if (!to_u64(f[0], &ttime))
        return fail("expected a time in microseconds, got '" + std::string(f[0]) + "'");
      i = 1;
      if (!have_base) {
        have_base = true;
        base_us = ttime;
      }
    }
    const std::size_t n = f.size() - i;
    if (n != 2 && n != 4)
      return fail(std::string("expected ") + (version == 3 ? "TIME " : "") +
                  "FILE ACTION [OFFSET LENGTH], got " + std::to_string(f.size()) + " fields");
    const std::string_view act = f[i + 1];
    if (n == 2) {
      if (act != "add" && act != "open" && act != "close")
        return fail("unknown file action '" + std::string(act) + "' (expected add, open or close)");
      continue;
    }
    std::uint64_t off, len;
    if (!to_u64(f[i + 2], &off)) return fail("bad offset '" + std::string(f[i + 2]) + "'");
    if (!to_u64(f[i + 3], &len)) return fail("bad length '" + std::string(f[i + 3]) + "'");
    TraceIo io;
    if (act == "read")
      io.ddir = kRead;
    else if (act == "write")
      io.ddir = kWrite;
    else if (act == "trim")
      io.ddir = kTrim;
    else if (act == "sync" || act == "datasync")
      io.ddir = kSync;
    else if (act == "wait") {
      // fio ignores wait in version 3 logs; in version 2 it is ms since the start.
      if (version == 2) floor_ns = std::max<std::uint64_t>(floor_ns, off * 1000000);
      continue;
    } else {
      return fail("unknown I/O action '" + std::string(act) +
                  "' (expected read, write, trim, sync, datasync or wait)");
    }
    if (io.ddir != kSync) {
      if (len == 0 || len > 0xffffffffull)
        return fail("length " + std::to_string(len) + ": expected 1 to 4294967295 bytes");
      io.offset = off;
      io.len = static_cast<std::uint32_t>(len);
    }
    io.time_ns = version == 3 ? (ttime >= base_us ? (ttime - base_us) * 1000 : 0) : floor_ns;
    io.proc = proc;
    t.ios.push_back(io);
  }
  if (version == 0) {
    *err = name + ": empty file, expected \"fio version 3 iolog\"";
    return false;
  }
  if (t.ios.empty()) {
    *err = name + ": no I/O in the iolog";
    return false;
  }
  if (section > 1)
    std::stable_sort(t.ios.begin(), t.ios.end(),
                     [](const TraceIo& a, const TraceIo& b) { return a.time_ns < b.time_ns; });
  *out = std::move(t);
  return true;
}

}  // namespace iostack::job
