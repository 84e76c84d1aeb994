// Data verification (fio's verify.c, in iostack's own layout): each block
// written by a verifying job starts with a header (magic, method, length,
// offset, seed, write number, header checksum) and the checksum of the rest
// of the block; the rest is random data from the seed or verify_pattern.
// verify=pattern writes and checks the pattern alone, with no header.
#pragma once

#include <cstdint>
#include <string>

#include "job/job_options.hpp"

namespace iostack::job {

constexpr std::uint16_t kVerifyMagic = 0xacca;  // fio's header magic

// Fills buf[0, len) for a write of `offset`.
void verify_fill(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t offset,
                 std::uint64_t seed, std::uint32_t numberio);

// Checks a block read back from `offset`. False with fio-style lines in
// *msg (what failed, where, expected and received).
bool verify_check(const JobOptions& o, const std::uint8_t* buf, std::uint32_t len,
                  std::uint64_t offset, const std::string& file, std::string* msg);

// Fills buf with the pattern (repeated) or with random bytes from `seed`.
void fill_data(const JobOptions& o, std::uint8_t* buf, std::uint32_t len, std::uint64_t seed);

}  // namespace iostack::job
