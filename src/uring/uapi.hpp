// The parts of the 6.18 io_uring uapi (include/uapi/linux/io_uring.h) that
// the system's 6.1 header lacks: later opcodes, flags and register codes.
#pragma once

#include <linux/io_uring.h>

#include <cstdint>

namespace iostack::uring::uapi {

// Opcodes after IORING_OP_SENDMSG_ZC (48), as numbered since 6.7.
constexpr unsigned kOpReadMultishot = 49;
constexpr unsigned kOpWaitid = 50;
constexpr unsigned kOpFutexWait = 51;
constexpr unsigned kOpFutexWake = 52;
constexpr unsigned kOpFutexWaitv = 53;
constexpr unsigned kOpFixedFdInstall = 54;
constexpr unsigned kOpFtruncate = 55;
constexpr unsigned kOpBind = 56;
constexpr unsigned kOpListen = 57;
constexpr unsigned kOpRecvZc = 58;
constexpr unsigned kOpEpollWait = 59;
constexpr unsigned kOpReadvFixed = 60;
constexpr unsigned kOpWritevFixed = 61;
constexpr unsigned kOpPipe = 62;
constexpr unsigned kOpLast = 63;  // IORING_OP_LAST of 6.18

// IORING_FEAT_MIN_TIMEOUT: io_uring_getevents_arg.min_wait_usec (`pad` here).
constexpr unsigned kFeatRecvsendBundle = 1u << 14;
constexpr unsigned kFeatMinTimeout = 1u << 15;
constexpr unsigned kFeatNoIowait = 1u << 17;  // IORING_ENTER_NO_IOWAIT is taken

// sqe->ioprio of send/recv (IORING_RECVSEND_*).
constexpr unsigned kRecvsendPollFirst = 1u << 0;
constexpr unsigned kRecvMultishot = 1u << 1;
constexpr unsigned kRecvsendFixedBuf = 1u << 2;
constexpr unsigned kSendZcReportUsage = 1u << 3;
constexpr unsigned kRecvsendBundle = 1u << 4;

// sqe->ioprio of accept (IORING_ACCEPT_*).
constexpr unsigned kAcceptMultishot = 1u << 0;
constexpr unsigned kAcceptDontwait = 1u << 1;
constexpr unsigned kAcceptPollFirst = 1u << 2;

// sqe->timeout_flags added after 6.1 (IORING_TIMEOUT_MULTISHOT, 6.4).
constexpr unsigned kTimeoutMultishot = 1u << 6;

// CQE flags added after 6.1.
constexpr std::uint32_t kCqeFBufMore = 1u << 4;  // IORING_CQE_F_BUF_MORE
constexpr std::uint32_t kCqeFSkip = 1u << 5;     // IORING_CQE_F_SKIP (6.18)
constexpr std::uint32_t kCqeF32 = 1u << 15;      // IORING_CQE_F_32 (6.18)

// io_uring_register opcodes added after 6.1.
constexpr unsigned kRegisterPbufStatus = 26;

// struct io_uring_buf_reg flags (IOU_PBUF_RING_*).
constexpr unsigned kPbufRingMmap = 1;
constexpr unsigned kPbufRingInc = 2;

// struct io_uring_sync_cancel_reg as 6.18 spells it (6.1 has pad[4] where
// the opcode now is).
struct SyncCancelReg {
  std::uint64_t addr;
  std::int32_t fd;
  std::uint32_t flags;
  struct __kernel_timespec timeout;
  std::uint8_t opcode;
  std::uint8_t pad[7];
  std::uint64_t pad2[3];
};
static_assert(sizeof(SyncCancelReg) == 64);

// IORING_REGISTER_CLOCK and struct io_uring_clock_register (6.12).
constexpr unsigned kRegisterClock = 29;
struct ClockRegister {
  std::uint32_t clockid;
  std::uint32_t resv[3];
};

// struct io_uring_buf_status (IORING_REGISTER_PBUF_STATUS).
struct BufStatus {
  std::uint32_t buf_group;
  std::uint32_t head;
  std::uint32_t resv[8];
};

// struct io_uring_buf_reg as 6.18 spells it (flags where 6.1 has pad).
struct BufReg {
  std::uint64_t ring_addr;
  std::uint32_t ring_entries;
  std::uint16_t bgid;
  std::uint16_t flags;
  std::uint64_t resv[3];
};
static_assert(sizeof(BufReg) == sizeof(io_uring_buf_reg));

// IORING_REGISTER_RESIZE_RINGS (6.13): a struct io_uring_params in.
constexpr unsigned kRegisterResizeRings = 33;

// Setup flags after DEFER_TASKRUN (6.5, 6.6).
constexpr unsigned kSetupNoMmap = 1u << 14;
constexpr unsigned kSetupRegisteredFdOnly = 1u << 15;
constexpr unsigned kSetupNoSqarray = 1u << 16;
// IORING_SETUP_CQE_MIXED (6.18): 16-byte CQEs, and 32-byte ones with F_32
// in two consecutive entries.
constexpr unsigned kSetupCqeMixed = 1u << 18;

// mmap offset of a buffer ring the kernel allocates (IOU_PBUF_RING_MMAP):
// IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT.
constexpr std::uint64_t kOffPbufRing = 0x80000000ULL;
constexpr unsigned kOffPbufShift = 16;

// IORING_REGISTER_CLONE_BUFFERS and struct io_uring_clone_buffers (6.12).
constexpr unsigned kRegisterCloneBuffers = 30;
constexpr unsigned kRegisterSrcRegistered = 1u << 0;
constexpr unsigned kRegisterDstReplace = 1u << 1;
struct CloneBuffers {
  std::uint32_t src_fd;
  std::uint32_t flags;
  std::uint32_t src_off;
  std::uint32_t dst_off;
  std::uint32_t nr;
  std::uint32_t pad[3];
};

}  // namespace iostack::uring::uapi
