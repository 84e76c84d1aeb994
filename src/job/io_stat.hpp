// Running min/max/mean/variance of a series (fio's struct io_stat), with
// Welford's update so the variance stays exact over millions of samples.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace iostack::job {

struct IoStat {
  std::uint64_t min = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max = 0;
  std::uint64_t samples = 0;
  double mean = 0;
  double S = 0;  // sum of squared differences from the mean

  void add(std::uint64_t v) {
    if (v < min) min = v;
    if (v > max) max = v;
    ++samples;
    const double d = static_cast<double>(v) - mean;
    mean += d / static_cast<double>(samples);
    S += d * (static_cast<double>(v) - mean);
  }
  // Combines two series (Chan et al.), as fio's sum_stat does.
  void merge(const IoStat& o) {
    if (!o.samples) return;
    if (!samples) {
      *this = o;
      return;
    }
    const double n1 = static_cast<double>(samples), n2 = static_cast<double>(o.samples);
    const double d = o.mean - mean;
    mean = (n1 * mean + n2 * o.mean) / (n1 + n2);
    S += o.S + d * d * n1 * n2 / (n1 + n2);
    samples += o.samples;
    if (o.min < min) min = o.min;
    if (o.max > max) max = o.max;
  }
  double stddev() const {
    return samples > 1 ? std::sqrt(S / static_cast<double>(samples - 1)) : 0;
  }
  std::uint64_t min_or_zero() const { return samples ? min : 0; }
};

}  // namespace iostack::job
