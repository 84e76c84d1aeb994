// fio's number formatting (lib/num2str.c).
#include "job/num2str.hpp"

#include <fmt/format.h>

namespace iostack::job {

std::string num2str(std::uint64_t num, int maxlen, int base, bool pow2, N2S unit) {
  static const char* const kSi[] = {"", "k", "M", "G", "T", "P", "E"};
  static const char* const kIec[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  static const char* const kUnit[] = {"", "/s", "B", "B/s"};
  const char* const* prefix = pow2 ? kIec : kSi;
  const unsigned thousand = pow2 ? 1024 : 1000;
  constexpr int kNrPrefix = 7;

  int post = 0;
  for (; base > 1; ++post) base /= static_cast<int>(thousand);

  // Divide until the number fits, remembering the last remainder.
  bool have_mod = false;
  unsigned modulo = 0;
  bool carry = false;
  while (post < kNrPrefix) {
    if (static_cast<int>(std::to_string(num).size()) <= maxlen) break;
    modulo = static_cast<unsigned>(num % thousand);
    num /= thousand;
    carry = modulo >= thousand / 2;
    have_mod = true;
    ++post;
  }
  if (post >= kNrPrefix) post = 0;
  const auto u = kUnit[static_cast<int>(unit)];
  if (!have_mod) return fmt::format("{}{}{}", num, prefix[post], u);

  const int len = static_cast<int>(std::to_string(num).size());
  if (maxlen - len <= 1) {
    if (carry) ++num;
    return fmt::format("{}{}{}", num, prefix[post], u);
  }
  // Fractional digits from the remainder: "0.5" -> ".5"; rounding to 1.0 carries.
  std::string frac =
      fmt::format("{:.{}f}", static_cast<double>(modulo) / thousand, maxlen - len - 1);
  if (frac[0] == '1') ++num;
  return fmt::format("{}.{}{}{}", num, frac.substr(2), prefix[post], u);
}

}  // namespace iostack::job
