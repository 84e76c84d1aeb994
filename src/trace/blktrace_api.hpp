// The blktrace binary record format, as defined by the kernel's
// include/uapi/linux/blktrace_api.h, so that blkparse and btt read our traces.
// Names differ from the uapi macros (BLK_TA_QUEUE, ...) on purpose: those are
// preprocessor macros and would clash if both headers met in one file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iostack::trace {

constexpr std::uint32_t kBlkIoTraceMagic = 0x65617400;
constexpr std::uint32_t kBlkIoTraceVersion = 0x07;
// Linux 6.17's second record format (BLK_IO_TRACE2_VERSION, struct
// blk_io_trace2): a 64-bit action for the categories past bit 15.
constexpr std::uint32_t kBlkIoTrace2Version = 0x08;

// Category bits (enum blktrace_cat). They live in the upper 16 bits of
// BlkIoTrace::action; tc_act() moves them there.
constexpr std::uint32_t kTcRead = 1u << 0;
constexpr std::uint32_t kTcWrite = 1u << 1;
constexpr std::uint32_t kTcFlush = 1u << 2;
constexpr std::uint32_t kTcSync = 1u << 3;
constexpr std::uint32_t kTcQueue = 1u << 4;
constexpr std::uint32_t kTcRequeue = 1u << 5;
constexpr std::uint32_t kTcIssue = 1u << 6;
constexpr std::uint32_t kTcComplete = 1u << 7;
constexpr std::uint32_t kTcFs = 1u << 8;
constexpr std::uint32_t kTcPc = 1u << 9;
constexpr std::uint32_t kTcNotify = 1u << 10;
constexpr std::uint32_t kTcAhead = 1u << 11;
constexpr std::uint32_t kTcMeta = 1u << 12;
constexpr std::uint32_t kTcDiscard = 1u << 13;
constexpr std::uint32_t kTcDrvData = 1u << 14;
constexpr std::uint32_t kTcFua = 1u << 15;

constexpr std::uint32_t kTcShift = 16;
constexpr std::uint32_t tc_act(std::uint32_t tc) { return tc << kTcShift; }

// Basic action codes (enum blktrace_act, the __BLK_TA_* values): low 16 bits.
constexpr std::uint32_t kActQueue = 1;
constexpr std::uint32_t kActBackmerge = 2;
constexpr std::uint32_t kActFrontmerge = 3;
constexpr std::uint32_t kActGetrq = 4;
constexpr std::uint32_t kActSleeprq = 5;
constexpr std::uint32_t kActRequeue = 6;
constexpr std::uint32_t kActIssue = 7;
constexpr std::uint32_t kActComplete = 8;
constexpr std::uint32_t kActPlug = 9;
constexpr std::uint32_t kActUnplugIo = 10;
constexpr std::uint32_t kActUnplugTimer = 11;
constexpr std::uint32_t kActInsert = 12;
constexpr std::uint32_t kActSplit = 13;
constexpr std::uint32_t kActBounce = 14;
constexpr std::uint32_t kActRemap = 15;
constexpr std::uint32_t kActAbort = 16;
constexpr std::uint32_t kActDrvData = 17;
constexpr std::uint32_t kActMask = 0xffff;

// Notify codes (enum blktrace_notify).
constexpr std::uint32_t kTnProcessCode = 0;
constexpr std::uint32_t kTnTimestampCode = 1;
constexpr std::uint32_t kTnMessageCode = 2;

// Full actions as the kernel's tracepoints record them (BLK_TA_*); the
// direction and flag categories are OR-ed in per event. Split and bounce carry
// no category of their own, exactly as in the uapi header.
constexpr std::uint32_t kBlkTaQueue = kActQueue | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaBackmerge = kActBackmerge | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaFrontmerge = kActFrontmerge | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaGetrq = kActGetrq | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaSleeprq = kActSleeprq | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaRequeue = kActRequeue | tc_act(kTcRequeue);
constexpr std::uint32_t kBlkTaIssue = kActIssue | tc_act(kTcIssue);
constexpr std::uint32_t kBlkTaComplete = kActComplete | tc_act(kTcComplete);
constexpr std::uint32_t kBlkTaPlug = kActPlug | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaUnplugIo = kActUnplugIo | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaUnplugTimer = kActUnplugTimer | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaInsert = kActInsert | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaSplit = kActSplit;
constexpr std::uint32_t kBlkTaBounce = kActBounce;
constexpr std::uint32_t kBlkTaRemap = kActRemap | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaAbort = kActAbort | tc_act(kTcQueue);
constexpr std::uint32_t kBlkTaDrvData = kActDrvData | tc_act(kTcDrvData);

constexpr std::uint32_t kBlkTnProcess = kTnProcessCode | tc_act(kTcNotify);
constexpr std::uint32_t kBlkTnTimestamp = kTnTimestampCode | tc_act(kTcNotify);
constexpr std::uint32_t kBlkTnMessage = kTnMessageCode | tc_act(kTcNotify);

