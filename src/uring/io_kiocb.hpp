// struct io_kiocb (include/linux/io_uring_types.h): one request, from SQE to
// CQE. Requests live in a per-ring cache (see req_cache.hpp); nothing in here
// is allocated per I/O except an iovec array longer than kFastIov.
#pragma once

#include <linux/io_uring.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "block/bdev_file.hpp"
#include "core/clock.hpp"
#include "core/host_aio.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "uring/io_wq.hpp"
#include "uring/op_data.hpp"

namespace iostack::uring {

struct Creds;  // personality.hpp

struct IoRingCtx;
struct IoKiocb;
struct FileNode;
struct BufNode;

// REQ_F_* (include/linux/io_uring_types.h). The low byte holds the SQE's
// IOSQE_* flags at the same bit positions, as the kernel arranges it.
enum : std::uint32_t {
  kReqFixedFile = IOSQE_FIXED_FILE,
  kReqIoDrain = IOSQE_IO_DRAIN,
  kReqLink = IOSQE_IO_LINK,
  kReqHardlink = IOSQE_IO_HARDLINK,
  kReqForceAsync = IOSQE_ASYNC,
  kReqBufferSelect = IOSQE_BUFFER_SELECT,
  kReqCqeSkip = IOSQE_CQE_SKIP_SUCCESS,
  kReqFail = 1u << 8,
  kReqNowait = 1u << 9,        // the caller asked for RWF_NOWAIT
  kReqLinkTimeout = 1u << 10,  // a linked timeout is armed behind this request
  kReqArmLtimeout = 1u << 11,  // arm the linked timeout when this one is issued
  kReqSkipLinkCqes = 1u << 12,
  kReqCleanup = 1u << 13,         // op data owns memory (iovec, path)
  kReqPolled = 1u << 14,          // waiting on the poll service (FAST_POLL)
  kReqNoApoll = 1u << 15,         // the file cannot do non-blocking I/O: io-wq only
  kReqBufferSelected = 1u << 16,  // holds a legacy provided buffer (req->kbuf)
  kReqBufferRing = 1u << 17,      // holds a buffer of a buffer ring
  kReqApollMultishot = 1u << 18,  // multishot accept/recv: posts with F_MORE and re-polls
  kReqPartialIo = 1u << 19,       // data already moved: the buffer is consumed
  kReqPollFirstDone = 1u << 20,   // IORING_RECVSEND_POLL_FIRST: the poll came first
  kReqBlEmpty = 1u << 21,         // a bundle mapped every buffer the ring had
  kReqWorkerWait = 1u << 22,      // waits on poll where the kernel's io-wq worker would block
  kReqApollReady = 1u << 23,      // its poll found the file ready when armed: retried once
  kReqBufMore = 1u << 24,         // its incremental buffer, committed at selection, has room left
};
constexpr std::uint32_t kReqLinkFlags = kReqLink | kReqHardlink;

// Issue flags (IO_URING_F_*).
enum : unsigned {
  kIssueNonblock = 1,  // inline from submission: must not block
  kIssueLocked = 2,    // uring_lock is held
  kIssueIowq = 4,      // on an io-wq worker
};

// Return values of an op's issue beyond a plain errno.
constexpr int kIouOk = 0;                    // done, req->res holds the result
constexpr int kIouIssueSkipComplete = -529;  // -EIOCBQUEUED: completes later

using TwFn = void (*)(IoKiocb*);

// struct io_task_work: a deferred step run with uring_lock held.
struct TwNode {
  TwNode* next = nullptr;
  TwFn fn = nullptr;
  IoKiocb* req = nullptr;
};

// One armed poll (struct io_poll): the kernel's wait-queue entry becomes an
// epoll registration of a private dup of the descriptor.
// The poll service's lock (PollService::mu in poll.cpp, one per process) as
// the thread-safety analysis names it: the rings' lists of armed polls and
// the entries' links are guarded by it, though they live outside the service.
class CAPABILITY("mutex") PollLock {};
extern PollLock poll_lock;

struct PollEntry {
  // ctx->poll_list, ctx->poll_woken or ctx->poll_cancelled
  core::ListHead node GUARDED_BY(poll_lock);
  core::ListHead hash GUARDED_BY(poll_lock);  // POLL_ADD: the service's table by (ring, user_data)
  std::uint32_t events = 0;                   // EPOLL* wanted
  int dup_fd = -1;
  // A multishot POLL_ADD asking for input and output events registers its
  // output events under a second descriptor, so that epoll tells which
  // kind of wakeup came (the kernel posts the wakeup's key, not all that
  // is ready: an eventfd write wakes with EPOLLIN only).
  int dup_fd2 = -1;
  // Registrations (bit 0: dup_fd, bit 1: dup_fd2) armed on a ready file:
  // epoll's first event of each is the readiness the arming posted itself,
  // not a wakeup. Valid up to the poll service's dispatch after skip_epoch.
  std::uint8_t skip_initial GUARDED_BY(poll_lock) = 0;
  std::uint32_t skip_epoch GUARDED_BY(poll_lock) = 0;
  // The ring's reader_wakes and writer_wakes at the arming.
  std::uint32_t skip_reader_wakes GUARDED_BY(poll_lock) = 0;
  std::uint32_t skip_writer_wakes GUARDED_BY(poll_lock) = 0;
  // The ALL or ANY cancel that last matched it (io_cancel_match_sequence).
  std::uint32_t cancel_seq GUARDED_BY(poll_lock) = 0;
  std::atomic<int> state{0};  // PollState
  bool multishot = false;
  bool apoll = false;  // internal FAST_POLL arming for a read/write
  // Multishot poll of its ring's own registered eventfd: the ring's CQE
  // wakes it (EPOLL_URING_WAKE), which makes it one-shot.
  bool uring_wake = false;
  // For a uring_wake poll of an eventfd: the ring's evfd_signals when it
  // last looked. A wakeup with none since is the program's own write.
  std::uint64_t evfd_signals_seen GUARDED_BY(poll_lock) = 0;
  // On its own ring's descriptor, waiting for POLLIN (ctx->self_polls).
  bool ring_self = false;
  // Armed without a registration until its ring's poll wait queue is
  // activated (a DEFER_TASKRUN ring's first poll of itself).
  bool awaiting_activation = false;
  // Set by a read of that ring at issue, for arm_apoll.
  bool wants_activation = false;
  // Woken (on ctx->poll_woken), then cancelled before its task work ran.
  bool woken_cancelled GUARDED_BY(poll_lock) = false;
  std::uint64_t armed_in = 0;  // the submission call (IoRingCtx::submit_calls) that armed it
  // On any ring's descriptor or a ring's eventfd: a CQE posting wakes it,
  // which the kernel handles before the posting system call returns.
  bool on_ring = false;
  std::uint32_t gen GUARDED_BY(poll_lock) = 0;  // arming generation, in the epoll data
  // A multishot POLL_ADD's event, posted from task work (io_poll_task_func):
  // wakeups while it is queued coalesce into one CQE, as poll_refs does.
  TwNode tw;
  std::atomic<bool> tw_queued{false};
  std::uint32_t tw_mask GUARDED_BY(poll_lock) = 0;  // the first wakeup's
  bool tw_at_arm GUARDED_BY(poll_lock) = false;     // queued by the arming (ready then)
  int tw_wakeups GUARDED_BY(poll_lock) = 0;
  // A multishot POLL_ADD of an eventfd, whose reads and writes wake the
  // eventfd's own pollers: one of the ring's, run while this poll's task
  // work is queued, folds into it (tw_reader_wakes, tw_writer_wakes).
  bool folds_own_wakes = false;
  // The ring's fd_reader_wakes and fd_writer_wakes of its descriptor when
  // the task work was queued.
  std::uint32_t tw_reader_wakes GUARDED_BY(poll_lock) = 0;
  std::uint32_t tw_writer_wakes GUARDED_BY(poll_lock) = 0;
};

struct RwData {
  std::uint64_t addr;
  std::uint32_t len;
  std::int64_t pos;
  int rw_flags;
  std::uint16_t buf_index;
  int nr_segs;
  struct iovec* iov;        // next segment to transfer: into fast_iov or iov_alloc
  struct iovec* iov_alloc;  // heap array when more than kFastIov segments (kReqCleanup)
  static constexpr int kFastIov = 4;
  struct iovec fast_iov[kFastIov];
  std::int64_t bytes;          // total requested: a short result breaks a link
  std::int64_t done;           // transferred by earlier partial attempts
  bool nowait_issue;           // the block I/O in flight was issued with RWF_NOWAIT
  bool cur_pos;                // offset -1 on a block device: update its position
  bool waited_ring;            // a read or write of a ring that waited for it on poll
  std::int64_t start_fpos;     // a write at the file position: f_pos before it (-1: none)
  bool has_pi;                 // IORING_RW_ATTR_FLAG_PI given (REQ_F_HAS_METADATA)
  std::uint8_t apoll_retries;  // task work hops left before io-wq (tw_req_iowq)
};
struct SyncData {
  std::int64_t off;
  std::int64_t len;
  unsigned flags;
  int mode;
};
struct TimeoutData {
  std::uint32_t off;  // completion count; 0: a pure timer
  std::uint32_t target_seq;
  std::uint32_t repeats;  // MULTISHOT with a count: expiries left; 0: forever
  unsigned flags;
  std::int64_t sec;
  std::int64_t nsec;
  IoKiocb* head;  // linked timeout: the request it guards
  IoKiocb* prev;  // linked timeout that fired: the request to cancel
};
struct TimeoutRemData {
  std::uint64_t addr;
  unsigned flags;
  std::int64_t sec;
  std::int64_t nsec;
  bool ltimeout;
};
struct CancelData {
  std::uint64_t addr;
  unsigned flags;
  int fd;
  std::uint8_t opcode;
};
struct PollOpData {
  std::uint64_t old_user_data;  // POLL_REMOVE: target
  std::uint64_t new_user_data;
  std::uint32_t new_events;
  unsigned flags;
};
struct OpenData {
  int dfd;
  std::uint64_t flags;  // open_how.flags
  std::uint64_t mode;
  char* path;
  std::uint32_t file_slot;  // a direct descriptor slot + 1, or FILE_INDEX_ALLOC; 0: none
  std::uint64_t resolve;    // OPENAT2: open_how.resolve
};
struct StatxData {
  int dfd;
  unsigned mask;
  int flags;
  char* path;
  std::uint64_t buf;
};
struct CloseData {
  int fd;
  unsigned file_slot;
};
struct FadviseData {
  std::int64_t off;
  std::int64_t len;
  int advice;
};
struct NopData {
  unsigned flags;
  int inject;
  int fd;                // IORING_NOP_FILE: the descriptor (or fixed index) to look up
  unsigned buf_index;    // IORING_NOP_FIXED_BUFFER
  std::uint64_t extra1;  // IORING_NOP_CQE32: big_cqe[0] and [1]
  std::uint64_t extra2;
};

// struct io_kiocb (include/linux/io_uring_types.h)
struct IoKiocb {
  IoRingCtx* ctx = nullptr;
  std::uint8_t opcode = 0;
  std::uint32_t flags = 0;
  std::uint64_t user_data = 0;
  std::int32_t res = 0;
  std::uint32_t cflags = 0;
  // req->big_cqe: read only while big_cqe_set, so no request pays for
  // clearing it. Like the kernel's, it outlives the request: only a CQE
  // that carries the words clears them, so a skipped CQE (CQE_SKIP_SUCCESS)
  // leaves them to the next request that reuses this one from the cache.
  std::uint64_t big_cqe[2] = {0, 0};
  bool big_cqe_set = false;
  std::uint16_t ioprio = 0;
  int fd = -1;  // sqe->fd: an OS descriptor or a fixed-file index

