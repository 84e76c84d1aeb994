// The engine's internal interface between its files (each file says which
// kernel source it mirrors). Lock rules are stated with the thread-safety
// annotations (REQUIRES) on the declarations.
#pragma once

#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "iostack/uring.h"

#include <cstdint>

#include "core/file.hpp"
#include "uring/ctx.hpp"
#include "uring/io_kiocb.hpp"
#include "uring/uapi.hpp"

namespace iostack::uring {

// ---- req_cache.cpp: request allocation (io_alloc_req, io_req_add_to_cache)
IoKiocb* req_alloc(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
void req_recycle(IoKiocb* req, bool locked);  // after the last reference
void req_put(IoKiocb* req, bool locked);      // drop one reference
void req_cache_destroy(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);

// ---- complete.cpp: CQ posting and request completion (io_uring.c)
// Posts one CQE (overflowing when full); false when the CQE was dropped.
// big: the two extra words of a CQE32 ring's CQE (null: zeros).
bool fill_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags,
              const std::uint64_t* big = nullptr) REQUIRES(ctx->completion_lock);
// Publishes the CQ tail and runs what follows a post: timeouts by count,
// eventfd, waiters, readiness of the ring fd. Call after unlocking.
void commit_cq(IoRingCtx* ctx);
void post_aux_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags,
                  const std::uint64_t* big = nullptr);
