// Latency histogram with fio's bucket layout (stat.h FIO_IO_U_PLAT_*):
// values below 128 ns have a bucket each; above, every power of two is cut
// into 64 buckets, so a percentile is off by at most 1/128 of its value.
// Percentiles are read the way fio reads them: the first bucket where the
// running count reaches p% of the samples, reported at the bucket's middle.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace iostack::job {

constexpr unsigned kPlatBits = 6;
constexpr unsigned kPlatVal = 1u << kPlatBits;
constexpr unsigned kPlatGroups = 29;
constexpr unsigned kPlatNr = kPlatGroups * kPlatVal;

// fio's default percentile_list.
inline const std::vector<double>& default_percentiles() {
  static const std::vector<double> p = {1,  5,  10, 20, 30,   40,   50,    60,   70,
                                        80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99};
  return p;
}

struct LatHist {
  std::array<std::uint64_t, kPlatNr> buckets{};

  static unsigned index(std::uint64_t ns);
  static std::uint64_t value(unsigned idx);

  void add(std::uint64_t ns) { ++buckets[index(ns)]; }
  void merge(const LatHist& o) {
    for (unsigned i = 0; i < kPlatNr; ++i) buckets[i] += o.buckets[i];
  }
  // One value (ns) per entry of `pcts`, which must be sorted ascending.
  std::vector<std::uint64_t> percentiles(const std::vector<double>& pcts,
                                         std::uint64_t samples) const;
};

}  // namespace iostack::job
