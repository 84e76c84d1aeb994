// struct io_ring_ctx (include/linux/io_uring_types.h): one ring. The
// submission side is serialised by uring_lock (a mutex, as in the kernel);
// CQ posting by completion_lock; timeouts by timeout_lock.
#pragma once

#include <linux/io_uring.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <bitset>
#include <cstdint>
#include <utility>
#include <vector>

#include "block/plug.hpp"
#include "core/exec_stats.hpp"
#include "core/file.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "uring/io_kiocb.hpp"
#include "uring/io_rings.hpp"
#include "uring/io_wq.hpp"
#include "uring/personality.hpp"
#include "uring/ring_share.hpp"
#include "uring/rsrc.hpp"
#include "uring/sync.hpp"

namespace iostack::uring {

struct IoSqData;
struct KbufTable;  // kbuf.cpp

// struct io_overflow_cqe (include/linux/io_uring_types.h)
struct OverflowCqe {
  core::ListHead list;
  Cqe cqe;
  std::uint64_t big_cqe[2];  // kept for a CQE32 ring
};

// O_DIRECT requests bound for the kernel's AIO while a batch of SQEs is
// submitted: one io_submit sends them at the batch's end, so the device
// hears of them together (the plug of io_submit_state_start).
struct HostAioPlug {
  core::HostAioReq* reqs[core::kHostAioBatchMax];
  unsigned nr = 0;
};

// struct io_submit_state (include/linux/io_uring_types.h)
struct SubmitState {
  IoKiocb* link_head = nullptr;
  IoKiocb* link_last = nullptr;
  IoKiocb* compl_first = nullptr;  // inline completions, posted in one batch
  IoKiocb* compl_last = nullptr;
  IoKiocb* bdev_first = nullptr;  // block I/O to issue once uring_lock is dropped
  IoKiocb* bdev_last = nullptr;
  HostAioPlug* host_plug = nullptr;  // set while submit_and_flush submits
};

// ctx->param_region (io_uring/memmap.c's struct io_mapped_region), made by
// IORING_REGISTER_MEM_REGION: shared memory of the engine's, which the
// program maps at IORING_MAP_OFF_PARAM_REGION, or the program's own.
struct ParamRegion {
  char* ptr = nullptr;
  std::size_t bytes = 0;
  bool user = false;        // IORING_MEM_REGION_TYPE_USER
  std::size_t charged = 0;  // pages charged to RLIMIT_MEMLOCK
};

// The busy-poll settings of IORING_REGISTER_NAPI (io_uring/napi.c): kept
// and answered back; no busy polling is done, as no NAPI context is ours.
struct NapiSettings {
  std::uint64_t busy_poll_ns = 0;  // ctx->napi_busy_poll_dt
  bool prefer_busy_poll = false;
  std::uint8_t track_mode = 255;          // IO_URING_NAPI_TRACKING_INACTIVE
  std::vector<std::uint32_t> static_ids;  // IO_URING_NAPI_TRACKING_STATIC's list
};

// struct io_restriction (include/linux/io_uring_types.h)
struct Restrictions {
  std::bitset<256> register_op;
  std::bitset<256> sqe_op;
  std::uint8_t sqe_flags_allowed = 0;
  std::uint8_t sqe_flags_required = 0;
  bool registered = false;
};

extern const core::FileOps kRingFops;

// struct io_ring_ctx (include/linux/io_uring_types.h), which here is also
// the ring's struct file: references come from descriptors and calls in
// progress, and the last one tears the ring down (io_uring_release).
struct IoRingCtx : core::File {
  IoRingCtx();

  // Identity and lifetime.
  int fd = -1;                   // the ring fd (an epoll instance, see ring_fd.cpp)
  int ready_efd = -1;            // inside the epoll: readable while CQEs may be pending
  bool registered_only = false;  // IORING_SETUP_REGISTERED_FD_ONLY: fd is not in the table
  std::atomic<bool> alive{false};
  // Threads freeing a request without uring_lock (req_recycle): teardown
  // waits for them after the last request, because they still touch the
  // ring after counting the free. A free under uring_lock needs no such
  // count: teardown takes the lock before freeing the ring.
  std::atomic<int> recycling{0};

