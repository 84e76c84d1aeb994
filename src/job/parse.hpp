// fio's value syntax (HOWTO "Parameter types"): integers with base prefixes
// and unit suffixes (kb_base=1024, so 4k is 4096), times with unit suffixes,
// booleans, ranges and percentages. Each parser returns false on bad input
// and leaves *out untouched.
#pragma once

#include <cstdint>
#include <string_view>

namespace iostack::job {

// "4k", "1m", "4KiB", "0x1000", "512b", "1g". With kb_base=1024 'k' is 1024
// and 'ki' is 1000, as fio keeps for old scripts.
bool parse_size(std::string_view s, std::uint64_t* out);
// A plain non-negative integer (decimal or 0x hex), no suffix.
bool parse_uint(std::string_view s, std::uint64_t* out);
// Time in nanoseconds; a bare number is in `default_unit_ns` (seconds for
// runtime and ramp_time). Suffixes: d, h, m, s/sec, ms/msec, us/usec, ns.
bool parse_time_ns(std::string_view s, std::uint64_t default_unit_ns, std::uint64_t* out);
// 0/1, true/false, yes/no, on/off; an empty value (a bare flag) is true.
bool parse_bool(std::string_view s, bool* out);
// "N%" with 0 < N <= 100: *pct gets N; false when `s` is not a percentage.
bool parse_percent(std::string_view s, double* pct);
// "lo-hi" or "lo:hi" of sizes; swapped when given in reverse, as fio does.
bool parse_size_range(std::string_view s, std::uint64_t* lo, std::uint64_t* hi);

std::string_view trim(std::string_view s);

}  // namespace iostack::job
