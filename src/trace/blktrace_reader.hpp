// Reads blktrace per-cpu files back (what blkparse does before printing), for
// tests and for the iostack command.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trace/blktrace_api.hpp"

namespace iostack::trace {

struct TraceRecord {
  // Converted to host byte order; a version 8 record is given in this
  // layout too, the lower half of its action in t.action.
  BlkIoTrace t{};
  std::vector<std::uint8_t> pdu;  // as stored (big-endian payloads stay so)
  std::uint32_t version = kBlkIoTraceVersion;
  std::uint32_t action_hi = 0;  // version 8: the upper half of the action

  bool is_notify() const { return (t.action & tc_act(kTcNotify)) != 0; }
  // The whole action: code | tc_act2(categories), either version.
  std::uint64_t action64() const { return (std::uint64_t{action_hi} << 32) | t.action; }
  // The big-endian u64 payload of U/UT (depth) and X (remainder sector); 0
  // when the payload is shorter.
  std::uint64_t pdu_be64() const;
  // The process name of a PROCESS note.
  std::string comm() const;
};

// Parses the contents of one per-cpu file; `name` prefixes error messages.
// Accepts both byte orders, deciding by the first record as blkparse does,
// and records of version 7 (struct blk_io_trace) and 8 (blk_io_trace2).
bool parse_blktrace(const void* data, std::size_t len, const std::string& name,
                    std::vector<TraceRecord>* out, std::string* err);

bool read_blktrace_file(const std::string& path, std::vector<TraceRecord>* out, std::string* err);

// Reads <dir>/<devname>.blktrace.<cpu> for cpu 0, 1, ... up to the first
// missing file (blkparse's rule) and checks every record's cpu against its
// file. per_cpu[i] holds cpu i's records, notes included, in file order.
bool read_blktrace(const std::string& dir, const std::string& devname,
                   std::vector<std::vector<TraceRecord>>* per_cpu, std::string* err);

}  // namespace iostack::trace
