// The short names blkparse prints for a record: the action letters and the
// RWBS string (blkparse_fmt.c's fill_rwbs and the kernel's own fill_rwbs).
#pragma once

#include <string>

#include "trace/blktrace_api.hpp"

namespace iostack::trace {

// "Q", "M", "F", "G", "S", "R", "D", "C", "P", "U", "UT", "I", "X", "B",
// "A", "m" for a message note, "" for other notes and unknown codes.
std::string action_name(std::uint32_t action);

// F (flush), then D/W/R/N (discard, write, read with data, none), then F
// (FUA), A (readahead), S (sync), M (meta): e.g. "WS", "RA", "FWFS", "D".
std::string rwbs(const BlkIoTrace& t);

}  // namespace iostack::trace