  unsigned flags = 0;  // IORING_SETUP_*
  // Entry i of the rings is sqes[i << sqe_shift] and cqes[i << cqe_shift]:
  // 1 for IORING_SETUP_SQE128 and IORING_SETUP_CQE32, 0 otherwise.
  unsigned sqe_shift = 0;
  unsigned cqe_shift = 0;
  unsigned sq_entries = 0;
  unsigned cq_entries = 0;
  IoRings* rings = nullptr;
  std::uint32_t* sq_array = nullptr;
  io_uring_sqe* sqes = nullptr;
  void* region = nullptr;  // rings then SQEs: shared memory the program maps too
  std::size_t region_bytes = 0;
  // NO_MMAP: the engine's views of the program's rings (rings_bytes) and
  // SQEs (sqes_bytes), null where it uses the program's ranges (user_pin.hpp).
  char* pinned_rings = nullptr;
  char* pinned_sqes = nullptr;
  char* pinned_rings_user = nullptr;  // the program's addresses of the same
  char* pinned_sqes_user = nullptr;
  // The program's latest mapping of the rings: ThreadSanitizer cannot tell
  // it shares pages with `rings` (see cq_unlock_post).
  std::atomic<char*> user_rings{nullptr};
  // Regions a resize replaced and a RingsReadScope may still be reading:
  // unmapped by the next resize that finds none inside, or with the ring.
  std::vector<std::pair<void*, std::size_t>> retired_regions;
  // Threads inside a RingsReadScope of this ring.
  std::atomic<int> rings_readers{0};
  std::size_t rings_bytes = 0;  // page aligned
  std::size_t sqes_bytes = 0;   // page aligned
  uid_t acct_uid = 0;
  std::size_t acct_pages = 0;  // charged to RLIMIT_MEMLOCK, 0 if privileged

  core::ExecStats* stats = nullptr;  // this process's counters

  std::atomic<bool> r_disabled{false};
  Restrictions restrictions;            // set while disabled, under uring_lock
  std::atomic<bool> restricted{false};  // enforced once enabled
  std::atomic<pid_t> submitter_tid{0};  // SINGLE_ISSUER / DEFER_TASKRUN owner
  // The thread that submitted last: the task whose work the kernel runs as
  // that task's system calls return (req->tctx).
  std::atomic<pid_t> last_submit_tid{0};

  // Set when a fork shared the ring with a child (ring_share.cpp): the page
  // both processes lock and wait on. Stored under uring_lock and
  // completion_lock, so a holder of either sees whether to take the shared
  // locks too; null keeps a ring never shared on its single-process path.
  std::atomic<RingShared*> shared{nullptr};
  bool sq_remote = false;  // SQPOLL ring whose SQ thread is in another process
  std::atomic<ShareServer*> share_server{nullptr};  // answers the other processes' cancels
  std::uint32_t share_cancels_seen = 0;  // RemoteCancel::asked when the fork shared the ring

