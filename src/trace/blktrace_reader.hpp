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
  BlkIoTrace t{};                 // converted to host byte order
  std::vector<std::uint8_t> pdu;  // as stored (big-endian payloads stay so)

  bool is_notify() const { return (t.action & tc_act(kTcNotify)) != 0; }
  // The big-endian u64 payload of U/UT (depth) and X (remainder sector); 0
  // when the payload is shorter.
  std::uint64_t pdu_be64() const;
  // The process name of a PROCESS note.
  std::string comm() const;
};

// Parses the contents of one per-cpu file; `name` prefixes error messages.
// Accepts both byte orders, deciding by the first record as blkparse does.
bool parse_blktrace(const void* data, std::size_t len, const std::string& name,
                    std::vector<TraceRecord>* out, std::string* err);

bool read_blktrace_file(const std::string& path, std::vector<TraceRecord>* out, std::string* err);

// Reads <dir>/<devname>.blktrace.<cpu> for cpu 0, 1, ... up to the first
// missing file (blkparse's rule) and checks every record's cpu against its
// file. per_cpu[i] holds cpu i's records, notes included, in file order.
bool read_blktrace(const std::string& dir, const std::string& devname,
                   std::vector<std::vector<TraceRecord>>* per_cpu, std::string* err);

}  // namespace iostack::trace
