// Operation codes, request flags and block status values: the vocabulary of
// include/linux/blk_types.h. Op codes keep the kernel's numbers so that
// op_is_write() is the same low-bit test.
#pragma once

#include <cerrno>
#include <cstdint>

namespace iostack::block {

using sector_t = std::uint64_t;
constexpr unsigned kSectorShift = 9;
constexpr std::uint32_t kSectorSize = 1u << kSectorShift;

constexpr std::uint32_t REQ_OP_READ = 0;
constexpr std::uint32_t REQ_OP_WRITE = 1;
constexpr std::uint32_t REQ_OP_FLUSH = 2;
constexpr std::uint32_t REQ_OP_DISCARD = 3;
constexpr std::uint32_t REQ_OP_WRITE_ZEROES = 9;
constexpr std::uint32_t REQ_OP_BITS = 8;
constexpr std::uint32_t REQ_OP_MASK = (1u << REQ_OP_BITS) - 1;

// Flag bits above the op, as in enum req_flag_bits.
constexpr std::uint32_t REQ_FAILFAST = 1u << 8;
constexpr std::uint32_t REQ_SYNC = 1u << 11;
constexpr std::uint32_t REQ_META = 1u << 12;
constexpr std::uint32_t REQ_PRIO = 1u << 13;
constexpr std::uint32_t REQ_NOMERGE = 1u << 14;
constexpr std::uint32_t REQ_IDLE = 1u << 15;
constexpr std::uint32_t REQ_FUA = 1u << 17;
constexpr std::uint32_t REQ_PREFLUSH = 1u << 18;
constexpr std::uint32_t REQ_RAHEAD = 1u << 19;
constexpr std::uint32_t REQ_BACKGROUND = 1u << 20;
constexpr std::uint32_t REQ_NOWAIT = 1u << 21;
constexpr std::uint32_t REQ_POLLED = 1u << 22;
constexpr std::uint32_t REQ_ATOMIC = 1u << 26;
constexpr std::uint32_t REQ_NOUNMAP = 1u << 27;
constexpr std::uint32_t REQ_FAILFAST_MASK = REQ_FAILFAST;
// Flags that make a bio or request unmergeable (REQ_NOMERGE_FLAGS).
constexpr std::uint32_t REQ_NOMERGE_FLAGS = REQ_NOMERGE | REQ_PREFLUSH | REQ_FUA;

inline constexpr std::uint32_t req_op(std::uint32_t opf) { return opf & REQ_OP_MASK; }
inline constexpr bool op_is_write(std::uint32_t opf) { return (opf & 1) != 0; }
inline constexpr bool op_is_flush(std::uint32_t opf) {
  return (opf & (REQ_FUA | REQ_PREFLUSH)) != 0;
}
inline constexpr bool op_is_discard(std::uint32_t opf) { return req_op(opf) == REQ_OP_DISCARD; }
// Reads are always synchronous; writes only when flagged (op_is_sync).
inline constexpr bool op_is_sync(std::uint32_t opf) {
  return req_op(opf) == REQ_OP_READ || (opf & (REQ_SYNC | REQ_FUA | REQ_PREFLUSH)) != 0;
}
// Direction index for statistics: read, write, discard, flush (enum stat_group).
enum StatGroup { STAT_READ, STAT_WRITE, STAT_DISCARD, STAT_FLUSH, NR_STAT_GROUPS };
inline constexpr StatGroup op_stat_group(std::uint32_t opf) {
  if (op_is_discard(opf)) return STAT_DISCARD;
  return op_is_write(opf) ? STAT_WRITE : STAT_READ;
}

// blk_status_t values (include/linux/blk_types.h).
enum class BlkStatus : std::uint8_t {
  OK = 0,
  NOTSUPP = 1,
  TIMEOUT = 2,
  NOSPC = 3,
  TRANSPORT = 4,
  TARGET = 5,
  RESV_CONFLICT = 6,
  MEDIUM = 7,
  PROTECTION = 8,
  RESOURCE = 9,
  IOERR = 10,
  AGAIN = 12,
  DEV_RESOURCE = 13,
  OFFLINE = 16,
  INVAL = 19,
};

// blk_status_to_errno (block/blk-core.c): the negative errno user space sees.
inline constexpr int blk_status_to_errno(BlkStatus s) {
  switch (s) {
    case BlkStatus::OK:
      return 0;
    case BlkStatus::NOTSUPP:
      return -EOPNOTSUPP;
    case BlkStatus::TIMEOUT:
      return -ETIMEDOUT;
    case BlkStatus::NOSPC:
      return -ENOSPC;
    case BlkStatus::TRANSPORT:
      return -ENOLINK;
    case BlkStatus::TARGET:
      return -EREMOTEIO;
    case BlkStatus::RESV_CONFLICT:
      return -EBADE;
    case BlkStatus::MEDIUM:
      return -ENODATA;
    case BlkStatus::PROTECTION:
      return -EILSEQ;
    case BlkStatus::RESOURCE:
      return -ENOMEM;
    case BlkStatus::AGAIN:
      return -EAGAIN;
    case BlkStatus::DEV_RESOURCE:
      return -EBUSY;
    case BlkStatus::OFFLINE:
      return -ENODEV;
    case BlkStatus::INVAL:
      return -EINVAL;
    case BlkStatus::IOERR:
      break;
  }
  return -EIO;
}

}  // namespace iostack::block
