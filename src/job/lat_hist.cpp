// fio's latency histogram and its percentiles.
#include "job/lat_hist.hpp"

namespace iostack::job {

unsigned LatHist::index(std::uint64_t v) {
  const unsigned msb = v ? 63u - static_cast<unsigned>(__builtin_clzll(v)) : 0;
  if (msb <= kPlatBits) return static_cast<unsigned>(v);
  const unsigned error_bits = msb - kPlatBits;
  const unsigned base = (error_bits + 1) << kPlatBits;
  const unsigned offset = static_cast<unsigned>((v >> error_bits) & (kPlatVal - 1));
  const unsigned idx = base + offset;
  return idx < kPlatNr - 1 ? idx : kPlatNr - 1;
}

std::uint64_t LatHist::value(unsigned idx) {
  if (idx < (kPlatVal << 1)) return idx;
  const unsigned error_bits = (idx >> kPlatBits) - 1;
  const std::uint64_t base = 1ull << (error_bits + kPlatBits);
  const std::uint64_t k = idx % kPlatVal;
  // The middle of the bucket's range.
  return base + static_cast<std::uint64_t>((static_cast<double>(k) + 0.5) *
                                           static_cast<double>(1ull << error_bits));
}

std::vector<std::uint64_t> LatHist::percentiles(const std::vector<double>& pcts,
                                                std::uint64_t samples) const {
  std::vector<std::uint64_t> out(pcts.size(), 0);
  if (!samples || pcts.empty()) return out;
  std::uint64_t sum = 0;
  std::size_t j = 0;
  for (unsigned i = 0; i < kPlatNr && j < pcts.size(); ++i) {
    sum += buckets[i];
    while (j < pcts.size() &&
           static_cast<long double>(sum) >= pcts[j] / 100.0L * static_cast<long double>(samples))
      out[j++] = value(i);
  }
  return out;
}

}  // namespace iostack::job
