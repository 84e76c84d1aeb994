// fio's Tausworthe generators and seeding.
#include "job/fio_rand.hpp"

namespace iostack::job {
namespace {

// Seeds below the minimum of each component would lose bits (L'Ecuyer's
// erratum); fio adds the minimum to such seeds.
template <typename T>
T at_least(T x, T m) {
  return x < m ? x + m : x;
}

std::uint32_t rol32(std::uint32_t w, unsigned s) { return (w << s) | (w >> (32 - s)); }

}  // namespace

void FioRand::seed(std::uint64_t s, bool use64) {
  use64_ = use64;
  // fio writes the LCG's start as (2^31)+(2^17)+(2^7), which C reads as
  // XORs: 29 + 19 + 5.
  constexpr unsigned kStart = 53;
  if (!use64) {
    const auto sd = static_cast<std::uint32_t>(s);
    auto lcg = [sd](std::uint32_t x) { return x * 69069u ^ sd; };
    s32_[0] = at_least<std::uint32_t>(lcg(kStart), 1);
    s32_[1] = at_least<std::uint32_t>(lcg(s32_[0]), 7);
    s32_[2] = at_least<std::uint32_t>(lcg(s32_[1]), 15);
    for (int i = 0; i < 6; ++i) next32();
  } else {
    auto lcg = [s](std::uint64_t x) { return x * 6906969069ull ^ s; };
    s64_[0] = at_least<std::uint64_t>(lcg(kStart), 1);
    s64_[1] = at_least<std::uint64_t>(lcg(s64_[0]), 7);
    s64_[2] = at_least<std::uint64_t>(lcg(s64_[1]), 15);
    s64_[3] = at_least<std::uint64_t>(lcg(s64_[2]), 33);
    s64_[4] = at_least<std::uint64_t>(lcg(s64_[3]), 49);
    for (int i = 0; i < 6; ++i) next64();
  }
}

std::uint32_t FioRand::next32() {
  auto step = [](std::uint32_t s, unsigned a, unsigned b, std::uint32_t c, unsigned d) {
    return ((s & c) << d) ^ (((s << a) ^ s) >> b);
  };
  s32_[0] = step(s32_[0], 13, 19, 4294967294u, 12);
  s32_[1] = step(s32_[1], 2, 25, 4294967288u, 4);
  s32_[2] = step(s32_[2], 3, 11, 4294967280u, 17);
  return s32_[0] ^ s32_[1] ^ s32_[2];
}

std::uint64_t FioRand::next64() {
  std::uint64_t x;
  x = ((s64_[0] << 1) ^ s64_[0]) >> 53;
  s64_[0] = ((s64_[0] & 18446744073709551614ull) << 10) ^ x;
  x = ((s64_[1] << 24) ^ s64_[1]) >> 50;
  s64_[1] = ((s64_[1] & 18446744073709551104ull) << 5) ^ x;
  x = ((s64_[2] << 3) ^ s64_[2]) >> 23;
  s64_[2] = ((s64_[2] & 18446744073709547520ull) << 29) ^ x;
  x = ((s64_[3] << 5) ^ s64_[3]) >> 24;
  s64_[3] = ((s64_[3] & 18446744073709420544ull) << 23) ^ x;
  x = ((s64_[4] << 3) ^ s64_[4]) >> 33;
  s64_[4] = ((s64_[4] & 18446744073701163008ull) << 8) ^ x;
  return s64_[0] ^ s64_[1] ^ s64_[2] ^ s64_[3] ^ s64_[4];
}

std::uint64_t FioRand::next() { return use64_ ? next64() : next32(); }

std::uint64_t FioRand::between(std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t end = hi - lo + 1;
  if (use64_) {
    const double r = static_cast<double>(next64());
    return lo +
           static_cast<std::uint64_t>(static_cast<double>(end) * (r / (18446744073709551616.0)));
  }
  const double r = static_cast<double>(next32());
  // fio casts the product to int before widening.
  return lo + static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<int>(
                  static_cast<double>(static_cast<std::uint32_t>(end)) * (r / 4294967296.0))));
}

namespace {

// Maximal-length LFSR feedback taps for widths 3..63 (the XAPP052 table
// fio uses), the width itself first.
const std::uint8_t kTaps[64][6] = {
    {},
    {},
    {},
    {3, 2},
    {4, 3},
    {5, 3},
    {6, 5},
    {7, 6},
    {8, 6, 5, 4},
    {9, 5},
    {10, 7},
    {11, 9},
    {12, 6, 4, 1},
    {13, 4, 3, 1},
    {14, 5, 3, 1},
    {15, 14},
    {16, 15, 13, 4},
    {17, 14},
    {18, 11},
    {19, 6, 2, 1},
    {20, 17},
    {21, 19},
    {22, 21},
    {23, 18},
    {24, 23, 22, 17},
    {25, 22},
    {26, 6, 2, 1},
    {27, 5, 2, 1},
    {28, 25},
    {29, 27},
    {30, 6, 4, 1},
    {31, 28},
    {32, 31, 29, 1},
    {33, 20},
    {34, 27, 2, 1},
    {35, 33},
    {36, 25},
    {37, 5, 4, 3, 2, 1},
    {38, 6, 5, 1},
    {39, 35},
    {40, 38, 21, 19},
    {41, 38},
    {42, 41, 20, 19},
    {43, 42, 38, 37},
    {44, 43, 18, 17},
    {45, 44, 42, 41},
    {46, 45, 26, 25},
    {47, 42},
    {48, 47, 21, 20},
    {49, 40},
    {50, 49, 24, 23},
    {51, 50, 36, 35},
    {52, 49},
    {53, 52, 38, 37},
    {54, 53, 18, 17},
    {55, 31},
    {56, 55, 35, 34},
    {57, 50},
    {58, 39},
    {59, 58, 38, 37},
    {60, 59},
    {61, 60, 46, 45},
    {62, 61, 6, 5},
    {63, 62},
};

}  // namespace