// io_req_post_cqe: a multishot request's CQE, into the ring only (false when
// it is full or CQEs wait in overflow: the request must end instead).
bool post_req_cqe(IoKiocb* req, std::int32_t res, std::uint32_t cflags, unsigned issue_flags);
// The same without a request or a batch to flush first.
bool try_post_cqe(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res, std::uint32_t cflags);
// Inline completion: joins the submission batch.
// Functions of a request that need its ring's uring_lock assert it (the
// analysis cannot tell that req->ctx is the caller's ctx).
void req_complete_defer(IoKiocb* req);
void req_defer_failed(IoKiocb* req, int res);
// Completion from any other context (worker, timer, block, poll thread).
void req_complete_post(IoKiocb* req);
// Posts the batch's CQEs, then frees the requests.
void flush_completions(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// After its CQE: starts the next link, cleans up and drops the reference.
void req_finish(IoKiocb* req, bool locked);
void overflow_flush(IoRingCtx* ctx, bool dying);
void req_cleanup(IoKiocb* req, bool locked);

// ---- link.cpp: chains (io_req_find_next, io_disarm_next, io_fail_links)
IoKiocb* req_find_next(IoKiocb* req, bool locked);

// ---- tw.cpp: task work
void tw_add(IoKiocb* req, TwFn fn);
// tw_add of work the kernel queues after the wakeups its submission's
// requests make (a link's next request or a drained one from the
// completion flush, a zero-copy notification): see TwHold.
void tw_add_after_wakeups(IoKiocb* req, TwFn fn);
// Queues a node other than req->tw (fn and req set): a request with two
// steps pending at once, such as a multishot poll's event beside a cancel.
void tw_add_node(IoRingCtx* ctx, TwNode* node);
// Runs queued task work (and issues the block I/O it produced); true when
// something ran.
bool tw_run(IoRingCtx* ctx);
// The kernel runs a task's work as each of its system calls returns: on a
// program thread right after its own write (and the catch-up of the
// wakeups it made), the task work of the rings it submitted to last runs
// (fuzz seeds 569412, 569413: a read of a pipe woken by the program's
// write ran before its next write on the kernel).
void tw_note_submitter(IoRingCtx* ctx);
void tw_run_submitted();
// io_run_local_work for a DEFER_TASKRUN ring's waiter: runs batches of at
// most max_events items until min_events ran or none is left; what is left
// waits for the next call. Returns the number of items run.
int tw_run_local(IoRingCtx* ctx, int min_events, int max_events);
// IO_LOCAL_TW_DEFAULT_MAX: the batch of a wait's first run.
inline constexpr int kLocalTwDefaultMax = 20;
bool tw_pending(IoRingCtx* ctx);
// Task work that runs before a wakeup seen now: queued, or left in the
// batch a pass is running (whose CQEs the kernel flushes after it).
bool tw_ahead(IoRingCtx* ctx);
void tw_req_submit(IoKiocb* req);  // TwFn: queue the request
void tw_req_issue(IoKiocb* req);   // TwFn: issue it here, IOSQE_ASYNC or not
// TwFn: hand it to io-wq once req->rw.apoll_retries task work passes have
// run (APOLL_MAX_RETRY, io_uring/poll.c: the kernel's async poll retries).
void tw_req_iowq(IoKiocb* req);
constexpr std::uint8_t kApollMaxRetry = 127;
void tw_req_wq_start(IoKiocb* req);  // TwFn: queue_wq_start's first poll or issue
void tw_req_complete(IoKiocb* req);  // TwFn: complete with req->res
void tw_req_cancel(IoKiocb* req);    // TwFn: fail with req->res
void req_queue_tw_complete(IoKiocb* req, int res);
// Whether the calling thread is inside a submission batch of `ctx`.
bool in_submit_of(IoRingCtx* ctx);

// ---- submit.cpp: submission (io_submit_sqes, io_queue_sqe, io_drain_req)
int submit_sqes(IoRingCtx* ctx, unsigned nr) REQUIRES(ctx->uring_lock);
void queue_sqe(IoKiocb* req);  // uring_lock held
void queue_iowq(IoKiocb* req);
// A request forced to io-wq (IOSQE_ASYNC, or behind a drain) whose work
// there would only arm a poll: queue_iowq_or_arm issues it at once, unless
// requests are ahead of it on io-wq (uring_lock held).
bool arms_only_on_wq(const IoKiocb* req);
void queue_iowq_or_arm(IoKiocb* req);
// A multishot request forced to io-wq, whose worker would only arm its poll
// on a file it may read without blocking: it is armed by task work at once,
// unless requests are ahead of it on io-wq (uring_lock held). From task work
// (`now`: a drain's end) it is armed there and then.
void queue_iowq_mshot(IoKiocb* req, bool now = false);
// An IOSQE_ASYNC request whose worker would only arm a poll, from a
// submission: armed by task work once the batch is in, unless requests are
// ahead of it on io-wq; a cancel meanwhile finds it as queued work.
void queue_wq_start(IoKiocb* req);
// Queues `req` on io-wq only behind work queued there already: false if none.
bool queue_iowq_behind(IoKiocb* req);
// io_wq_free_work: `req`, completed on its own worker, hands the next request
// of its link to that worker (false: the caller queues it as task work).
bool iowq_run_next(IoKiocb* req, IoKiocb* nxt);
int issue_sqe(IoKiocb* req, unsigned issue_flags);
// io_assign_file's refusal, asked once something else failed: a descriptor
// (not a registered slot) that is not open, or is O_PATH (fget refuses it).
bool file_refused(IoKiocb* req);
// The same for a descriptor number alone (fget of a file not in a request).
bool fd_refused(int fd);
// io_wq_submit_work's checks of a multishot request: 0, or its CQE's error
// (-EBADF: refused; -EBADFD: a file that cannot poll).
int mshot_file_check(IoKiocb* req, unsigned issue_flags);
// Whether `fd` is an eventfd without O_NONBLOCK.
bool is_blocking_eventfd(int fd);
// A blocking eventfd's write on an io-wq worker, one eventfd_write per
// segment as loop_rw_iter makes them: a value waits until the counter has
// room, and io-wq's cancel ends that wait (EINTR, or the bytes written so
// far), where a blocked host write would never end. Returns as writev.
ssize_t eventfd_write_on_worker(int fd, const struct iovec* iov, int nr);
// Whether the calling thread issued an op that may have woken a poll
// (IoOpDef::wakes) since it last asked; asking clears it.
bool take_peers_woken();
// Block I/O queued by a locked pass, taken out under the lock and issued
// once it is dropped (no lock is held across the block layer).
IoKiocb* take_bdev_batch(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// Unlocked, inside one plug that allocates `nr_ios` requests at once.
void issue_bdev_list(IoKiocb* first, unsigned nr_ios = 1);
// rw.cpp / fs_ops.cpp: issue one block-device request now (unlocked).
void bdev_issue_now(IoKiocb* req, bool nowait);
// Queues a block-device request for issue after the lock is dropped.
void bdev_queue(IoKiocb* req);  // uring_lock held
void queue_deferred(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// Runs a submission pass end to end: lock, submit, unlock, block I/O, tw.
int submit_and_flush(IoRingCtx* ctx, unsigned nr);

// ---- rsrc.cpp, filetable.cpp: registered files and buffers
// The register operations. `tags`: a user array of nr u64 resource tags, or
// null.
int register_files(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags = nullptr)
    REQUIRES(ctx->uring_lock);
int unregister_files(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// A forked child's ring object: the parent's registered files at the fork
// (only the forking thread runs).
void files_inherit(IoRingCtx* child, IoRingCtx* parent);
int register_files_update(IoRingCtx* ctx, void* arg, unsigned nr) REQUIRES(ctx->uring_lock);
int register_buffers(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags = nullptr)
    REQUIRES(ctx->uring_lock);
int unregister_buffers(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// IORING_REGISTER_FILES2 / BUFFERS2: struct io_uring_rsrc_register.
int register_rsrc(IoRingCtx* ctx, void* arg, unsigned size, bool files) REQUIRES(ctx->uring_lock);
// IORING_REGISTER_FILES_UPDATE2 / BUFFERS_UPDATE: struct io_uring_rsrc_update2.
int register_rsrc_update(IoRingCtx* ctx, void* arg, unsigned size, bool files)
    REQUIRES(ctx->uring_lock);
// IORING_REGISTER_CLONE_BUFFERS (clone_buffers.cpp): struct
// io_uring_clone_buffers; takes the two rings' uring_locks itself.
int register_clone_buffers(IoRingCtx* ctx, void* arg);
// At ring teardown: nobody reads the CQ any more, tags post nothing.
void rsrc_drop_tags(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);

// Fixed-file lookup for issue: a referenced node or null (-EBADF).
FileNode* fixed_file_get(IoRingCtx* ctx, unsigned index, bool locked);
// Whether registered buffer `index` exists (io_find_buf_node).
bool fixed_buf_exists(IoRingCtx* ctx, unsigned index, bool locked);
// Fixed-buffer import: -EFAULT when [addr, addr+len) leaves buffer `index`.
// The request keeps a reference to the buffer checked first (*node, when
// null), and later checks use that one, as io_find_buf_node imports once.
int fixed_buf_check(IoRingCtx* ctx, unsigned index, std::uint64_t addr, std::uint64_t len,
                    bool locked, BufNode** node = nullptr);
// io_import_reg_vec for READV_FIXED / WRITEV_FIXED: every segment must lie
// in buffer `index` and be non-empty (-EFAULT), the sum must not overflow
// (-EOVERFLOW) nor exceed MAX_RW_COUNT (-EINVAL). The sum goes to `*total`.
int fixed_buf_check_vec(IoRingCtx* ctx, unsigned index, const struct iovec* iov, int nr,
                        std::int64_t* total, bool locked, BufNode** node = nullptr);

// ---- opdef.cpp: the op table (io_uring/opdef.c)
constexpr std::uint8_t kWakesReaders = 1;  // IoOpDef::wakes
constexpr std::uint8_t kWakesWriters = 2;
// A request's slot in IoRingCtx::fd_reader_wakes: the descriptor or
// registered slot the program named (a retry may hold a private dup).
inline unsigned fd_wake_slot(const IoKiocb* req) {
  const unsigned fixed = (req->flags & kReqFixedFile) ? 1 : 0;
  return (static_cast<unsigned>(req->fd) * 2 + fixed) % IoRingCtx::kFdWakeSlots;
}
constexpr std::uint8_t kTwFailAny = 1;  // IoOpDef::tw_fail
constexpr std::uint8_t kTwFailNotSock = 2;
// The issue said it refused the request before the file's method
// (IoKiocb::issue_refused): an error io_issue_sqe returns.
constexpr std::uint8_t kTwFailRefused = 4;
struct IoOpDef {
  int (*prep)(IoKiocb*, const io_uring_sqe*) = nullptr;
  int (*issue)(IoKiocb*, unsigned) = nullptr;
  bool needs_file = false;
  bool plug = false;
  bool ioprio = false;
  bool iopoll = false;
  bool unbound_nonreg_file = false;
  bool pollin = false;
  bool pollout = false;
  bool force_async = false;             // always blocks: straight to io-wq
  bool buffer_select = false;           // takes IOSQE_BUFFER_SELECT (provided buffers)
  void (*cleanup)(IoKiocb*) = nullptr;  // frees what prep allocated (kReqCleanup)
  bool poll_direct = false;             // retried where its file's wakeup is handled
  void (*fail)(IoKiocb*) = nullptr;     // io_cold_def.fail: a failed request's CQE as it ends
  // Wait queue wakeups it may cause on its descriptors: readers' (a send, a
  // pipe write), writers' (a read: pipe_read, eventfd_read), or both.
  std::uint8_t wakes = 0;
  // Failures on io-wq the kernel posts from task work, where the request
  // linked behind is then issued without blocking, not by the worker: any
  // (a read or write: io_rw_done's ki_complete; POLL_REMOVE, whose error
  // io_poll_remove returns), or a socket op's -ENOTSOCK (sock_from_file).
  std::uint8_t tw_fail = 0;
};
constexpr unsigned kOpLast = uapi::kOpLast;  // as 6.18 numbers them
const IoOpDef* op_def(unsigned opcode);      // null when not implemented

// ---- ops: prep/issue per opcode
int nop_prep(IoKiocb*, const io_uring_sqe*);
int nop_issue(IoKiocb*, unsigned);
int rw_prep_readv(IoKiocb*, const io_uring_sqe*);
int rw_prep_writev(IoKiocb*, const io_uring_sqe*);
int rw_prep_read(IoKiocb*, const io_uring_sqe*);
int rw_prep_write(IoKiocb*, const io_uring_sqe*);
int rw_prep_read_fixed(IoKiocb*, const io_uring_sqe*);
int rw_prep_write_fixed(IoKiocb*, const io_uring_sqe*);
int rw_prep_vec_fixed(IoKiocb*, const io_uring_sqe*);  // READV_FIXED and WRITEV_FIXED
int rw_read(IoKiocb*, unsigned);
// A read or write issued to block on io-wq: io_read/io_write clear
// IOCB_NOWAIT there, the program's RWF_NOWAIT included (seed 38772).
void rw_worker_clears_nowait(IoKiocb* req);
int rw_prep_read_mshot(IoKiocb*, const io_uring_sqe*);
int rw_read_mshot(IoKiocb*, unsigned);
int rw_write(IoKiocb*, unsigned);
// Sends what `plug` holds to the kernel's AIO; what it refuses goes the way
// a request the device would have made wait goes (io-wq, or -EAGAIN).
void host_plug_flush(HostAioPlug* plug);
int fsync_prep(IoKiocb*, const io_uring_sqe*);
int fsync_issue(IoKiocb*, unsigned);
int sfr_prep(IoKiocb*, const io_uring_sqe*);
int sfr_issue(IoKiocb*, unsigned);
int fallocate_prep(IoKiocb*, const io_uring_sqe*);
int fallocate_issue(IoKiocb*, unsigned);
int fadvise_prep(IoKiocb*, const io_uring_sqe*);
int fadvise_issue(IoKiocb*, unsigned);
int close_prep(IoKiocb*, const io_uring_sqe*);
int close_issue(IoKiocb*, unsigned);
int statx_prep(IoKiocb*, const io_uring_sqe*);
int statx_issue(IoKiocb*, unsigned);
int timeout_prep(IoKiocb*, const io_uring_sqe*);
int timeout_issue(IoKiocb*, unsigned);
int link_timeout_prep(IoKiocb*, const io_uring_sqe*);
int link_timeout_issue(IoKiocb*, unsigned);
int timeout_remove_prep(IoKiocb*, const io_uring_sqe*);
int timeout_remove_issue(IoKiocb*, unsigned);
int async_cancel_prep(IoKiocb*, const io_uring_sqe*);
int async_cancel_issue(IoKiocb*, unsigned);
int poll_add_prep(IoKiocb*, const io_uring_sqe*);
int poll_add_issue(IoKiocb*, unsigned);
int poll_remove_prep(IoKiocb*, const io_uring_sqe*);
int poll_remove_issue(IoKiocb*, unsigned);

// ---- timeout.cpp (io_uring/timeout.c)
void flush_timeouts(IoRingCtx* ctx);
void queue_linked_timeout(IoKiocb* lt);
// Detaches and returns the armed linked timeout behind `req`, if any.
IoKiocb* disarm_linked_timeout(IoKiocb* req);
// Cancels a timeout whose timer is armed (completion with `res`).
void timeout_finish_cancelled(IoKiocb* req, int res);
void kill_timeouts(IoRingCtx* ctx);
// At the exit of a process sharing the ring: each armed one-shot TIMEOUT
// without a count or a link is offered to adopt(ctx, user_data, expiry on
// CLOCK_MONOTONIC), which posts its -ETIME in another process if it
// returns true; the others are cancelled.
void handover_timeouts(IoRingCtx* ctx, bool (*adopt)(IoRingCtx*, std::uint64_t, core::Nanos));

// ---- cancel.cpp (io_uring/cancel.c)
// struct io_cancel_data
struct CancelMatch {
  IoRingCtx* ctx = nullptr;
  std::uint64_t data = 0;
  unsigned flags = 0;
  int os_fd = -1;
  pid_t fd_owner = 0;  // os_fd is a descriptor of this process (0) or of that one
  FileNode* node = nullptr;
  std::uint8_t opcode = 0;
  std::uint32_t seq = 0;
  bool running = false;  // io-wq's search found a match running (and signalled it)
  // A cancel by descriptor: the kernel's request takes that file as its own
  // (io_async_cancel), so one running on io-wq finds itself there.
  IoKiocb* self = nullptr;
};
bool cancel_req_match(IoKiocb* req, CancelMatch* cd);
// Cancels a request waiting for tw_req_wq_start (queue_wq_start):
// the first match of `cd`, or all when it is null. Whether one was found.
bool cancel_wq_starting(IoRingCtx* ctx, CancelMatch* cd);
int try_cancel(CancelMatch* cd);
// IORING_REGISTER_SYNC_CANCEL; takes uring_lock itself (it waits).
int sync_cancel(IoRingCtx* ctx, void* arg);
int timeout_cancel(IoRingCtx* ctx, CancelMatch* cd);

// ---- poll.cpp (io_uring/poll.c)
int poll_cancel(IoRingCtx* ctx, CancelMatch* cd);
// io-wq's cancel of running work, for requests that wait on poll where the
// kernel's worker would be blocked (kReqWorkerWait): the matches end with
// -EINTR; true when there were any.
bool poll_signal_worker_waits(IoRingCtx* ctx, CancelMatch* cd, bool all);
// FAST_POLL: park a read/write that hit EAGAIN on a pollable file until it
// is ready; false when the file cannot be polled.
bool arm_apoll(IoKiocb* req);
// arm_apoll for a file that is not ready now; false (nothing armed) when it
// is, or cannot be polled.
bool arm_apoll_if_idle(IoKiocb* req);
// A poll of a DEFER_TASKRUN ring by a read or write of its own descriptor,
// the first one or one while the activation is pending: armed for cancels,
// without wakeups, until the activation's task work (poll_activate_run)
// retries it.
void arm_apoll_awaiting_activation(IoKiocb* req);
// A multishot request keeps its fired internal poll for the next arming;
// this drops it when the request ends.
void apoll_release(IoKiocb* req);
// io_file_can_poll: whether the file has readiness to wait for (not a
// regular file, block device or directory).
bool file_can_poll(IoKiocb* req);
// The file's poll mask for `events` now (poll(2) with no wait; a ring's is
// io_uring_poll's), or -errno.
int poll_now(int fd, std::uint32_t events);
bool fd_can_poll(int fd);  // file_can_poll for a descriptor
void poll_remove_all(IoRingCtx* ctx);
// io_activate_pollwq's task work: a DEFER_TASKRUN ring's first poll of
// itself, armed until now without wakeups, looks at the ring again.
void poll_activate_run(IoRingCtx* ctx);
// The submitter's call returns (or its wait runs task work): the
// activation it asked for is queued now, behind the task work it queued.
void poll_activation_release(IoRingCtx* ctx);
// Before a wait: completes the ring's one-shot POLL_ADDs whose descriptor
// is ready, which the kernel's wakeup would have done at the write (rings
// with at most 128 armed).
void poll_sweep_oneshot(IoRingCtx* ctx);
// Before a wait on a ring with armed multishot POLL_ADDs, or while any
// ring's descriptor is polled: the wakeups epoll collected are handled now,
// as the kernel handled them at the write that caused them.
void poll_catch_up(IoRingCtx* ctx);
// Before task work runs on a ring with armed multishot POLL_ADDs: the
// kernel's write runs every wakeup it causes before any task work they
// queue, so a wakeup batch the poll thread is handling is finished first
// (fuzz seed 816763 under load: a READ's retry, run by io-wq's task-work
// runner at once, read ahead of the multishot poll's event of the same
// write). Not from inside a dispatch (its own retries).
void poll_settle(IoRingCtx* ctx);
// After a submission, while any ring's descriptor or eventfd is polled:
// the CQEs it posted have woken them, as on the kernel before enter returns.
void poll_catch_up_rings();
// io_commit_cqring_flush after a batch whose CQEs were all skipped: the
// ring's pollers are woken (EPOLLIN | EPOLL_URING_WAKE) all the same, and
// a poll of the ring that wakeup owns ends with EPOLLIN (fuzz seed 793495).
void poll_wq_wake_skipped(IoRingCtx* ctx);
// After task work (on the program's thread, io-wq's task-work runner or an
// SQPOLL thread): a multishot poll it armed on a ready file has its first
// epoll event collected now, as a submission's is, before a later wakeup
// can merge into it. Not from inside a dispatch.
void poll_collect_initial();
// Whether a ready-armed multishot poll's first epoll event waits to be
// collected: task work stops between batches for it, so that the arming's
// CQE is posted only once a later wakeup can no longer merge into it.
bool poll_initial_pending();
// After the program's own write to a file (a pipe, an eventfd, a socket),
// while any poll is registered: the wakeups it caused are handled before
// its call returns, as the kernel runs them inside the write (and the
// task work on its way back to user space).
void poll_run_wakeups();
// After a submission that sent or wrote somewhere (take_peers_woken): the
// wakeups it caused are handled before enter returns, as the kernel handles
// them inside the send and runs the woken requests' task work before the
// submitter (its own, or another thread's on its next return to user space)
// runs on. A request waiting on the other end then posts its CQE first.
void poll_run_submit_wakeups();

// ---- futex.cpp (io_uring/futex.c): armed FUTEX_WAIT/WAITV requests.
int futex_cancel(IoRingCtx* ctx, CancelMatch* cd);
void futex_remove_all(IoRingCtx* ctx);

// ---- wait.cpp (io_cqring_wait)
struct ExtArg {
  const sigset_t* sig = nullptr;
  std::size_t argsz = 0;
  bool ts_set = false;
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
  std::int64_t min_wait_ns = 0;  // io_uring_getevents_arg.min_wait_usec (FEAT_MIN_TIMEOUT)
};
int cqring_wait(IoRingCtx* ctx, unsigned min_events, unsigned flags, ExtArg* ext);

// ---- ring_fd.cpp: the ring's file, readiness of the ring fd
int ring_fd_create(IoRingCtx* ctx);
// Publishes the ring at ctx->fd; the descriptor table holds its first reference.
void ring_fd_install(IoRingCtx* ctx);
// IORING_SETUP_REGISTERED_FD_ONLY: the ring goes into a free registered
// slot of the calling thread instead of the descriptor table; the slot's
// index, or -EBUSY (the ring is then gone).
int ring_fd_register_only(IoRingCtx* ctx);
// fget() of a ring: a reference to the ring at `fd`, or empty.
core::FileRef ring_file_get(int fd);
inline IoRingCtx* ring_of(const core::FileRef& f) { return f.as<IoRingCtx>(); }
// Whether `fd` is an io_uring of this process (or a parent's the fork could
// not share).
bool is_ring_fd(int fd);
// Whether descriptor `fd` is really the epoll instance made for `ctx` (and
// not a number reused after a close iostack did not see).
bool ring_fd_verify(IoRingCtx* ctx, int fd);
// is_ring_fd, with a ring found closed behind iostack's back (its number
// reused) forgotten and answered false.
bool ring_fd_live(int fd);
// scm_fp_copy's refusal (net/core/scm.c): -EINVAL when the SCM_RIGHTS
// messages of the program's control buffer pass a ring, else 0 (malformed
// or unreadable control is the kernel's to answer). No ring can then hold
// its own file through a socket it has registered.
int scm_rights_check(const void* ucontrol, std::size_t controllen);
// The shared memory of a ring: rings, then SQEs.
struct RingRegion {
  char* base = nullptr;
  std::size_t rings_bytes = 0;
  std::size_t sqes_bytes = 0;
  std::atomic<char*>* user_rings = nullptr;  // where a mapping of the rings is noted
  IoRingCtx* ctx = nullptr;  // the live ring (not a parent's): its buffer rings map too
  bool user_memory = false;  // IORING_SETUP_NO_MMAP: nothing of the rings to map
};
RingRegion ring_region(IoRingCtx* ctx);
// The region behind ring descriptor `fd` (an unshared parent's ring too)
// and a reference to the ring's file: 0, -EBADF, or -ENODEV for a
// descriptor that is no ring. `scope` keeps the region mapped.
int ring_region_of(int fd, RingRegion* out, core::FileRef* file, RingsReadScope* scope);
// io_uring_mmap(): maps the part of `region` that `offset` names; an
// address or -errno cast to a pointer.
void* ring_region_map(const RingRegion& region, void* addr, std::size_t len, int prot, int flags,
                      off_t offset);
// ring_maps.cpp: the program's mappings of rings, each holding a reference
// to its ring (a vma's vm_file). A mapping made at [addr, addr+len) takes
// `ring`, replacing any it overlaps (MAP_FIXED).
void ring_maps_add(void* addr, std::size_t len, core::FileRef ring);
// munmap(2) of the program's: the references of the mappings it removes
// whole go, so that a ring whose descriptors are closed is released with
// its last mapping. 0 or -errno.
int ring_maps_unmap(void* addr, std::size_t len);
// Gives back the references of mappings found unmapped behind iostack's
// back (at ring setup and close: a few system calls per mapping).
void ring_maps_sweep();
// ThreadSanitizer builds (tsan_user_map.cpp): the program's mappings of the
// rings, a release of the CQ tail through the latest one still mapped, and
// an acquire of the SQ tail through it (for an SQ thread, which reads SQEs
// another thread of the program wrote).
void user_map_note(char* addr, std::size_t len);
void user_map_forget(void* addr, std::size_t len);
void user_map_release_cq_tail(IoRingCtx* ctx);
void user_map_acquire_sq_tail(IoRingCtx* ctx);
void ring_ready_signal(IoRingCtx* ctx);
void ring_ready_update(IoRingCtx* ctx);
// io_uring_poll(): the EPOLL* mask the ring reports now.
std::uint32_t ring_poll_mask(IoRingCtx* ctx);
// Rings in epoll instances (ring_epoll.cpp): a successful epoll_ctl's
// registration noted, a closed descriptor forgotten, whether `epfd` holds a
// noted ring, and epoll_pwait2 with the rings' io_uring_poll masks (-errno).
void ring_epoll_note(int epfd, int op, int fd, const struct epoll_event* ev);
void ring_epoll_forget_fd(int fd);
bool ring_epoll_holds_ring(int epfd);
int ring_epoll_wait(int epfd, struct epoll_event* ev, int max, const struct timespec* timeout,
                    const sigset_t* mask);
// Per-thread registered rings (IORING_REGISTER_RING_FDS).
constexpr unsigned kRingFdRegMax = 16;
int register_ring_fds(IoRingCtx* ctx, void* arg, unsigned nr);
int unregister_ring_fds(IoRingCtx* ctx, void* arg, unsigned nr);
// Pins a ring for one call (fget + io_is_uring_fops): -EBADF, -EOPNOTSUPP
// for a descriptor that is no ring, -EBADFD for a parent's ring the fork
// could not share (no shared page could be made for it).
int ctx_get(int fd, bool registered, core::FileRef* out);

// ---- memlock.cpp: __io_account_mem / __io_unaccount_mem
int account_mem(uid_t uid, std::size_t pages);
void unaccount_mem(uid_t uid, std::size_t pages);

// ---- eventfd.cpp (io_uring/eventfd.c)
int eventfd_register(IoRingCtx* ctx, const void* arg, bool async);
int eventfd_unregister(IoRingCtx* ctx);
// Whether `fd` is the eventfd registered to `ctx` (the same eventfd
// context, by fdinfo's eventfd-id).
bool is_ring_eventfd(IoRingCtx* ctx, int fd);
void eventfd_signal(IoRingCtx* ctx) REQUIRES(ctx->completion_lock);

// ---- sqpoll.cpp (io_uring/sqpoll.c)
// Parameter checks of io_sq_offload_create, done before any file exists.
int sq_offload_validate(IoRingCtx* ctx, const io_uring_params* p);
int sq_offload_create(IoRingCtx* ctx, const io_uring_params* p);
void sq_thread_finish(IoRingCtx* ctx);
void sq_thread_wake(IoRingCtx* ctx);
void sq_thread_start(IoRingCtx* ctx);
bool sq_thread_alive(IoRingCtx* ctx);
int sqpoll_wq_affinity(IoRingCtx* ctx, const cpu_set_t* mask, std::size_t size);
void sqpoll_wait_sq(IoRingCtx* ctx);

// ---- setup.cpp / teardown
int ring_setup(unsigned entries, io_uring_params* p);
// io_uring_fill_params: entries, CQSIZE and CLAMP checked, sizes and
// offsets into `p` (not sq_off.array). 0 or -EINVAL.
int ring_fill_params(unsigned entries, io_uring_params& p);
// io_create_region of IORING_MEM_REGION_TYPE_USER: `size` bytes of the
// program's memory at `uaddr`, checked as the kernel pins them.
int ring_user_region(std::uint64_t uaddr, std::size_t size, char** out);
// ---- resize.cpp: IORING_REGISTER_RESIZE_RINGS
int register_resize_rings(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
void ring_destroy(IoRingCtx* ctx);
// A forked child's ring object for its parent's ring `parent` (shared by
// the fork): the same ring memory, descriptor and settings, this process's
// own io-wq and requests. Registered files, buffers, buffer rings and
// personalities stay the parent's.
IoRingCtx* ring_twin_create(IoRingCtx* parent);
// io_uring_files_cancel at the exit of a process sharing the ring with
// others: its requests are cancelled and their CQEs posted for the others
// (here the process's timers and polls go with it, so timeouts and polls
// are cancelled too, where the kernel's outlive the task).
void ring_cancel_at_exit(IoRingCtx* ctx);
// The kernel's timeouts outlive the task that armed them: at exit a pure
// timeout goes to another process sharing the ring (ring_share.cpp).
bool ring_share_adopt_timeout(IoRingCtx* ctx, std::uint64_t user_data, core::Nanos expires);
IoWq* ctx_wq(IoRingCtx* ctx);  // the pool requests of this ring go to

// ---- submit.cpp: a plain descriptor's request holds its file (held_file),
// as the kernel's request does, before it waits anywhere.
void hold_file(IoKiocb* req);

// ---- cancel.cpp: the search of a cancel issued in process `from` sharing
// the ring, in this process's ring object: -ENOENT, the match's answer, or
// with ALL/ANY the count.
int cancel_for_other_process(IoRingCtx* ctx, const CancelAsk& ask, pid_t from);

// ---- ring_share.cpp: ENABLE_RINGS of a ring shared across fork: the first
// process to enable it wins (-EBADFD for the others, as for a second enable).
int ring_share_enable(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);

// ---- register.cpp
int ring_register(int fd, unsigned opcode, void* arg, unsigned nr_args);

// What this engine implements, as IORING_REGISTER_QUERY reports it: setup
// flags and features (setup.cpp), enter flags (enter.cpp), SQE flags
// (submit.cpp).
unsigned supported_setup_flags();
unsigned supported_features();
unsigned supported_enter_flags();
unsigned supported_sqe_flags();

// ---- iopoll_file.cpp: host files on a polled ring
// Whether the file's operations poll (f_op->iopoll): block devices and
// regular files of ext4, XFS and btrfs.
bool file_has_iopoll(int fd, const struct stat& st);
// Whether the block queue under device `dev` polls (its sysfs io_poll).
bool host_queue_polls(dev_t dev);

// ---- query.cpp: IORING_REGISTER_QUERY (no ring needed)
int register_query(void* arg, unsigned nr_args);

// ---- zcrx.cpp: IORING_REGISTER_ZCRX_IFQ
int register_zcrx_ifq(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);

// ---- msg_ring.cpp: IORING_REGISTER_SEND_MSG_RING's message (io_uring_sync_msg_ring),
// an IORING_OP_MSG_RING SQE of IORING_MSG_DATA posted without a source ring.
int sync_msg_ring(const io_uring_sqe* sqe);

// ---- mem_region.cpp: IORING_REGISTER_MEM_REGION and registered wait
// arguments.
int register_mem_region(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
// io_create_region / io_free_region: a region as a descriptor asks for it
// (checked as 6.18 checks it; kernel memory is given mmap_offset
// IORING_MAP_OFF_PARAM_REGION).
int create_region(IoRingCtx* ctx, uapi::RegionDesc& rd, ParamRegion* out);
void release_region(IoRingCtx* ctx, ParamRegion& r);
// The engine-made region for an mmap at IORING_MAP_OFF_PARAM_REGION; -EINVAL
// when there is none or it is the program's memory.
int param_region_mmap(IoRingCtx* ctx, char** base, std::size_t* bytes);
void free_param_region(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);
// io_get_ext_arg with IORING_ENTER_EXT_ARG_REG: `offset` into the
// registered wait region (argsz already checked).
int reg_wait_arg(IoRingCtx* ctx, std::uintptr_t offset, ExtArg* ext);

// ---- napi.cpp: IORING_REGISTER_NAPI / IORING_UNREGISTER_NAPI
// io_napi_init: net.core.busy_poll as the default (before the ring is
// published: no lock).
void napi_init(IoRingCtx* ctx);
int register_napi(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
int unregister_napi(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);

// ---- restrictions.cpp (IORING_REGISTER_RESTRICTIONS)
int register_restrictions(IoRingCtx* ctx, const void* arg, unsigned nr) REQUIRES(ctx->uring_lock);
bool register_op_allowed(IoRingCtx* ctx, unsigned opcode);
bool sqe_allowed(IoRingCtx* ctx, std::uint8_t opcode, std::uint32_t sqe_flags);

// ---- enter.cpp
int ring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
               std::size_t argsz);

}  // namespace iostack::uring
