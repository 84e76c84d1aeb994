// Log serialisation and the printable forms of results.
#include "log.hpp"

#include <cstdio>
#include <cstring>
#include <sstream>

namespace fuzz {

std::string Log::serialize() const {
  std::string out;
  for (const auto& [k, v] : lines) {
    out += k;
    out += '\t';
    out += v;
    out += '\n';
  }
  return out;
}

Log Log::parse(const std::string& text) {
  Log l;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      l.add(line, "");
    } else {
      l.add(line.substr(0, tab), line.substr(tab + 1));
    }
  }
  return l;
}

std::string errno_name(int e) {
  const char* n = strerrorname_np(e);
  if (n) return n;
  return "E" + std::to_string(e);
}

std::string res_str(long res) {
  if (res < 0 && res > -4096) return "-" + errno_name(static_cast<int>(-res));
  return std::to_string(res);
}

std::string res_class(long res) {
  if (res < 0 && res > -4096) return "-" + errno_name(static_cast<int>(-res));
  if (res == 0) return "0";
  return "+";
}

std::string hex(std::uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::uint64_t fnv(const void* p, std::size_t n, std::uint64_t h) {
  const auto* c = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= c[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace fuzz
