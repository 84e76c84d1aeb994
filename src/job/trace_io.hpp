// Block I/O traces read back as one stream of I/Os: blktrace binary files
// (the kernel's, per-cpu sets, blkparse -d dumps, iostack's own), fio
// iologs (version 2 and 3) and MSR Cambridge / SNIA block trace CSV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "job/types.hpp"

namespace iostack::job {

// One I/O of a trace. ddir is kRead, kWrite, kTrim (discard) or kSync
// (flush; offset and len 0).
struct TraceIo {
  std::uint64_t time_ns = 0;  // since the trace's first record
  std::uint64_t offset = 0;   // bytes
  std::uint32_t len = 0;      // bytes
  int ddir = kRead;
  std::uint32_t proc = 0;    // index into Trace::procs
  std::uint16_t ioprio = 0;  // IOPRIO_PRIO_VALUE; 0 where the format has none
};

// Who issued I/O: a pid and its name where the trace has them.
struct TraceProc {
  std::int64_t pid = -1;  // -1: the format names no process
  std::string comm;       // process name, or a name made from the trace
};

struct Trace {
  std::vector<TraceIo> ios;  // in issue order (time, then record order)
  std::vector<TraceProc> procs;
  bool blktrace = false;  // read from blktrace records (fio aligns their lengths too)
  // blktrace: the queue depth fio probes from the records (load_blktrace),
  // which read_iolog uses unless the job sets iodepth; 0 otherwise.
  unsigned probed_depth = 0;
  // Finds or adds a process; returns its index.
  std::uint32_t proc_index(std::int64_t pid, const std::string& comm);
};

enum class TraceFormat { kBlktrace, kIologV2, kIologV3, kMsrCsv };
const char* trace_format_name(TraceFormat f);

// Which format `head` (a file's first bytes) is in; false with one line in
// *err (naming `name`) when none.
bool detect_trace_format(const std::string& name, const std::string& head, TraceFormat* f,
                         std::string* err);

// blktrace records of one set of files (one file, or the per-cpu files of a
// capture), merged by time. Uses the queue (Q) events, or the issue (D)
// events when there are no Q events; PROCESS notes name the pids.
bool read_blktrace_set(const std::vector<std::string>& files, Trace* out, std::string* err);

// fio's iolog, version 2 or 3 (fio's write_iolog writes version 3), from
// `text`; `name` prefixes errors. Version 3 times are microseconds; a
// version 2 "wait" holds later I/O until that many ms into the replay.
bool parse_iolog(const std::string& text, const std::string& name, Trace* out, std::string* err);

// MSR Cambridge / SNIA CSV: Timestamp (Windows filetime, 100 ns units),
// Hostname, DiskNumber, Type (Read/Write), Offset, Size, ResponseTime.
// Each Hostname/DiskNumber pair is one issuer.
bool parse_msr_csv(const std::string& text, const std::string& name, Trace* out, std::string* err);

// Reads TRACE arguments and merges them by time. Each is a file in any of
// the formats, a capture's base name (NAME for NAME.blktrace.0, .1, ...) or
// a directory of captures (iostack run --trace=DIR). False with one line.
bool read_traces(const std::vector<std::string>& paths, Trace* out, std::string* err);

}  // namespace iostack::job
