// Parsing verify_pattern values.
#include "job/verify_pattern.hpp"

#include <cctype>

namespace iostack::job {
namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool parse_verify_pattern(const std::string& s, std::vector<std::uint8_t>* out, std::string* why) {
  std::vector<std::uint8_t> bytes;
  std::size_t i = 0;
  const auto fail = [&](const char* w) {
    *why = w;
    return false;
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      const auto end = s.find('"', i + 1);
      if (end == std::string::npos) return fail("a closing '\"'");
      for (std::size_t j = i + 1; j < end; ++j) bytes.push_back(static_cast<std::uint8_t>(s[j]));
      i = end + 1;
    } else if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
      std::size_t j = i + 2;
      std::string digits;
      while (j < s.size() && hexval(s[j]) >= 0) digits += s[j++];
      if (digits.empty()) return fail("hex digits after 0x");
      if (digits.size() % 2) digits.insert(digits.begin(), '0');
      for (std::size_t k = 0; k < digits.size(); k += 2)
        bytes.push_back(static_cast<std::uint8_t>(hexval(digits[k]) * 16 + hexval(digits[k + 1])));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      std::uint64_t v = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        v = v * 10 + static_cast<unsigned>(s[i++] - '0');
        if (v > 0xffffffffull) return fail("a decimal pattern below 2^32 (use 0x for more)");
      }
      do {
        bytes.push_back(static_cast<std::uint8_t>(v & 0xff));
        v >>= 8;
      } while (v);
    } else if (c == '%') {
      return fail("no %o (offset patterns are not supported)");
    } else {
      return fail("a hex number (0x...), a decimal number or a \"string\"");
    }
  }
  if (bytes.empty()) return fail("a non-empty pattern");
  if (bytes.size() > 512) return fail("a pattern of at most 512 bytes");
  *out = std::move(bytes);
  return true;
}

}  // namespace iostack::job