  // Submission side, under uring_lock.
  core::Mutex uring_lock;
  std::uint32_t cached_sq_head GUARDED_BY(uring_lock) = 0;
  SubmitState st GUARDED_BY(uring_lock);
  IoKiocb* free_list GUARDED_BY(uring_lock) = nullptr;
  std::atomic<IoKiocb*> remote_free{nullptr};
  std::vector<IoKiocb*> req_chunks GUARDED_BY(uring_lock);
  // Requests alive are nr_alloc - nr_remote_freed: nr_alloc counts
  // allocations minus frees under uring_lock and is written only there (a
  // load and a store, no read-modify-write on the per-request path);
  // frees on other threads count in nr_remote_freed.
  std::atomic<std::uint32_t> nr_alloc{0};
  std::atomic<std::uint32_t> nr_remote_freed{0};
  // Zero-copy send notifications not yet posted: the kernel's are requests
  // of their own (io_alloc_notif), which its drain counts as allocated.
  std::atomic<std::uint32_t> nr_notifs{0};
  // Requests alive. Read without uring_lock while none can be allocated
  // (teardown), it may be high but is never low.
  std::uint32_t nr_live() const {
    const std::uint32_t a = nr_alloc.load(std::memory_order_acquire);
    return a - nr_remote_freed.load(std::memory_order_acquire) +
           nr_notifs.load(std::memory_order_acquire);
  }
  // Requests whose CQE is posted while an io-wq worker still holds them
  // (its io_wq_free_work put pending). The kernel's put queues the free as
  // task work that the submitting task runs before it next enters, so a
  // drain never waits for these; a drained submission here waits until
  // they are freed instead (wait_iowq_puts).
  std::atomic<std::uint32_t> nr_iowq_posted{0};
  std::uint32_t nr_drained GUARDED_BY(uring_lock) = 0;
  std::atomic<bool> drain_active{false};
  bool drain_next GUARDED_BY(uring_lock) = false;
  bool drain_disabled GUARDED_BY(uring_lock) = false;
  core::ListHead defer_list GUARDED_BY(uring_lock);
  // IOSQE_ASYNC multishot requests and POLL_ADDs queued as task work for
  // their first poll or issue (tw_req_wq_start), by IoKiocb::list: the
  // kernel's are on io-wq then, where a cancel (also one on a worker) finds them.
  core::SpinLock wq_starting_lock;
  core::ListHead wq_starting GUARDED_BY(wq_starting_lock);
  std::vector<FileNode*> files GUARDED_BY(uring_lock);
  bool files_registered GUARDED_BY(uring_lock) = false;
  std::vector<BufNode*> bufs GUARDED_BY(uring_lock);  // null: an empty slot
  bool bufs_registered GUARDED_BY(uring_lock) = false;
  bool in_submit GUARDED_BY(uring_lock) =
      false;  // the holder of uring_lock is inside a submit batch
  KbufTable* kbuf GUARDED_BY(uring_lock) =
      nullptr;  // provided buffer groups (kbuf.cpp), made on first use
  // IORING_FILE_INDEX_ALLOC range and next-slot hint (filetable.cpp); end 0: the table.
  std::uint32_t file_alloc_start GUARDED_BY(uring_lock) = 0;
  std::uint32_t file_alloc_end GUARDED_BY(uring_lock) = 0;
  std::uint32_t file_alloc_hint GUARDED_BY(uring_lock) = 0;
  PersonalityTable personalities GUARDED_BY(uring_lock);
  // IORING_REGISTER_CLOCK: the clock of io_uring_enter's wait timeouts.
  std::atomic<int> clockid{CLOCK_MONOTONIC};
  ParamRegion param_region GUARDED_BY(uring_lock);  // under uring_lock; kept until the ring goes
  // IORING_MEM_REGION_REG_WAIT_ARG: the region as an array of struct
  // io_uring_reg_wait for IORING_ENTER_EXT_ARG_REG. Set once, while the
  // ring is disabled (no waiter can be reading it).
  std::atomic<char*> cq_wait_arg{nullptr};
  std::atomic<std::size_t> cq_wait_size{0};
  NapiSettings napi GUARDED_BY(uring_lock);  // under uring_lock

  // Completion side.
  SpinLock completion_lock;
  std::uint32_t cached_cq_tail GUARDED_BY(completion_lock) = 0;
  core::ListHead overflow_list GUARDED_BY(completion_lock);
  std::atomic<bool> has_overflow{false};
  std::atomic<bool> cq_dropped{false};  // IO_CHECK_CQ_DROPPED_BIT
  WaitQueue cq_wait;
  std::atomic<bool> ready_signalled{false};
  int evfd GUARDED_BY(completion_lock) = -1;  // registered eventfd (our dup)
  bool evfd_async GUARDED_BY(completion_lock) = false;
  std::atomic<bool> evfd_signal_deferred{false};  // see local_work_added
  // Writes of the registered eventfd by CQE postings: a poll of it tells
  // their wakeups (EPOLL_URING_WAKE) from the program's own writes.
  std::atomic<std::uint64_t> evfd_signals{0};

  // Timeouts, under timeout_lock.
  SpinLock timeout_lock;
  core::ListHead timeout_list GUARDED_BY(timeout_lock);
  core::ListHead ltimeout_list GUARDED_BY(timeout_lock);
  std::atomic<std::uint32_t> cq_timeouts{0};
  std::uint32_t cq_last_tm_flush GUARDED_BY(timeout_lock) = 0;
  std::atomic<bool> off_timeout_used{false};
  std::atomic<std::uint32_t> cancel_seq{0};

