// MD5 (RFC 1321), the digest of fio's verify=md5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace iostack::job {

std::array<std::uint8_t, 16> md5(const void* data, std::size_t len);

}  // namespace iostack::job
