// Line-by-line difference of two canonical logs.
#include <map>

#include "campaign.hpp"

namespace fuzz {

std::string log_value(const Log& l, const std::string& key) {
  for (const auto& [k, v] : l.lines)
    if (k == key) return v;
  return "none";
}

std::vector<std::pair<std::string, std::pair<std::string, std::string>>> log_diff(
    const std::string& kernel, const std::string& iostack) {
  const Log k = Log::parse(kernel);
  const Log i = Log::parse(iostack);
  std::map<std::string, std::string> im(i.lines.begin(), i.lines.end());
  std::map<std::string, std::string> km(k.lines.begin(), k.lines.end());
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> out;
  for (const auto& [key, v] : k.lines) {
    auto it = im.find(key);
    if (it == im.end())
      out.push_back({key, {v, "none"}});
    else if (it->second != v)
      out.push_back({key, {v, it->second}});
  }
  for (const auto& [key, v] : i.lines)
    if (!km.count(key)) out.push_back({key, {"none", v}});
  return out;
}

}  // namespace fuzz
