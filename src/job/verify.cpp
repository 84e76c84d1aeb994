// Writing verify headers and checking blocks read back, in fio's format.
#include "job/verify.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>

#include "job/crc32c.hpp"
#include "job/md5.hpp"
#include "job/rand.hpp"

namespace iostack::job {
namespace {

// fio's struct verify_header (verify.h), little-endian on disk as fio
// writes it on x86 and arm64.
struct Header {
  std::uint16_t magic;
  std::uint16_t verify_type;
  std::uint32_t len;
  std::uint64_t rand_seed;
  std::uint64_t offset;
  std::uint32_t time_sec;
  std::uint32_t time_nsec;
  std::uint16_t thread;
  std::uint16_t numberio;
  std::uint32_t crc32;  // fio_crc32c of the fields above
};
static_assert(sizeof(Header) == 40);

// fio's enum of verify methods (verify.h) for the ones iostack writes.
constexpr std::uint16_t kFioHdrOnly = 1, kFioMd5 = 2, kFioCrc32c = 5, kFioCrc32cIntel = 6,
                        kFioPattern = 17, kFioPatternNoHdr = 18;

std::uint16_t fio_type(const JobOptions& o) {
  switch (o.verify) {
    case VerifyType::kMd5:
      return kFioMd5;
    case VerifyType::kCrc32c:
      return o.verify_name == "crc32c-intel" ? kFioCrc32cIntel : kFioCrc32c;
    case VerifyType::kPatternHdr:
      return kFioPattern;
    case VerifyType::kMeta:
      return kFioHdrOnly;
    default:
      return kFioPatternNoHdr;
  }
}

// fio's crc32c: the register after the data, not inverted at the end.
std::uint32_t fio_crc32c(const void* p, std::size_t n) { return crc32c_update(~0u, p, n); }

std::uint32_t csum_len(VerifyType t) {
  return t == VerifyType::kMd5 ? 16 : t == VerifyType::kCrc32c ? 4 : 0;
}

// __hdr_size: the header and the method's checksum.
std::uint32_t header_size(VerifyType t) {
  return t == VerifyType::kPattern ? 0 : static_cast<std::uint32_t>(sizeof(Header)) + csum_len(t);
}

// get_hdr_inc: a header every verify_interval bytes, else one per block.
std::uint32_t hdr_inc(const JobOptions& o, std::uint32_t len) {
  return o.verify_interval && o.verify_interval <= len ? o.verify_interval : len;
}

void compute_csum(VerifyType t, const std::uint8_t* data, std::uint32_t n, std::uint8_t* out) {
  if (t == VerifyType::kCrc32c) {
    const std::uint32_t c = fio_crc32c(data, n);
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

// The pattern from `from` to `to` of the block, in phase with its start.
bool check_pattern(const JobOptions& o, const std::uint8_t* buf, std::uint32_t from,
                   std::uint32_t to, std::uint32_t len, std::uint64_t offset,
                   const std::string& file, std::string* msg) {
  const auto& p = o.verify_pattern;
  for (std::uint32_t i = from; i < to; ++i) {
    const std::uint8_t want = p[i % p.size()];
    if (buf[i] != want) {
      *msg = fmt::format(
          "pattern: verify failed at file {} offset {}, length {} (requested block: offset={}, "
          "length={})\n       Expected pattern byte 0x{:02x} at block offset {}, got 0x{:02x}\n",
          file, offset + i, to - i, offset, len, want, i, buf[i]);
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
                 std::uint64_t seed, std::uint32_t numberio, const VerifyStamp& stamp) {
  fill_data(o, buf, len, seed);
  if (o.verify == VerifyType::kPattern) return;
  const std::uint32_t hs = header_size(o.verify), inc = hdr_inc(o, len);
  std::uint32_t n = 0;
  for (std::uint32_t at = 0; at < len; at += inc, ++n) {
    Header h{};
    h.magic = kVerifyMagic;
    h.verify_type = fio_type(o);
    h.len = inc;
    h.rand_seed = seed;
    h.offset = offset + std::uint64_t{n} * o.verify_interval;
    h.time_sec = static_cast<std::uint32_t>(stamp.time_ns / 1000000000ull);
    h.time_nsec = static_cast<std::uint32_t>(stamp.time_ns % 1000000000ull);
    h.thread = stamp.thread;
    h.numberio = static_cast<std::uint16_t>(numberio);
    h.crc32 = fio_crc32c(&h, offsetof(Header, crc32));
    std::memcpy(buf + at, &h, sizeof h);
    const std::uint32_t end = std::min(at + inc, len);
    if (end - at > hs)
      compute_csum(o.verify, buf + at + hs, end - at - hs, buf + at + sizeof(Header));
  }
}

bool verify_check(const JobOptions& o, const std::uint8_t* buf, std::uint32_t len,
                  std::uint64_t offset, const std::string& file, std::string* msg) {
  if (o.verify == VerifyType::kPattern)
    return check_pattern(o, buf, 0, len, len, offset, file, msg);
  const std::uint32_t hs = header_size(o.verify), inc = hdr_inc(o, len);
  std::uint32_t n = 0;
  for (std::uint32_t at = 0; at < len; at += inc, ++n) {
    Header h;
    std::memcpy(&h, buf + at, sizeof h);
    const std::uint64_t want_off = offset + std::uint64_t{n} * o.verify_interval;
    const auto where = fmt::format(
        " at file {} offset {}, length {} (requested block: offset={}, "
        "length={})\n",
        file, offset + at, inc, offset, len);
    if (h.magic != kVerifyMagic) {
      *msg =
          fmt::format("verify: bad magic header {:x}, wanted {:x}", h.magic, kVerifyMagic) + where;
      return false;
    }
    if (h.len != inc) {
      *msg = fmt::format("verify: bad header length {}, wanted {}", h.len, inc) + where;
      return false;
    }
    if (h.offset != want_off) {
      *msg = fmt::format("verify: bad header offset {}, wanted {}", h.offset, want_off) + where;
      return false;
    }
    const std::uint32_t crc = fio_crc32c(&h, offsetof(Header, crc32));
    if (crc != h.crc32) {
      *msg = fmt::format("verify: bad header crc {:x}, calculated {:x}", h.crc32, crc) + where;
      return false;
    }
    const std::uint32_t end = std::min(at + inc, len);
    const std::uint32_t cl = csum_len(o.verify);
    if (cl) {
      std::uint8_t got[16];
      compute_csum(o.verify, buf + at + hs, end - at - hs, got);
      if (std::memcmp(got, buf + at + sizeof(Header), cl) != 0) {
        const char* what = o.verify == VerifyType::kMd5 ? "MD5" : "CRC";
        const char* name = o.verify == VerifyType::kMd5 ? "md5" : "crc32c";
        *msg = fmt::format(
            "{}: verify failed at file {} offset {}, length {} (requested block: "
            "offset={}, length={})\n       Expected {}: {}\n       Received {}: "
            "{}\n",
            name, file, offset + at, inc, offset, len, what, hex(buf + at + sizeof(Header), cl),
            what, hex(got, cl));
        if (h.verify_type != fio_type(o))
          *msg += fmt::format("fio: verify type mismatch ({} media, {} given)\n", h.verify_type,
                              fio_type(o));
        return false;
      }
    }
    if (!o.verify_pattern.empty() && !check_pattern(o, buf, at + hs, end, len, offset, file, msg))
      return false;
  }
  return true;
}

}  // namespace iostack::job