  // Armed polls.
  core::ListHead poll_list GUARDED_BY(poll_lock);
  // Polls a cancel took whose CQE's task work has not run: the kernel's
  // stay in its hash table until then, where later cancels find them.
  core::ListHead poll_cancelled GUARDED_BY(poll_lock);
  // Polls woken whose task work (an internal poll's retry, a POLL_ADD's
  // CQE) has not run: the kernel's stay in its hash table until then, so a
  // cancel still finds them.
  core::ListHead poll_woken GUARDED_BY(poll_lock);
  std::atomic<int> oneshot_polls{0};  // armed one-shot POLL_ADDs (changed under that lock)
  std::atomic<int> mshot_polls{0};    // armed multishot POLL_ADDs (likewise)
  // Requests issued that may wake readers (sends, writes) and writers
  // (reads) while a multishot POLL_ADD is armed: tells an armed-ready poll's
  // first epoll event apart from one that a later wakeup merged into.
  std::atomic<std::uint32_t> reader_wakes{0};
  std::atomic<std::uint32_t> writer_wakes{0};
  // The same, counted once such a request moved data, by the descriptor
  // the program named (fd_wake_slot): a multishot poll's queued task work
  // tells a wakeup that folded into it (poll.cpp, mshot_tw).
  static constexpr unsigned kFdWakeSlots = 64;
  std::atomic<std::uint32_t> fd_reader_wakes[kFdWakeSlots]{};
  std::atomic<std::uint32_t> fd_writer_wakes[kFdWakeSlots]{};
  // Armed polls (POLL_ADD or a read's) of this ring's own descriptor: the
  // kernel's CQE posting wakes them, so its signal stays until they saw it.
  std::atomic<int> self_polls{0};
  // io_activate_pollwq: a DEFER_TASKRUN ring's first poll of itself, whose
  // task work wakes the ring's pollers once, without a mask.
  std::atomic<bool> poll_activated{false};
  // The activation's task work is queued and has not run: polls of the ring
  // by itself armed meanwhile see no wakeup until its own (seed 19580).
  std::atomic<bool> poll_activation_pending{false};
  // The submitter's own call asked for the activation: its task work is
  // queued when the call returns (or its wait runs task work), behind what
  // the call queued (seed 943689).
  std::atomic<bool> poll_activation_held{false};
  // Submission calls so far (submit_sqes): the kernel's activation of the
  // poll wait queue happens when the call that asked for it returns.
  std::atomic<std::uint64_t> submit_calls{0};

  // Task work: steps that need uring_lock, queued from any thread.
  std::atomic<TwNode*> tw_head{nullptr};
  // A DEFER_TASKRUN ring's work taken off tw_head but not run yet, oldest
  // first (the kernel's retry_llist): a waiter runs only as many items as
  // it asked for. Written under uring_lock; read by tw_pending from anywhere.
  std::atomic<TwNode*> tw_retry{nullptr};
  // A pass is running an item with more of its batch after it: the kernel
  // flushes the CQEs the item posts (and wakes the ring's pollers) only
  // after the batch.
  std::atomic<bool> tw_batch_more{false};
  IoWqWork tw_work;  // runs the task work on io-wq when no submitter is around
  std::atomic<bool> tw_work_queued{false};
  std::atomic<bool> drain_flush_queued{false};
  IoKiocb drain_req;          // carries the drain-flush task work
  IoKiocb poll_activate_req;  // carries io_activate_pollwq's task work

  // Async machinery.
  IoWq* wq = nullptr;
  IoSqData* sqd = nullptr;
  core::ListHead sqd_node;
  unsigned sq_thread_idle_ms = 0;
  WaitQueue sq_space;  // IORING_ENTER_SQ_WAIT
};

// Where a thread that holds neither uring_lock nor completion_lock reads a
// DEFER_TASKRUN ring's `rings` (a poll of the ring, task work added by
// another thread): a resize, which only such rings allow, replaces them
// meanwhile, and unmaps the old ones only while no scope is open.
class RingsReadScope {
 public:
  RingsReadScope() = default;
  explicit RingsReadScope(IoRingCtx* ctx) { enter(ctx); }
  RingsReadScope(const RingsReadScope&) = delete;
  RingsReadScope& operator=(const RingsReadScope&) = delete;
  ~RingsReadScope() {
    if (ctx_) ctx_->rings_readers.fetch_sub(1, std::memory_order_release);
  }
  // Opens the scope (once): the rings read after this stay mapped until it ends.
  void enter(IoRingCtx* ctx) {
    if (ctx_ || !(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) return;
    ctx_ = ctx;
    // Pairs with the resize's store of the new rings before it counts
    // readers: either it sees this one or this one reads its new rings.
    ctx->rings_readers.fetch_add(1, std::memory_order_seq_cst);
  }

 private:
  IoRingCtx* ctx_ = nullptr;
};

// The rings now: a resize on the submitter's thread swaps them.
inline IoRings* rings_now(IoRingCtx* ctx) {
  return std::atomic_ref<IoRings*>(ctx->rings).load(std::memory_order_seq_cst);
}

// Capacity of the CQ ring as the application sees it.
inline std::uint32_t cq_events_user(IoRingCtx* ctx) {
  IoRings* r = rings_now(ctx);
  return load_acquire(r->cq.tail) - load_acquire(r->cq.head);
}
inline std::uint32_t sq_entries_pending(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  return load_acquire(ctx->rings->sq.tail) - ctx->cached_sq_head;
}

}  // namespace iostack::uring