bool FioLfsr::init(std::uint64_t nums, std::uint64_t seed) {
  int w = 3;
  while (w < 64 && (1ull << w) <= nums) ++w;  // all ones is never reached
  if (w == 64 || !nums) return false;
  xormask_ = 0;
  for (int i = 0; i < 6 && kTaps[w][i]; ++i) xormask_ |= 1ull << (kTaps[w][i] - 1);
  top_bit_ = 1ull << (kTaps[w][0] - 1);
  max_ = nums - 1;
  return reset(seed);
}

bool FioLfsr::reset(std::uint64_t seed) {
  const std::uint64_t mask = (top_bit_ << 1) - 1;
  given_ = 0;
  first_ = true;
  last_ = seed & mask;
  return last_ != mask;
}

void FioLfsr::step() {
  // Shift right, feeding a one in at the top, and apply the taps when the
  // bit shifted out is zero (an XNOR LFSR).
  last_ = ((last_ >> 1) | top_bit_) ^ (((last_ & 1) - 1) & xormask_);
}

bool FioLfsr::next(std::uint64_t* out) {
  if (given_++ > max_) return false;
  do {
    step();
    if (first_) step();
    first_ = false;
  } while (last_ > max_);
  *out = last_;
  return true;
}

std::uint64_t fio_rand_seed(std::uint64_t randseed, int thread_number, int slot) {
  std::uint64_t seed = randseed;
  for (int i = 0; i < 4; ++i) seed *= 0x9e370001ull;
  for (int i = 0; i < slot; ++i) seed *= 0x9e370001ull;
  return seed * static_cast<std::uint64_t>(thread_number) + static_cast<std::uint64_t>(slot);
}

std::uint32_t fio_jhash(std::string_view key, std::uint32_t initval) {
  auto len = static_cast<std::uint32_t>(key.size());
  const auto* k = reinterpret_cast<const std::uint8_t*>(key.data());
  std::uint32_t a, b, c;
  a = b = c = 0x61C88647u + len + initval;
  while (len > 12) {
    // fio adds single bytes here, not 32-bit words.
    a += k[0];
    b += k[4];
    c += k[8];
    a -= c;
    a ^= rol32(c, 4);
    c += b;
    b -= a;
    b ^= rol32(a, 6);
    a += c;
    c -= b;
    c ^= rol32(b, 8);
    b += a;
    a -= c;
    a ^= rol32(c, 16);
    c += b;
    b -= a;
    b ^= rol32(a, 19);
    a += c;
    c -= b;
    c ^= rol32(b, 4);
    b += a;
    len -= 12;
    k += 12;
  }
  if (len == 0) return c;
  switch (len) {
    case 12:
      c += static_cast<std::uint32_t>(k[11]) << 24;
      [[fallthrough]];
    case 11:
      c += static_cast<std::uint32_t>(k[10]) << 16;
      [[fallthrough]];
    case 10:
      c += static_cast<std::uint32_t>(k[9]) << 8;
      [[fallthrough]];
    case 9:
      c += k[8];
      [[fallthrough]];
    case 8:
      b += static_cast<std::uint32_t>(k[7]) << 24;
      [[fallthrough]];
    case 7:
      b += static_cast<std::uint32_t>(k[6]) << 16;
      [[fallthrough]];
    case 6:
      b += static_cast<std::uint32_t>(k[5]) << 8;
      [[fallthrough]];
    case 5:
      b += k[4];
      [[fallthrough]];
    case 4:
      a += static_cast<std::uint32_t>(k[3]) << 24;
      [[fallthrough]];
    case 3:
      a += static_cast<std::uint32_t>(k[2]) << 16;
      [[fallthrough]];
    case 2:
      a += static_cast<std::uint32_t>(k[1]) << 8;
      [[fallthrough]];
    default:
      a += k[0];
  }
  c ^= b;
  c -= rol32(b, 14);
  a ^= c;
  a -= rol32(c, 11);
  b ^= a;
  b -= rol32(a, 25);
  c ^= b;
  c -= rol32(b, 16);
  a ^= c;
  a -= rol32(c, 4);
  b ^= a;
  b -= rol32(a, 14);
  c ^= b;
  c -= rol32(b, 24);
  return c;
}

}  // namespace iostack::job