  // The file, assigned at issue (FEAT_LINKED_FILE).
  bool file_assigned = false;
  int os_fd = -1;
  block::BdevFile* bdev = nullptr;
  core::FileRef bdev_ref;   // holds `bdev` when it came from a plain descriptor
  core::FileRef held_file;  // the open file of the program's descriptor; os_fd is its private one
  FileNode* file_node = nullptr;
  BufNode* buf_node = nullptr;         // REQ_F_BUF_NODE: the fixed buffer imported
  std::shared_ptr<const Creds> creds;  // REQ_F_CREDS: sqe->personality's

  IoKiocb* link = nullptr;       // next request of the chain
  IoKiocb* comp_next = nullptr;  // batch completion list / free lists
  TwNode tw;
  IoWqWork work;
  std::atomic<int> refs{1};
  core::ListHead list;         // timeout_list, ltimeout_list or defer_list
  std::atomic<int> tstate{0};  // TimeoutState
  core::Timer timer;
  PollEntry poll;
  block::BdevIo bio;
  core::HostAioReq host;  // O_DIRECT file I/O handed to the kernel's AIO

  // Buffer selection (kbuf.cpp): the group before a buffer is picked, the
  // buffer id after.
  std::uint16_t buf_index = 0;
  KBuffer* kbuf = nullptr;
  BufferList* buf_list = nullptr;  // ring buffer picked but not committed yet

