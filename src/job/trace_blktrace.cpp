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

int ddir_of(const trace::BlkIoTrace& t) {
  const std::uint32_t cats = t.action >> trace::kTcShift;
  if (cats & trace::kTcDiscard) return kTrim;
  // An empty flush is a flush of its own; a PREFLUSH write with data stays a write.
  if ((cats & trace::kTcFlush) && t.bytes == 0) return kSync;
  return (cats & trace::kTcWrite) ? kWrite : kRead;
}

}  // namespace

bool read_blktrace_set(const std::vector<std::string>& files, Trace* out, std::string* err) {
  std::vector<std::vector<trace::TraceRecord>> recs(files.size());
  for (std::size_t f = 0; f < files.size(); ++f)
    if (!trace::read_blktrace_file(files[f], &recs[f], err)) return false;

  // Names first: a pid's PROCESS note may sit in another cpu's file.
  std::map<std::uint32_t, std::string> comm;
  std::vector<Event> queued, issued;
  for (std::size_t f = 0; f < files.size(); ++f) {
    for (std::size_t i = 0; i < recs[f].size(); ++i) {
      const trace::TraceRecord& r = recs[f][i];
      if (r.is_notify()) {
        if (r.t.action == trace::kBlkTnProcess) comm[r.t.pid] = r.comm();
        continue;
      }
      const std::uint32_t act = r.t.action & trace::kActMask;
      // Passthrough commands are not file system I/O; blkparse shows them apart.
      if (r.t.action & trace::tc_act(trace::kTcPc)) continue;
      if (act == trace::kActQueue) queued.push_back({r.t.time, f, i, &r});
      if (act == trace::kActIssue) issued.push_back({r.t.time, f, i, &r});
    }
  }
  std::vector<Event>& use = queued.empty() ? issued : queued;
  std::stable_sort(use.begin(), use.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.file != b.file) return a.file < b.file;
    return a.index < b.index;
  });
  Trace t;
  t.blktrace = true;
  const std::uint64_t t0 = use.empty() ? 0 : use.front().time;
  for (const Event& e : use) {
    const trace::BlkIoTrace& b = e.rec->t;
    TraceIo io;
    io.ddir = ddir_of(b);
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
