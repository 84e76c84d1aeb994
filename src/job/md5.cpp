// MD5 for verify=md5.
#include "job/md5.hpp"

#include <cmath>
#include <cstring>

namespace iostack::job {
namespace {

// The per-step constants: floor(|sin(i + 1)| * 2^32) (RFC 1321 3.4).
struct Constants {
  std::uint32_t k[64];
  Constants() {
    for (int i = 0; i < 64; ++i)
      k[i] = static_cast<std::uint32_t>(std::floor(std::fabs(std::sin(i + 1.0)) * 4294967296.0));
  }
};

constexpr int kShift[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                            5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

inline std::uint32_t rotl(std::uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

void block(std::uint32_t h[4], const std::uint8_t* p) {
  static const Constants c;
  std::uint32_t m[16];
  for (int i = 0; i < 16; ++i)
    m[i] = std::uint32_t(p[i * 4]) | std::uint32_t(p[i * 4 + 1]) << 8 |
           std::uint32_t(p[i * 4 + 2]) << 16 | std::uint32_t(p[i * 4 + 3]) << 24;
  std::uint32_t a = h[0], b = h[1], cc = h[2], d = h[3];
  for (int i = 0; i < 64; ++i) {
    std::uint32_t f;
    int g;
    if (i < 16)
      f = (b & cc) | (~b & d), g = i;
    else if (i < 32)
      f = (d & b) | (~d & cc), g = (5 * i + 1) % 16;
    else if (i < 48)
      f = b ^ cc ^ d, g = (3 * i + 5) % 16;
    else
      f = cc ^ (b | ~d), g = (7 * i) % 16;
    const std::uint32_t tmp = d;
    d = cc;
    cc = b;
    b = b + rotl(a + f + c.k[i] + m[g], kShift[i]);
    a = tmp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += cc;
  h[3] += d;
}

}  // namespace

std::array<std::uint8_t, 16> md5(const void* data, std::size_t len) {
  std::uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::size_t n = len;
  while (n >= 64) {
    block(h, p);
    p += 64;
    n -= 64;
  }
  // Padding: 0x80, zeros, then the length in bits, little endian.
  std::uint8_t tail[128] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const std::size_t tail_len = n + 1 + 8 <= 64 ? 64 : 128;
  const std::uint64_t bits = static_cast<std::uint64_t>(len) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<std::uint8_t>(bits >> (8 * i));
  block(h, tail);
  if (tail_len == 128) block(h, tail + 64);
  std::array<std::uint8_t, 16> out{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<std::uint8_t>(h[i] >> (8 * j));
  return out;
}

}  // namespace iostack::job