// Request-level events (insert, issue, complete, requeue, request merge) are
// marked FS for file system requests and PC for passthrough ones, as the
// kernel's blk_add_trace_rq() does; blkparse prints the two kinds differently.
constexpr std::uint32_t rq_action(std::uint32_t blk_ta, bool fs_request = true) {
  return blk_ta | tc_act(fs_request ? kTcFs : kTcPc);
}

// dev_t as the kernel stores it in a trace (MINORBITS = 20), not glibc's.
constexpr std::uint32_t kernel_mkdev(std::uint32_t major, std::uint32_t minor) {
  return (major << 20) | minor;
}
constexpr std::uint32_t kernel_major(std::uint32_t dev) { return dev >> 20; }
constexpr std::uint32_t kernel_minor(std::uint32_t dev) { return dev & ((1u << 20) - 1); }

// Process name length in a PROCESS notify (TASK_COMM_LEN).
constexpr std::size_t kTaskCommLen = 16;

// One trace record, followed by pdu_len payload bytes (struct blk_io_trace).
// Fields are in host byte order, as the kernel writes them.
struct BlkIoTrace {
  std::uint32_t magic;     // kBlkIoTraceMagic | kBlkIoTraceVersion
  std::uint32_t sequence;  // per-cpu event number, from 1
  std::uint64_t time;      // ns
  std::uint64_t sector;
  std::uint32_t bytes;
  std::uint32_t action;  // code | tc_act(categories)
  std::uint32_t pid;
  std::uint32_t device;  // kernel_mkdev(major, minor)
  std::uint32_t cpu;
  std::uint16_t error;
  std::uint16_t pdu_len;
};

static_assert(sizeof(BlkIoTrace) == 48);
static_assert(offsetof(BlkIoTrace, magic) == 0);
static_assert(offsetof(BlkIoTrace, sequence) == 4);
static_assert(offsetof(BlkIoTrace, time) == 8);
static_assert(offsetof(BlkIoTrace, sector) == 16);
static_assert(offsetof(BlkIoTrace, bytes) == 24);
static_assert(offsetof(BlkIoTrace, action) == 28);
static_assert(offsetof(BlkIoTrace, pid) == 32);
static_assert(offsetof(BlkIoTrace, device) == 36);
static_assert(offsetof(BlkIoTrace, cpu) == 40);
static_assert(offsetof(BlkIoTrace, error) == 44);
static_assert(offsetof(BlkIoTrace, pdu_len) == 46);

// Categories only version 8 records can carry, in the upper half of
// BlkIoTrace2::action (tc_act2() puts them there).
constexpr std::uint64_t kTc2ZoneAppend = 1ull << 16;
constexpr std::uint64_t kTc2ZoneReset = 1ull << 17;
constexpr std::uint64_t kTc2ZoneResetAll = 1ull << 18;
constexpr std::uint64_t kTc2ZoneFinish = 1ull << 19;
constexpr std::uint64_t kTc2ZoneOpen = 1ull << 20;
constexpr std::uint64_t kTc2ZoneClose = 1ull << 21;
constexpr std::uint64_t kTc2WriteZeroes = 1ull << 22;
constexpr std::uint64_t tc_act2(std::uint64_t tc) { return tc << kTcShift; }

// A version 8 record (struct blk_io_trace2): pid before a 64-bit action,
// padded to 64 bytes; the payload follows as in version 7.
struct BlkIoTrace2 {
  std::uint32_t magic;  // kBlkIoTraceMagic | kBlkIoTrace2Version
  std::uint32_t sequence;
  std::uint64_t time;
  std::uint64_t sector;
  std::uint32_t bytes;
  std::uint32_t pid;
  std::uint64_t action;  // code | tc_act2(categories)
  std::uint32_t device;
  std::uint32_t cpu;
  std::uint16_t error;
  std::uint16_t pdu_len;
  std::uint8_t pad[12];
};

static_assert(sizeof(BlkIoTrace2) == 64);
static_assert(offsetof(BlkIoTrace2, bytes) == 24);
static_assert(offsetof(BlkIoTrace2, pid) == 28);
static_assert(offsetof(BlkIoTrace2, action) == 32);
static_assert(offsetof(BlkIoTrace2, device) == 40);
static_assert(offsetof(BlkIoTrace2, cpu) == 44);
static_assert(offsetof(BlkIoTrace2, error) == 48);
static_assert(offsetof(BlkIoTrace2, pdu_len) == 50);

// Payload of a remap event, all big-endian (struct blk_io_trace_remap).
struct BlkIoTraceRemap {
  std::uint32_t device_from_be;
  std::uint32_t device_to_be;
  std::uint64_t sector_from_be;
};

static_assert(sizeof(BlkIoTraceRemap) == 16);

}  // namespace iostack::trace
