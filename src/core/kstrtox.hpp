// kstrtoint (lib/kstrtox.c): the parser behind sysfs integer stores. Base 0
// picks the radix from the prefix (0x hex, 0 octal, else decimal); one
// trailing newline is allowed and nothing else.
#pragma once

namespace iostack::core {

// 0 with *res set, -EINVAL for malformed input, -ERANGE when out of int range.
int kstrtoint(const char* s, unsigned base, int* res);

}  // namespace iostack::core
