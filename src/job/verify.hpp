// Data verification in fio's on-disk format (verify.c): every
// verify_interval bytes (else every block) start with fio's verify_header
// (magic 0xacca, method, length, seed, offset, time, thread, write number,
// crc32c of the header) and the method's checksum of the rest; the rest is
// random data from the seed or verify_pattern. So blocks written by
// iostack verify under fio (verify_only) and the other way round.
// verify=pattern writes and checks the pattern alone, with no header.
#pragma once

#include <cstdint>
#include <string>

#include "job/job_options.hpp"

namespace iostack::job {

constexpr std::uint16_t kVerifyMagic = 0xacca;  // fio's header magic

// What fio stamps into a header besides the block: its job thread and the
// time the write was issued.
struct VerifyStamp {
  std::uint16_t thread = 1;
  std::uint64_t time_ns = 0;
};

// Fills buf[0, len) for a write of `offset`.
void verify_fill(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t offset,
                 std::uint64_t seed, std::uint32_t numberio, const VerifyStamp& stamp = {});

// Checks a block read back from `offset`. False with fio-style lines in
// *msg (what failed, where, expected and received).
bool verify_check(const JobOptions& o, const std::uint8_t* buf, std::uint32_t len,
                  std::uint64_t offset, const std::string& file, std::string* msg);

// Fills buf with the pattern (repeated) or with random bytes from `seed`.
void fill_data(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t seed);

}  // namespace iostack::job
