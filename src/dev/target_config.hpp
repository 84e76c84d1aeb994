// Options of the stacking targets, the device-mapper-like devices that wrap
// another device spec: flakey (dm-flakey), dust (dm-dust), delay (dm-delay),
// error (fails chosen I/O) and log-writes (dm-log-writes). Spec syntax in
// device_spec.hpp; semantics in each target's header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block/blk_types.hpp"

namespace iostack::dev {

// dm-flakey's table: <up interval> <down interval> [features]. With no
// feature, I/O while down fails (error_reads + error_writes, as the kernel
// sets them by default).
struct FlakeyConfig {
  unsigned up_interval = 0;    // seconds available
  unsigned down_interval = 0;  // seconds unreliable
  bool error_reads = false;
  bool drop_writes = false;
  bool error_writes = false;
  // corrupt_bio_byte <Nth_byte> <direction> <value> <flags>: 0 = off; the
  // first byte is 1.
  std::uint32_t corrupt_bio_byte = 0;
  bool corrupt_write = false;  // direction: w (true) or r
  std::uint8_t corrupt_value = 0;
  std::uint32_t corrupt_flags = 0;  // bi_opf bits that must all be set (kernel numbers)
  // random_{read,write}_corrupt: out of 1000000000 (PROBABILITY_BASE).
  std::uint32_t random_read_corrupt = 0;
  std::uint32_t random_write_corrupt = 0;
  std::uint64_t seed = 1;  // for the random corruption (the kernel's is not seeded)
};

// dm-dust: <blksz>, bad blocks added by message (or given here), read
// failures off until "enable" (or enable=1 here).
struct DustConfig {
  std::uint32_t block_size = 512;
  bool enable = false;  // fail_read_on_bb
  bool quiet = false;
  std::vector<std::uint64_t> bad_blocks;
};

// dm-delay: <read delay> [<write delay> [<flush delay>]] in milliseconds;
// a missing write delay is the read delay, a missing flush delay the write
// delay (the kernel's defaults for 3- and 6-argument tables).
struct DelayConfig {
  std::uint64_t read_ms = 0;
  std::uint64_t write_ms = 0;
  std::uint64_t flush_ms = 0;
};

// Which operations the error target fails (bit per kind).
enum ErrorOps : unsigned {
  kErrRead = 1u << 0,
  kErrWrite = 1u << 1,
  kErrFlush = 1u << 2,
  kErrDiscard = 1u << 3,  // discard and write-zeroes
  kErrAll = 15,
};

// error: fails the chosen operations that touch [start, end] (sectors,
// inclusive; default the whole device), each with probability
// `probability` out of 1000000000 (default always), with `status`.
struct ErrorConfig {
  unsigned ops = kErrAll;
  bool has_range = false;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t probability = 1000000000;
  std::uint64_t seed = 1;
  block::BlkStatus status = block::BlkStatus::IOERR;
};

// dm-log-writes: the log goes to a file in dm-log-writes' on-disk format.
struct LogWritesConfig {
  std::string log_path;
};

// What reaches the media of a volatile write cache when the power goes.
enum class CutOrder {
  kLose,  // nothing that was not durable
  kFifo,  // the cached writes in order, up to a random point
  kAny,   // a random subset of the cached writes
  kTorn,  // a random subset of the cached writes' atomic units
};

// wcache: a volatile write cache in front of the device below, and its
// power switch. Sizes in bytes; times on the device's clock.
struct WcacheConfig {
  std::uint64_t size_bytes = 64ull << 20;  // written back (oldest first) beyond this
  CutOrder order = CutOrder::kLose;
  std::uint32_t atomic_bytes = 0;  // torn unit; 0: the logical block size
  std::uint64_t seed = 1;
  std::uint64_t powercut_ms = 0;      // cut this long after creation (0: never)
  std::uint64_t powercut_writes = 0;  // cut once this many writes were acknowledged
  std::string powercut_mark;          // cut at the message "mark <this>"
};

// Empty when usable, else one line naming the problem (the kernel
// constructors' checks); defined with each target.
std::string validate(const FlakeyConfig& cfg);
std::string validate(const DustConfig& cfg);

}  // namespace iostack::dev
