// blktrace binary files as a stream of I/Os: the records of every file of a
// set, merged by time as blkparse does, keeping the queue events.
#include <algorithm>
#include <map>

#include "job/trace_io.hpp"
#include "trace/blktrace_reader.hpp"

namespace iostack::job {
namespace {

struct Event {
  std::uint64_t time;
  std::size_t file, index;  // ties keep file and record order
  const trace::TraceRecord* rec;
};

// -1: not an I/O to replay (a version 8 trace's zone management commands).
int ddir_of(const trace::TraceRecord& r) {
  const trace::BlkIoTrace& t = r.t;
  const std::uint64_t cats = r.action64() >> trace::kTcShift;
  if (cats & (trace::kTc2ZoneReset | trace::kTc2ZoneResetAll | trace::kTc2ZoneFinish |
              trace::kTc2ZoneOpen | trace::kTc2ZoneClose))
    return -1;
  if (cats & trace::kTcDiscard) return kTrim;
  // An empty flush is a flush of its own; a PREFLUSH write with data stays a write.
  if ((cats & trace::kTcFlush) && t.bytes == 0) return kSync;
  // Write zeroes and zone appends are replayed as writes of that range.
  if (cats & (trace::kTcWrite | trace::kTc2WriteZeroes | trace::kTc2ZoneAppend)) return kWrite;
  return kRead;
}

// fio's depth probe: queue events counted per direction since the last
// completion of that direction, the largest count kept; 1 for a direction
// with I/O but no count, at most 1024 (stacked devices may never complete).
unsigned probe_depth(const std::vector<Event>& all, const std::vector<Event>& used) {
  auto dir = [](const trace::BlkIoTrace& t) -> int {
    const std::uint32_t c = t.action >> trace::kTcShift;
    if (c & trace::kTcRead) return kRead;
    if (c & trace::kTcWrite) return kWrite;
    if (c & trace::kTcDiscard) return kTrim;
    return -1;
  };
  long cur[kRwDirs] = {0, 0, 0}, depth[kRwDirs] = {0, 0, 0};
  for (const Event& e : all) {
    const int d = dir(e.rec->t);
    if (d < 0) continue;
    const std::uint32_t act = e.rec->t.action & trace::kActMask;
    if (act == trace::kActQueue) {
      ++cur[d];
    } else if (act == trace::kActBackmerge || act == trace::kActFrontmerge) {
      --cur[d];
    } else if (act == trace::kActComplete) {
      depth[d] = std::max(depth[d], cur[d]);
      cur[d] = 0;
    }
  }
  bool has[kRwDirs] = {false, false, false};
  for (const Event& e : used) {
    const int d = ddir_of(*e.rec);
    if (d >= 0 && d < kRwDirs) has[d] = true;
  }
  long m = 0;
  for (int d = 0; d < kRwDirs; ++d) {
    if (depth[d] > 1024) depth[d] = 1024;
    if (depth[d] <= 0 && has[d]) depth[d] = 1;
    m = std::max(m, depth[d]);
  }
  return static_cast<unsigned>(m);
}

}  // namespace

bool read_blktrace_set(const std::vector<std::string>& files, Trace* out, std::string* err) {
  std::vector<std::vector<trace::TraceRecord>> recs(files.size());
  for (std::size_t f = 0; f < files.size(); ++f)
    if (!trace::read_blktrace_file(files[f], &recs[f], err)) return false;

  // Names first: a pid's PROCESS note may sit in another cpu's file.
  std::map<std::uint32_t, std::string> comm;
  std::vector<Event> queued, issued, all;
  for (std::size_t f = 0; f < files.size(); ++f) {
    for (std::size_t i = 0; i < recs[f].size(); ++i) {
      const trace::TraceRecord& r = recs[f][i];
      if (r.is_notify()) {
        if (r.t.action == trace::kBlkTnProcess) comm[r.t.pid] = r.comm();
        continue;
      }
      all.push_back({r.t.time, f, i, &r});
      const std::uint32_t act = r.t.action & trace::kActMask;
      // Passthrough commands are not file system I/O; blkparse shows them apart.
      if (r.t.action & trace::tc_act(trace::kTcPc)) continue;
      if (act == trace::kActQueue) queued.push_back({r.t.time, f, i, &r});
      if (act == trace::kActIssue) issued.push_back({r.t.time, f, i, &r});
    }
  }
  std::vector<Event>& use = queued.empty() ? issued : queued;
  const auto by_time = [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.file != b.file) return a.file < b.file;
    return a.index < b.index;
  };
  std::stable_sort(use.begin(), use.end(), by_time);
  std::stable_sort(all.begin(), all.end(), by_time);
  Trace t;
  t.blktrace = true;
  t.probed_depth = probe_depth(all, use);
  const std::uint64_t t0 = use.empty() ? 0 : use.front().time;
  for (const Event& e : use) {
    const trace::BlkIoTrace& b = e.rec->t;
    TraceIo io;
    const int ddir = ddir_of(*e.rec);
    if (ddir < 0) continue;
    io.ddir = ddir;
    if (io.ddir != kSync) {
      if (b.bytes == 0) continue;  // nothing to move (fio skips these too)
      if (b.sector > (~0ull >> 9)) {
        *err = files[e.file] + ": record " + std::to_string(e.index) + ": sector " +
               std::to_string(b.sector) + " beyond 2^64 bytes";
        return false;
      }
      io.offset = b.sector << 9;
      io.len = b.bytes;
    }
    io.time_ns = b.time - t0;
    auto c = comm.find(b.pid);
    io.proc = t.proc_index(b.pid, c != comm.end() ? c->second : std::to_string(b.pid));
    t.ios.push_back(io);
  }
  *out = std::move(t);
  return true;
}

}  // namespace iostack::job
