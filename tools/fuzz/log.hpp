// The canonical log a run produces: ordered "key value" lines, compared
// line by line between the kernel's run and iostack's.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fuzz {

struct Log {
  std::vector<std::pair<std::string, std::string>> lines;
  void add(std::string key, std::string value) {
    lines.emplace_back(std::move(key), std::move(value));
  }
  std::string serialize() const;
  static Log parse(const std::string& text);
};

// "-EINVAL" for -22, the number otherwise.
std::string res_str(long res);
// Short form for classes: errno names, "0", or "+" for positive results.
std::string res_class(long res);
std::string errno_name(int e);
std::string hex(std::uint64_t v);
// FNV-1a, for file and buffer contents.
std::uint64_t fnv(const void* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace fuzz
