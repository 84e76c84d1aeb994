// fio's number formatting (lib/num2str.c): at most `maxlen` digits, scaled
// by 1000 or 1024 with SI or IEC prefixes, the dropped part shown as
// decimals when there is room, e.g. 33.5MiB, 123k, 480MiB/s.
#pragma once

#include <cstdint>
#include <string>

namespace iostack::job {

enum class N2S { kNone, kPerSec, kByte, kBytePerSec };

// `base` is what one unit of `num` is worth (1 for plain counts).
std::string num2str(std::uint64_t num, int maxlen, int base, bool pow2, N2S unit);

}  // namespace iostack::job
