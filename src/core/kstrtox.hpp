// kstrtoint (lib/kstrtox.c): the parser behind sysfs integer stores. Base 0
// picks the radix from the prefix (0x hex, 0 octal, else decimal); one
// trailing newline is allowed and nothing else.
#pragma once

#include <cstdint>

namespace iostack::core {

// 0 with *res set, -EINVAL for malformed input, -ERANGE when out of int range.
int kstrtoint(const char* s, unsigned base, int* res);
// kstrtoull: an optional '+', digits in `base` (0: from the prefix), one
// optional trailing newline; -EINVAL or -ERANGE.
int kstrtoull(const char* s, unsigned base, std::uint64_t* res);

}  // namespace iostack::core
