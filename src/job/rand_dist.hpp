// fio's non-uniform offset generators (lib/zipf.c, lib/gauss.c): zipf,
// pareto and normal over `nranges` blocks, each with its own taus88 state,
// the golden-ratio hash that scatters hot blocks over the device, and a
// random (or given) rotation.
#pragma once

#include <cstdint>

#include "job/fio_rand.hpp"

namespace iostack::job {

enum class RandDist { kRandom, kZipf, kPareto, kNormal, kZoned, kZonedAbs };

// fio's struct zipf_state / gauss_state in one.
class DistGen {
 public:
  // center < 0: no center given (fio's -1).
  void init(RandDist d, std::uint64_t nranges, double param, double center, std::uint32_t seed);
  std::uint64_t next();  // a block index in [0, nranges)

 private:
  std::uint64_t zipf_next();
  std::uint64_t pareto_next();
  std::uint64_t gauss_next();

  RandDist kind_ = RandDist::kRandom;
  FioRand rand_;
  std::uint64_t nranges_ = 1;
  std::uint64_t rand_off_ = 0;
  double theta_ = 0, zeta2_ = 0, zetan_ = 0, pareto_pow_ = 0;
  std::uint64_t stddev_ = 0;
};

}  // namespace iostack::job
