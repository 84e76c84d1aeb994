// The on-disk format of dm-log-writes (drivers/md/dm-log-writes.c), used as
// is for log files so the kernel's userspace replay-log can read them too:
// a super block in the first sector, then per entry one sector holding the
// entry header (and a mark's text), followed by the entry's data. Sectors
// here are the logged device's logical blocks; all fields little endian.
#pragma once

#include <cstdint>

namespace iostack::dev {

constexpr std::uint64_t kLogFlush = 1u << 0;     // LOG_FLUSH_FLAG
constexpr std::uint64_t kLogFua = 1u << 1;       // LOG_FUA_FLAG
constexpr std::uint64_t kLogDiscard = 1u << 2;   // LOG_DISCARD_FLAG
constexpr std::uint64_t kLogMark = 1u << 3;      // LOG_MARK_FLAG
constexpr std::uint64_t kLogMetadata = 1u << 4;  // LOG_METADATA_FLAG

constexpr std::uint64_t kLogMagic = 0x6a736677736872ull;  // WRITE_LOG_MAGIC
constexpr std::uint64_t kLogVersion = 1;                  // WRITE_LOG_VERSION

// struct log_write_super.
struct LogSuper {
  std::uint64_t magic;
  std::uint64_t version;
  std::uint64_t nr_entries;
  std::uint32_t sectorsize;
} __attribute__((packed));

// struct log_write_entry.
struct LogEntryHeader {
  std::uint64_t sector;
  std::uint64_t nr_sectors;
  std::uint64_t flags;
  std::uint64_t data_len;
};

static_assert(sizeof(LogSuper) == 28 && sizeof(LogEntryHeader) == 32);

}  // namespace iostack::dev
