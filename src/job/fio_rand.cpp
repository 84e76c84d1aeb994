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
