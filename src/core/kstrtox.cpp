// kstrtoint/kstrtoull: the kernel's integer parsing for sysfs stores.
#include "core/kstrtox.hpp"

#include <cerrno>
#include <climits>
#include <cstdint>

namespace iostack::core {
namespace {

int lower(char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }
bool is_xdigit(char c) {
  const int l = lower(c);
  return (c >= '0' && c <= '9') || (l >= 'a' && l <= 'f');
}

// Digits of `s` in `base`; returns how many were consumed, *overflow set when
// the value does not fit 64 bits.
unsigned parse_digits(const char* s, unsigned base, std::uint64_t* out, bool* overflow) {
  std::uint64_t v = 0;
  unsigned n = 0;
  *overflow = false;
  for (;; ++s, ++n) {
    unsigned d;
    const int c = lower(*s);
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else
      break;
    if (d >= base) break;
    if (v > (UINT64_MAX - d) / base) *overflow = true;
    v = v * base + d;
  }
  *out = v;
  return n;
}

// _kstrtoull: radix prefix, digits, optional newline, end of string.
int parse_ull(const char* s, unsigned base, std::uint64_t* res) {
  if (base == 0) {
    if (s[0] == '0')
      base = (lower(s[1]) == 'x' && is_xdigit(s[2])) ? 16 : 8;
    else
      base = 10;
  }
  if (base == 16 && s[0] == '0' && lower(s[1]) == 'x') s += 2;
  bool overflow;
  const unsigned n = parse_digits(s, base, res, &overflow);
  if (overflow) return -ERANGE;
  if (n == 0) return -EINVAL;
  s += n;
  if (*s == '\n') ++s;
  return *s ? -EINVAL : 0;
}

}  // namespace

int kstrtoull(const char* s, unsigned base, std::uint64_t* res) {
  return parse_ull(s[0] == '+' ? s + 1 : s, base, res);
}

int kstrtoint(const char* s, unsigned base, int* res) {
  std::uint64_t u;
  long long v;
  if (s[0] == '-') {
    const int rv = parse_ull(s + 1, base, &u);
    if (rv < 0) return rv;
    v = static_cast<long long>(0 - u);
    if (v > 0) return -ERANGE;
  } else {
    const int rv = parse_ull(s[0] == '+' ? s + 1 : s, base, &u);
    if (rv < 0) return rv;
    v = static_cast<long long>(u);
    if (v < 0) return -ERANGE;
  }
  if (v < INT_MIN || v > INT_MAX) return -ERANGE;
  *res = static_cast<int>(v);
  return 0;
}

}  // namespace iostack::core
