// Reading and replaying dm-log-writes logs (log_format.hpp), as the kernel's
// companion tool replay-log does: entries are applied in log order (writes
// write their data, discards write zeroes, flushes and marks change
// nothing) up to an entry count or through a named mark.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace iostack::dev {

class BlockDevice;

struct LogEntry {
  std::uint64_t index = 0;       // 0 for the first entry
  std::uint64_t sector = 0;      // in 512-byte sectors
  std::uint64_t nr_sectors = 0;  // in 512-byte sectors
  std::uint64_t flags = 0;       // kLog* (log_format.hpp)
  std::string mark;              // a mark's text
  std::string data;              // a write's data
};

// Reads a whole log. False with *err set (one line naming the file and the
// entry) on a bad or truncated log.
bool read_log(const std::string& path, std::vector<LogEntry>* entries, std::uint32_t* sectorsize,
              std::string* err);

struct ReplayLimit {
  std::uint64_t max_entries = UINT64_MAX;  // apply at most this many entries
  std::string end_mark;                    // when set, stop after this mark (must exist)
};

// Where replayed entries go: write(byte offset, data, len), returning 0 or
// -errno.
using ReplayWrite = std::function<int(std::uint64_t, const char*, std::size_t)>;
// A ReplayWrite that pwrites all of each entry to `fd` (which stays the
// caller's).
ReplayWrite replay_write_to_fd(int fd);

// Applies the entries within `limit` in order; returns how many entries were
// applied, or -1 with *err set (bad log, missing mark, failed write).
std::int64_t replay_log(const std::string& path, const ReplayLimit& limit, const ReplayWrite& write,
                        std::string* err);
// Onto a file or block device path (opened for writing, not truncated).
std::int64_t replay_log_to_path(const std::string& log, const std::string& target,
                                const ReplayLimit& limit, std::string* err);
// Onto an iostack device, through its block layer (synchronous bios; the
// device must complete without a virtual clock being pumped).
std::int64_t replay_log_to_device(const std::string& log, BlockDevice* dev,
                                  const ReplayLimit& limit, std::string* err);

// One line per entry: "<index> <flags> <sector> <sectors> [mark]".
std::string describe(const LogEntry& e);

}  // namespace iostack::dev
