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
constexpr unsigned kFeatRwAttr = 1u << 16;    // sqe->attr_ptr / attr_type_mask
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
constexpr unsigned kRegisterSendMsgRing = 31;  // 6.13: fd -1, an SQE of IORING_OP_MSG_RING
constexpr unsigned kRegisterZcrxIfq = 32;
constexpr unsigned kRegisterQuery = 35;  // 6.18: with a ring or fd -1
constexpr unsigned kRegisterLast = 36;   // IORING_REGISTER_LAST of 6.18

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

// struct io_uring_buf_reg as 6.18 spells it (flags where 6.1 has pad;
// min_left from 6.18's stable fixes, where resv began).
struct BufReg {
  std::uint64_t ring_addr;
  std::uint32_t ring_entries;
  std::uint16_t bgid;
  std::uint16_t flags;
  std::uint32_t min_left;
  std::uint32_t resv[5];
};
static_assert(sizeof(BufReg) == sizeof(io_uring_buf_reg));

// IORING_REGISTER_RESIZE_RINGS (6.13): a struct io_uring_params in.
constexpr unsigned kRegisterResizeRings = 33;

// Setup flags after DEFER_TASKRUN (6.5, 6.6).
constexpr unsigned kSetupNoMmap = 1u << 14;
constexpr unsigned kSetupRegisteredFdOnly = 1u << 15;
constexpr unsigned kSetupNoSqarray = 1u << 16;
// IORING_SETUP_HYBRID_IOPOLL (6.13): an IOPOLL ring that sleeps before it
// polls (no field of its own in the params).
constexpr unsigned kSetupHybridIopoll = 1u << 17;
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

// IORING_REGISTER_MEM_REGION (6.13): struct io_uring_mem_region_reg naming
// a struct io_uring_region_desc; mapped at IORING_MAP_OFF_PARAM_REGION.
constexpr unsigned kRegisterMemRegion = 34;
constexpr std::uint64_t kMapOffParamRegion = 0x20000000ULL;
constexpr unsigned kMemRegionTypeUser = 1;    // IORING_MEM_REGION_TYPE_USER
constexpr unsigned kMemRegionRegWaitArg = 1;  // IORING_MEM_REGION_REG_WAIT_ARG
struct RegionDesc {
  std::uint64_t user_addr;
  std::uint64_t size;
  std::uint32_t flags;
  std::uint32_t id;
  std::uint64_t mmap_offset;
  std::uint64_t resv[4];
};
static_assert(sizeof(RegionDesc) == 64);
struct MemRegionReg {
  std::uint64_t region_uptr;
  std::uint64_t flags;
  std::uint64_t resv[2];
};

// IORING_ENTER_EXT_ARG_REG's argument: struct io_uring_reg_wait.
constexpr unsigned kRegWaitTs = 1;  // IORING_REG_WAIT_TS
struct RegWait {
  struct __kernel_timespec ts;
  std::uint32_t min_wait_usec;
  std::uint32_t flags;
  std::uint64_t sigmask;
  std::uint32_t sigmask_sz;
  std::uint32_t pad[3];
  std::uint64_t pad2[2];
};
static_assert(sizeof(RegWait) == 64);

// IORING_REGISTER_NAPI / IORING_UNREGISTER_NAPI and struct io_uring_napi
// as 6.18 spells it (opcode and op_param where 6.9 had padding).
constexpr unsigned kRegisterNapi = 27;
constexpr unsigned kUnregisterNapi = 28;
struct Napi {
  std::uint32_t busy_poll_to;
  std::uint8_t prefer_busy_poll;
  std::uint8_t opcode;  // IO_URING_NAPI_REGISTER_OP, _STATIC_ADD_ID, _STATIC_DEL_ID
  std::uint8_t pad[2];
  std::uint32_t op_param;  // a tracking mode, or a NAPI id
  std::uint32_t resv;
};
static_assert(sizeof(Napi) == 16);

// IORING_REGISTER_QUERY (include/uapi/linux/io_uring/query.h of 6.18): a
// chain of headers, each naming a query and the buffer for its answer.
struct QueryHdr {
  std::uint64_t next_entry;
  std::uint64_t query_data;
  std::uint32_t query_op;
  std::uint32_t size;
  std::int32_t result;
  std::uint32_t resv[3];
};
static_assert(sizeof(QueryHdr) == 40);
constexpr unsigned kQueryOpcodes = 0;  // IO_URING_QUERY_OPCODES, 6.18's only query
constexpr unsigned kQueryMax = 1;      // __IO_URING_QUERY_MAX
struct QueryOpcode {
  std::uint32_t nr_request_opcodes;
  std::uint32_t nr_register_opcodes;
  std::uint64_t feature_flags;
  std::uint64_t ring_setup_flags;
  std::uint64_t enter_flags;
  std::uint64_t sqe_flags;
  std::uint32_t nr_query_opcodes;
  std::uint32_t pad;
};
static_assert(sizeof(QueryOpcode) == 48);

// IORING_REGISTER_ZCRX_IFQ: struct io_uring_zcrx_ifq_reg, naming a struct
// io_uring_zcrx_area_reg and a struct io_uring_region_desc (6.18).
struct ZcrxOffsets {
  std::uint32_t head;
  std::uint32_t tail;
  std::uint32_t rqes;
  std::uint32_t resv2;
  std::uint64_t resv[2];
};
struct ZcrxIfqReg {
  std::uint32_t if_idx;
  std::uint32_t if_rxq;
  std::uint32_t rq_entries;
  std::uint32_t flags;
  std::uint64_t area_ptr;
  std::uint64_t region_ptr;
  ZcrxOffsets offsets;
  std::uint32_t zcrx_id;
  std::uint32_t resv2;
  std::uint64_t resv[3];
};
static_assert(sizeof(ZcrxIfqReg) == 96);
struct ZcrxAreaReg {
  std::uint64_t addr;
  std::uint64_t len;
  std::uint64_t rq_area_token;
  std::uint32_t flags;
  std::uint32_t dmabuf_fd;
  std::uint64_t resv2[2];
};
static_assert(sizeof(ZcrxAreaReg) == 48);

// struct io_uring_attr_pi: what sqe->attr_ptr points to for
// IORING_RW_ATTR_FLAG_PI (integrity metadata of an O_DIRECT transfer).
struct AttrPi {
  std::uint16_t flags;
  std::uint16_t app_tag;
  std::uint32_t len;
  std::uint64_t addr;
  std::uint64_t seed;
  std::uint64_t rsvd;
};

}  // namespace iostack::uring::uapi
