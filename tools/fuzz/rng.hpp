// Deterministic pseudo-random numbers for the fuzzer (splitmix64): a seed
// gives the same program on every machine and every run.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace fuzz {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  std::uint32_t below(std::uint32_t n) { return n ? static_cast<std::uint32_t>(next() % n) : 0; }
  // True with probability pct/100.
  bool chance(unsigned pct) { return below(100) < pct; }
  template <typename T>
  T pick(std::initializer_list<T> v) {
    return *(v.begin() + below(static_cast<std::uint32_t>(v.size())));
  }

 private:
  std::uint64_t s_;
};

}  // namespace fuzz