  union {
    RwData rw;
    SyncData sync;
    TimeoutData timeout;
    TimeoutRemData timeout_rem;
    CancelData cancel;
    PollOpData poll_op;
    OpenData open;
    StatxData statx;
    CloseData close;
    FadviseData fadvise;
    NopData nop;
    SrMsgData sr;  // op_data.hpp: the ops added since the storage subset
    AcceptData accept;
    SocketData socket;
    ConnectData connect;
    ProvideBufData pbuf;
    FsPathData fs;
    EpollCtlData epoll;
    SpliceData splice;
    MsgRingData msg;
    FixedInstallData install;
    RsrcUpdateData rsrc_up;
    EpollWaitData epoll_wait;
    PipeData pipe;
    UringCmdData ucmd;
    FutexData futex;
    WaitidData waitid;
    XattrData xattr;
    MadviseData madvise;
  };

  IoKiocb() : rw{} {}
};

inline void req_set_res(IoKiocb* req, int res, std::uint32_t cflags) {
  req->res = res;
  req->cflags = cflags;
}

// io_req_set_res32's extra words (big_cqe of a CQE32 ring's CQE).
inline void req_set_big_cqe(IoKiocb* req, std::uint64_t extra1, std::uint64_t extra2) {
  req->big_cqe[0] = extra1;
  req->big_cqe[1] = extra2;
  req->big_cqe_set = true;
}

// req_set_fail(): a failure always posts its CQE; with CQE_SKIP_SUCCESS the
// rest of the chain's CQEs are skipped instead.
inline void req_set_fail(IoKiocb* req) {
  req->flags |= kReqFail;
  if (req->flags & kReqCqeSkip) {
    req->flags &= ~kReqCqeSkip;
    req->flags |= kReqSkipLinkCqes;
  }
}

}  // namespace iostack::uring
