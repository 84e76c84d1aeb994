// fio's value syntax: sizes, ranges, booleans, percentages.
#include "job/parse.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>

namespace iostack::job {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Splits "123suffix" into the number and the rest; hex when prefixed 0x.
bool split_number(std::string_view s, std::uint64_t* num, std::string* suffix) {
  s = trim(s);
  if (s.empty() || s[0] == '-') return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p == s.data()) return false;
  *num = v;
  *suffix = lower(trim(std::string_view(p, s.data() + s.size() - p)));
  return true;
}

bool mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

bool parse_uint(std::string_view s, std::uint64_t* out) {
  std::uint64_t v;
  std::string suf;
  if (!split_number(s, &v, &suf) || !suf.empty()) return false;
  *out = v;
  return true;
}

bool parse_size(std::string_view s, std::uint64_t* out) {
  std::uint64_t v;
  std::string suf;
  if (!split_number(s, &v, &suf)) return false;
  // An optional trailing 'b' names the unit (bytes); strip it unless it is
  // the whole suffix, where it means bytes as well.
  if (suf.size() > 1 && suf.back() == 'b') suf.pop_back();
  if (suf.empty() || suf == "b") return *out = v, true;
  static const char kPrefixes[] = "kmgtp";
  std::uint64_t mult = 0;
  const auto pos = std::string_view(kPrefixes).find(suf[0]);
  if (pos == std::string_view::npos) return false;
  // kb_base=1024: "k" is 1024, "ki" 1000 (fio's compatibility inversion).
  std::uint64_t unit = 1024;
  if (suf.size() == 2 && suf[1] == 'i')
    unit = 1000;
  else if (suf.size() != 1)
    return false;
  mult = 1;
  for (std::size_t i = 0; i <= pos; ++i) mult *= unit;
  return mul(v, mult, out);
}

bool parse_time_ns(std::string_view s, std::uint64_t default_unit_ns, std::uint64_t* out) {
  std::uint64_t v;
  std::string suf;
  if (!split_number(s, &v, &suf)) return false;
  std::uint64_t unit;
  if (suf.empty())
    unit = default_unit_ns;
  else if (suf == "d")
    unit = 86400ull * 1000000000ull;
  else if (suf == "h")
    unit = 3600ull * 1000000000ull;
  else if (suf == "m")
    unit = 60ull * 1000000000ull;
  else if (suf == "s" || suf == "sec")
    unit = 1000000000ull;
  else if (suf == "ms" || suf == "msec")
    unit = 1000000ull;
  else if (suf == "us" || suf == "usec")
    unit = 1000ull;
  else if (suf == "ns" || suf == "nsec")
    unit = 1;
  else
    return false;
  return mul(v, unit, out);
}

bool parse_bool(std::string_view s, bool* out) {
  const std::string v = lower(trim(s));
  if (v.empty() || v == "1" || v == "true" || v == "yes" || v == "on") return *out = true, true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return *out = false, true;
  return false;
}

bool parse_percent(std::string_view s, double* pct) {
  s = trim(s);
  if (s.empty() || s.back() != '%') return false;
  const std::string num(trim(s.substr(0, s.size() - 1)));
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (num.empty() || *end != '\0' || !(v > 0.0) || v > 100.0) return false;
  *pct = v;
  return true;
}

bool parse_size_range(std::string_view s, std::uint64_t* lo, std::uint64_t* hi) {
  const auto sep = s.find_first_of("-:");
  if (sep == std::string_view::npos) return false;
  std::uint64_t a, b;
  if (!parse_size(s.substr(0, sep), &a) || !parse_size(s.substr(sep + 1), &b)) return false;
  if (a > b) std::swap(a, b);
  *lo = a;
  *hi = b;
  return true;
}

}  // namespace iostack::job
