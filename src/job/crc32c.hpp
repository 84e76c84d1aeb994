// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// fio's verify=crc32c and of the kernel's crc32c(): SSE4.2 when the CPU has
// it, else a slicing-by-8 table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iostack::job {

// crc32c(~0, data) finished with a final inversion, like the kernel's
// crc32c() callers: crc32c_value("123456789") == 0xE3069283.
std::uint32_t crc32c_value(const void* data, std::size_t len);
// Continues a running (non-inverted) register.
std::uint32_t crc32c_update(std::uint32_t crc, const void* data, std::size_t len);

}  // namespace iostack::job
