// Zipf, pareto and normal block generators as fio computes them.
#include "job/rand_dist.hpp"

#include <algorithm>
#include <cmath>

namespace iostack::job {
namespace {
constexpr std::uint64_t kZipfMaxGen = 10000000;  // fio caps zeta(n) at 10M terms
constexpr int kGaussIters = 12;
}  // namespace

void DistGen::init(RandDist d, std::uint64_t nranges, double param, double center,
                   std::uint32_t seed) {
  kind_ = d;
  nranges_ = nranges ? nranges : 1;
  rand_.seed(seed, false);
  if (d == RandDist::kNormal) {
    stddev_ = 0;
    if (param != 0.0) {
      stddev_ =
          static_cast<std::uint64_t>(std::ceil(static_cast<double>(nranges_) * param / 100.0));
      stddev_ = std::min(stddev_, nranges_ / 2);
    }
    rand_off_ =
        center < 0 ? 0 : static_cast<std::uint64_t>(static_cast<double>(nranges_) * (center - 0.5));
    return;
  }
  // zipf and pareto draw a rotation first (shared_rand_init).
  rand_off_ = rand_.next();
  if (center >= 0) rand_off_ = static_cast<std::uint64_t>(static_cast<double>(nranges_) * center);
  if (d == RandDist::kZipf) {
    theta_ = param;
    zeta2_ = std::pow(1.0, theta_) + std::pow(0.5, theta_);
    zetan_ = 0;
    const std::uint64_t n = std::min(nranges_, kZipfMaxGen);
    for (std::uint64_t i = 0; i < n; ++i)
      zetan_ += std::pow(1.0 / static_cast<double>(i + 1), theta_);
  } else if (d == RandDist::kPareto) {
    pareto_pow_ = std::log(param) / std::log(1.0 - param);
  }
}

std::uint64_t DistGen::zipf_next() {
  const double n = static_cast<double>(nranges_);
  const double alpha = 1.0 / (1.0 - theta_);
  const double eta = (1.0 - std::pow(2.0 / n, 1.0 - theta_)) / (1.0 - zeta2_ / zetan_);
  const double u = static_cast<double>(rand_.next()) / 4294967295.0;
  const double z = u * zetan_;
  std::uint64_t v;
  if (z < 1.0)
    v = 1;
  else if (z < 1.0 + std::pow(0.5, theta_))
    v = 2;
  else
    v = 1 + static_cast<std::uint64_t>(n * std::pow(eta * u - eta + 1.0, alpha));
  --v;
  return (fio_hash_u64(v) + rand_off_) % nranges_;
}

std::uint64_t DistGen::pareto_next() {
  const double r = static_cast<double>(rand_.next()) / 4294967295.0;
  const auto n =
      static_cast<std::uint64_t>(static_cast<double>(nranges_ - 1) * std::pow(r, pareto_pow_));
  return (fio_hash_u64(n) + rand_off_) % nranges_;
}

std::uint64_t DistGen::gauss_next() {
  std::uint64_t sum = 0;
  for (int i = 0; i < kGaussIters; ++i) sum += rand_.next() % (nranges_ + 1);
  sum = (sum + kGaussIters - 1) / kGaussIters;
  if (stddev_) {
    // gauss_dev: an int in [-stddev/2, stddev/2), halved until it fits.
    const auto r = static_cast<double>(rand_.next());
    int dev = static_cast<int>(static_cast<double>(stddev_) * (r / 4294967296.0)) -
              static_cast<int>(stddev_ / 2);
    while (static_cast<std::uint64_t>(static_cast<std::int64_t>(dev)) + sum >= nranges_) dev /= 2;
    sum += static_cast<std::uint64_t>(static_cast<std::int64_t>(dev));
  }
  return (fio_hash_u64(sum) + rand_off_) % nranges_;
}

std::uint64_t DistGen::next() {
  switch (kind_) {
    case RandDist::kZipf:
      return zipf_next();
    case RandDist::kPareto:
      return pareto_next();
    case RandDist::kNormal:
      return gauss_next();
    default:
      return rand_.next() % nranges_;
  }
}

}  // namespace iostack::job
