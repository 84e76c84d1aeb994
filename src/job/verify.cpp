// Writing verify headers and checking blocks read back.
#include "job/verify.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>

#include "job/crc32c.hpp"
#include "job/md5.hpp"
#include "job/rand.hpp"

namespace iostack::job {
namespace {

struct Header {
  std::uint16_t magic;
  std::uint16_t type;
  std::uint32_t len;
  std::uint64_t offset;
  std::uint64_t seed;
  std::uint32_t numberio;
  std::uint32_t crc32;  // crc32c of the fields above
};
static_assert(sizeof(Header) == 32);

std::uint32_t csum_len(VerifyType t) {
  return t == VerifyType::kMd5 ? 16 : t == VerifyType::kCrc32c ? 4 : 0;
}

std::uint32_t header_size(VerifyType t) {
  return t == VerifyType::kPattern ? 0 : static_cast<std::uint32_t>(sizeof(Header)) + csum_len(t);
}

void compute_csum(VerifyType t, const std::uint8_t* data, std::uint32_t n, std::uint8_t* out) {
  if (t == VerifyType::kCrc32c) {
    const std::uint32_t c = crc32c_value(data, n);
    std::memcpy(out, &c, 4);
  } else if (t == VerifyType::kMd5) {
    const auto d = md5(data, n);
    std::memcpy(out, d.data(), 16);
  }
}

std::string hex(const std::uint8_t* p, std::uint32_t n) {
  std::string s;
  for (std::uint32_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
  return s;
}

bool check_pattern(const JobOptions& o, const std::uint8_t* buf, std::uint32_t from,
                   std::uint32_t len, std::uint64_t offset, const std::string& file,
                   std::string* msg) {
  const auto& p = o.verify_pattern;
  for (std::uint32_t i = from; i < len; ++i) {
    const std::uint8_t want = p[i % p.size()];
    if (buf[i] != want) {
      *msg = fmt::format(
          "pattern: verify failed at file {} offset {}, length {} (requested block: offset={}, "
          "length={})\n       Expected pattern byte 0x{:02x} at block offset {}, got 0x{:02x}\n",
          file, offset + i, len - i, offset, len, want, i, buf[i]);
      return false;
    }
  }
  return true;
}

}  // namespace

void fill_data(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t seed) {
  const auto& p = o.verify_pattern;
  if (!p.empty()) {
    for (std::uint32_t i = 0; i < len; ++i) buf[i] = p[i % p.size()];
    return;
  }
  Rand r(seed);
  std::uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const std::uint64_t v = r.next();
    std::memcpy(buf + i, &v, 8);
  }
  for (; i < len; ++i) buf[i] = static_cast<std::uint8_t>(r.next());
}

void verify_fill(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t offset,
                 std::uint64_t seed, std::uint32_t numberio) {
  fill_data(o, buf, len, seed);
  if (o.verify == VerifyType::kPattern) return;
  const std::uint32_t hs = header_size(o.verify);
  Header h{kVerifyMagic, static_cast<std::uint16_t>(o.verify), len, offset, seed, numberio, 0};
  h.crc32 = crc32c_value(&h, offsetof(Header, crc32));
  std::memcpy(buf, &h, sizeof h);
  compute_csum(o.verify, buf + hs, len - hs, buf + sizeof(Header));
}

bool verify_check(const JobOptions& o, const std::uint8_t* buf, std::uint32_t len,
                  std::uint64_t offset, const std::string& file, std::string* msg) {
  if (o.verify == VerifyType::kPattern) return check_pattern(o, buf, 0, len, offset, file, msg);
  const std::uint32_t hs = header_size(o.verify);
  Header h;
  std::memcpy(&h, buf, sizeof h);
  const auto where = fmt::format(
      "at file {} offset {}, length {} (requested block: offset={}, "
      "length={})",
      file, offset, len, offset, len);
  if (h.magic != kVerifyMagic) {
    *msg = fmt::format("verify: bad magic header {:x}, wanted {:x} {}\n", h.magic, kVerifyMagic,
                       where);
    return false;
  }
  if (h.crc32 != crc32c_value(&h, offsetof(Header, crc32))) {
    *msg = fmt::format("verify: bad header crc {:x} {}\n", h.crc32, where);
    return false;
  }
  if (h.len != len || h.offset != offset) {
    *msg = fmt::format("verify: bad header offset {}, wanted {} / length {}, wanted {} {}\n",
                       h.offset, offset, h.len, len, where);
    return false;
  }
  if (h.type != static_cast<std::uint16_t>(o.verify)) {
    *msg = fmt::format("verify: bad header verify type {}, wanted {} {}\n", h.type,
                       static_cast<int>(o.verify), where);
    return false;
  }
  std::uint8_t got[16];
  const std::uint32_t cl = csum_len(o.verify);
  compute_csum(o.verify, buf + hs, len - hs, got);
  if (std::memcmp(got, buf + sizeof(Header), cl) != 0) {
    const char* what = o.verify == VerifyType::kMd5 ? "MD5" : "CRC";
    *msg =
        fmt::format("{}: verify failed {}\n       Expected {}: {}\n       Received {}: {}\n",
                    o.verify_name, where, what, hex(buf + sizeof(Header), cl), what, hex(got, cl));
    return false;
  }
  if (!o.verify_pattern.empty()) return check_pattern(o, buf, hs, len, offset, file, msg);
  return true;
}

}  // namespace iostack::job
