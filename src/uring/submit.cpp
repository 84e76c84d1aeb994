// Submission (io_uring/io_uring.c): io_submit_sqes, io_get_sqe, io_init_req,
// io_submit_sqe and the link assembly, io_queue_sqe / io_queue_async /
// io_queue_iowq, draining (io_drain_req, io_queue_deferred) and the io-wq
// side of a request (io_wq_submit_work).
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "block/plug.hpp"
#include "core/deferred_fput.hpp"
#include "core/futex.hpp"
#include "core/held_file.hpp"
#include "core/mutex.hpp"
#include "core/slist.hpp"
#include "uring/engine.hpp"
#include "uring/submit_lock.hpp"
#include "uring/tw_internal.hpp"

namespace iostack::uring {

namespace {

constexpr std::uint32_t kSqeCommonFlags =
    IOSQE_FIXED_FILE | IOSQE_IO_LINK | IOSQE_IO_HARDLINK | IOSQE_ASYNC;
constexpr std::uint32_t kSqeValidFlags =
    kSqeCommonFlags | IOSQE_IO_DRAIN | IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS;

const io_uring_sqe* get_sqe(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  const unsigned mask = ctx->sq_entries - 1;
  const unsigned head = ctx->cached_sq_head++ & mask;
  if (!ctx->sq_array) return &ctx->sqes[head << ctx->sqe_shift];  // IORING_SETUP_NO_SQARRAY
  const std::uint32_t idx = load_relaxed(ctx->sq_array[head]);
  if (idx >= ctx->sq_entries) {
    store_relaxed(ctx->rings->sq_dropped, load_relaxed(ctx->rings->sq_dropped) + 1);
    return nullptr;
  }
  return &ctx->sqes[idx << ctx->sqe_shift];
}

unsigned linked_nr(IoKiocb* req) {
  unsigned n = 0;
  for (IoKiocb* r = req; r; r = r->link) ++n;
  return n;
}

void init_drain(IoRingCtx* ctx) REQUIRES(ctx->uring_lock) {
  IoKiocb* head = ctx->st.link_head;
  ctx->drain_active.store(true, std::memory_order_release);
  if (head) {
    // A drain in the middle of a link drains the whole link and whatever
    // follows it.
    head->flags |= kReqIoDrain | kReqForceAsync;
    ctx->drain_next = true;
  }
}

void reset_req(IoRingCtx* ctx, IoKiocb* req) {
  req->ctx = ctx;
  req->file_assigned = false;
  req->os_fd = -1;
  req->bdev = nullptr;
  req->file_node = nullptr;
  req->buf_node = nullptr;
  req->link = nullptr;
  req->res = 0;
  req->cflags = 0;
  req->ioprio = 0;
  req->fd = -1;
  req->buf_index = 0;
  req->kbuf = nullptr;
  req->buf_list = nullptr;
  req->tstate.store(0, std::memory_order_relaxed);
  req->work.flags.store(0, std::memory_order_relaxed);
  req->poll.wants_activation = false;
}

int init_req(IoRingCtx* ctx, IoKiocb* req, const io_uring_sqe* sqe) REQUIRES(ctx->uring_lock) {
  reset_req(ctx, req);
  const std::uint8_t opcode = sqe->opcode;
  req->opcode = opcode;
  const std::uint32_t sqe_flags = sqe->flags;
  req->flags = sqe_flags;
  req->user_data = sqe->user_data;

  const IoOpDef* def = opcode < kOpLast ? op_def(opcode) : nullptr;
  if (!def) {
    req->opcode = 0;
    return -EINVAL;
  }
  if (sqe_flags & ~kSqeCommonFlags) {
    if (sqe_flags & ~kSqeValidFlags) return -EINVAL;
    if (sqe_flags & IOSQE_BUFFER_SELECT) {
      if (!def->buffer_select) return -EOPNOTSUPP;
      req->buf_index = sqe->buf_group;
    }
    if (sqe_flags & IOSQE_CQE_SKIP_SUCCESS) ctx->drain_disabled = true;
    if (sqe_flags & IOSQE_IO_DRAIN) {
      if (ctx->drain_disabled) return -EOPNOTSUPP;
      init_drain(ctx);
    }
  }
  if (ctx->restricted.load(std::memory_order_relaxed) && !sqe_allowed(ctx, opcode, sqe_flags))
    return -EACCES;
  if (ctx->drain_active.load(std::memory_order_relaxed) || ctx->drain_next) {
    if (ctx->drain_active.load(std::memory_order_relaxed)) req->flags |= kReqForceAsync;
    if (ctx->drain_next && !ctx->st.link_head) {
      ctx->drain_next = false;
      ctx->drain_active.store(true, std::memory_order_release);
      req->flags |= kReqIoDrain | kReqForceAsync;
    }
  }
  if (!def->ioprio && sqe->ioprio) return -EINVAL;
  if (!def->iopoll && (ctx->flags & IORING_SETUP_IOPOLL)) return -EINVAL;
  if (def->needs_file) req->fd = sqe->fd;
  if (const unsigned id = sqe->personality) {
    req->creds = ctx->personalities.find(id);
    if (!req->creds) return -EINVAL;
  }
  return def->prep(req, sqe);
}

void drain_req(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  core::lockdep_assert_held(ctx->uring_lock);
  const bool drain = req->flags & kReqIoDrain;
  ctx->nr_drained += linked_nr(req);
  req->list.add_tail(&ctx->defer_list);
  queue_deferred(ctx);
  if (!drain && ctx->defer_list.empty()) ctx->drain_active.store(false, std::memory_order_release);
}

// FMODE_NOWAIT or O_NONBLOCK: every pollable file here but a ring's.
bool mshot_file_nowait(IoKiocb* req) {
  if (!is_ring_fd(req->os_fd)) return true;
  const int fl = fcntl(req->os_fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

}  // namespace

// An IOSQE_ASYNC multishot request, or one a drain held back: the kernel's
// worker only arms its poll, and a ready file's task work then reads in the
// submitter before it runs on. Here that is task work run when the batch is
// in (the kernel's worker starts after the rest of the batch: a read of the
// same eventfd there empties it first, fuzz seed 230626), not a worker that
// a loaded machine delays for milliseconds, which would let the program
// write again meanwhile and two messages be read as one, or read the file
// empty before the poll is armed (fuzz seed 782095). Held back by a drain,
// it goes to io-wq from task work, ahead of what the drain held behind it,
// whose workers come after it (seed 923243: a later batch's read of the
// eventfd on a DEFER_TASKRUN ring): armed in that task work.
void queue_iowq_mshot(IoKiocb* req, bool now) {
  if (const int ret = mshot_file_check(req, kIssueLocked)) {
    req_defer_failed(req, ret);
  } else if (!mshot_file_nowait(req)) {
    queue_iowq(req);  // it runs once there (iowq_submit_work)
  } else if (now) {
    if (!arm_apoll_if_idle(req)) queue_sqe(req);
  } else {
    queue_wq_start(req);
  }
}

void queue_wq_start(IoKiocb* req) {
  if (queue_iowq_behind(req)) return;
  {
    core::LockGuard lock(req->ctx->wq_starting_lock);
    req->list.add_tail(&req->ctx->wq_starting);
  }
  tw_add(req, tw_req_wq_start);
}

namespace {

// io_queue_sqe_fallback
void queue_sqe_fallback(IoKiocb* req) {
  if (req->flags & kReqFail) {
    // Nothing of the chain runs: fail it all, hard links included.
    req->flags &= ~kReqHardlink;
    req->flags |= kReqLink;
    req_defer_failed(req, req->res);
  } else if (req->ctx->drain_active.load(std::memory_order_relaxed)) {
    drain_req(req);
  } else if ((req->flags & kReqApollMultishot) && !req->link) {
    queue_iowq_mshot(req);
  } else if (arms_only_on_wq(req)) {
    queue_wq_start(req);
  } else {
    queue_iowq(req);
  }
}

int submit_fail_init(IoRingCtx* ctx, IoKiocb* req, int ret) REQUIRES(ctx->uring_lock) {
  SubmitState& st = ctx->st;
  IoKiocb* head = st.link_head;
  req_set_fail(req);
  req_set_res(req, ret, 0);
  if (head && !(head->flags & kReqFail)) {
    req_set_fail(head);
    req_set_res(head, -ECANCELED, 0);
  }
  if (!(req->flags & kReqLinkFlags)) {
    if (head) {
      st.link_last->link = req;
      st.link_head = nullptr;
      req = head;
    }
    queue_sqe_fallback(req);
    return ret;
  }
  if (head)
    st.link_last->link = req;
  else
    st.link_head = req;
  st.link_last = req;
  return 0;
}

int submit_sqe(IoRingCtx* ctx, IoKiocb* req, const io_uring_sqe* sqe) REQUIRES(ctx->uring_lock) {
  SubmitState& st = ctx->st;
  const int ret = init_req(ctx, req, sqe);
  if (ret) return submit_fail_init(ctx, req, ret);

  if (st.link_head) {
    st.link_last->link = req;
    st.link_last = req;
    if (req->flags & kReqLinkFlags) return 0;
    // Last request of the chain: the chain goes as one.
    req = st.link_head;
    st.link_head = nullptr;
    if (req->flags & (kReqForceAsync | kReqFail)) {
      queue_sqe_fallback(req);
      return 0;
    }
  } else if (req->flags & (kReqLinkFlags | kReqForceAsync | kReqFail)) {
    if (req->flags & kReqLinkFlags) {
      st.link_head = st.link_last = req;
    } else {
      queue_sqe_fallback(req);
    }
    return 0;
  }
  queue_sqe(req);
  return 0;
}

bool assign_file(IoKiocb* req, const IoOpDef* def, unsigned issue_flags) {
  if (req->file_assigned || !def->needs_file) return true;
  if (req->flags & kReqFixedFile) {
    FileNode* node =
        fixed_file_get(req->ctx, static_cast<unsigned>(req->fd), issue_flags & kIssueLocked);
    if (!node) return false;
    // A cancel on another worker may look at these meanwhile (same_file).
    std::atomic_ref<FileNode*>(req->file_node).store(node, std::memory_order_relaxed);
    std::atomic_ref<int>(req->os_fd).store(node->fd, std::memory_order_relaxed);
    req->bdev = node->bdev;
  } else {
    if (req->fd < 0) return false;
    std::atomic_ref<int>(req->os_fd).store(req->fd, std::memory_order_relaxed);
    req->bdev_ref = block::bdev_file_get(req->fd);
    req->bdev = block::bdev_of(req->bdev_ref);
  }
  std::atomic_ref<bool>(req->file_assigned).store(true, std::memory_order_release);
  return true;
}

}  // namespace

int mshot_file_check(IoKiocb* req, unsigned issue_flags) {
  // io_assign_file: a descriptor that is not open.
  if (!assign_file(req, op_def(req->opcode), issue_flags) || file_refused(req)) return -EBADF;
  return file_can_poll(req) ? 0 : -EBADFD;
}

namespace {

bool is_regular_or_bdev(IoKiocb* req) {
  if (req->bdev) return true;
  struct stat st;
  if (req->os_fd < 0 || fstat(req->os_fd, &st) != 0) return false;
  return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

void iowq_submit_work(IoWqWork* work);
void iowq_cancel_work(IoWqWork* work);
void iowq_release_work(IoWqWork* work);

// io_prep_async_work: the work's class and callbacks.
void prep_iowq_work(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  const IoOpDef* def = op_def(req->opcode);
  // A forced-async request gets its file on the worker, as the kernel's
  // io_wq_submit_work assigns it there; others were issued once already.
  if (req->file_assigned && def->needs_file && !def->force_async && !(req->flags & kReqForceAsync))
    hold_file(req);
  // IORING_FEAT_CUR_PERSONALITY: the worker runs it as the submitting thread
  // was when it handed it over.
  if (!req->creds && in_submit_of(ctx)) req->creds = current_creds_cached();
  // The class: a request not issued yet has no file (the worker assigns
  // it), so its op alone decides; one issued before goes by its file.
  const bool unbound = def->unbound_nonreg_file && !(req->file_assigned && is_regular_or_bdev(req));
  const std::uint32_t wflags = unbound ? kWqWorkUnbound : 0;
  req->work.flags.store(wflags, std::memory_order_relaxed);
  // Held and counted bits stay with a worker still leaving it (a poll
  // retry may queue it again before that worker's put).
  req->work.state.fetch_and(~kWorkPosted, std::memory_order_relaxed);
  // That worker still reads the fields below (iowq_release_work): written
  // only when they change, which they do not for a request queued again.
  if (req->work.data != req || req->work.owner != ctx) {
    req->work.fn = iowq_submit_work;
    req->work.cancel = iowq_cancel_work;
    req->work.release = iowq_release_work;
    req->work.owner = ctx;
    req->work.data = req;
    req->work.cancel_seq = 0;  // another ring's numbers
  }
}

// io_run_cancel: queued work runs flagged as cancelled, which fails it from
// task work (io_req_task_queue_fail): its CQE comes after the cancel has
// looked further, so a counted TIMEOUT it would satisfy is cancelled
// first (fuzz seed 749149).
void iowq_cancel_work(IoWqWork* work) {
  auto* req = static_cast<IoKiocb*>(work->data);
  req_set_res(req, -ECANCELED, 0);
  tw_add(req, tw_req_cancel);
}

// An issued request's completion: batched under uring_lock, else posted,
// or from task work for a failure the kernel's worker completes there.
void complete_issued(IoKiocb* req, const IoOpDef* def, unsigned issue_flags);

// The request whose issue this io-wq worker is in: a completion posted
// there may hand the next of its link to the worker (iowq_run_next).
thread_local IoKiocb* t_iowq_req = nullptr;

// io_wq_free_work: the worker's reference, dropped once the work is no
// longer its current one.
void iowq_release_work(IoWqWork* work) {
  auto* req = static_cast<IoKiocb*>(work->data);
  IoRingCtx* ctx = req->ctx;
  const std::uint32_t old =
      work->state.fetch_and(~(kWorkHeld | kWorkCounted), std::memory_order_acq_rel);
  ctx->recycling.fetch_add(1, std::memory_order_seq_cst);  // teardown waits for it
  req_put(req, false);
  // Counted by fill_req_cqe: released only once the request is gone. A
  // drained submission may sleep until the count is zero (wait_iowq_puts).
  if ((old & kWorkCounted) && ctx->nr_iowq_posted.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      ctx->drain_active.load(std::memory_order_seq_cst))
    core::futex_wake_all(&ctx->nr_iowq_posted);
  ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
}

void iowq_submit_work(IoWqWork* work) {
  auto* req = static_cast<IoKiocb*>(work->data);
  // Held while the request is the worker's current work, where a cancel
  // looks at it (io_wq_submit_work's req_ref_get).
  req->refs.fetch_add(1, std::memory_order_relaxed);
  work->state.fetch_or(kWorkHeld, std::memory_order_acq_rel);
  const IoOpDef* def = op_def(req->opcode);
  unsigned issue_flags = kIssueIowq;
  int ret;
  if (work->flags.load(std::memory_order_relaxed) & kWqWorkCancel) {
    ret = -ECANCELED;
  } else if ((req->flags & kReqApollMultishot) &&
             ((ret = mshot_file_check(req, issue_flags)) || mshot_file_nowait(req))) {
    // Multishot work never runs on a worker (it could post only from the
    // submitter's context): it waits on poll, and its retries are issued
    // by the poll's task work.
    if (!ret && arm_apoll(req)) return;
    if (!ret) ret = -ECANCELED;
  } else {
    // io_wq_submit_work: on a file that cannot be read without blocking
    // (no FMODE_NOWAIT, not O_NONBLOCK: the ring's own) a multishot request
    // runs once, as a plain one (fuzz seed 707268: a READ_MULTISHOT of the
    // ring without buffers is -ENOBUFS, not a wait on the ring's poll).
    req->flags &= ~kReqApollMultishot;
    // A forced-async request on a pollable file first tries without blocking
    // and then waits on poll rather than holding a worker. So does any
    // other (a link handed over by its worker, a chain the submission left
    // unfinished, fuzz seed 39299), which the kernel's worker would block
    // on: iostack cannot interrupt a blocked worker when the ring exits.
    bool needs_poll = false;
    if (def->pollin || def->pollout) {
      // A ring's file has no read or write method: the kernel's blocking
      // attempt fails at once (fuzz seeds 581340, 586883).
      if (assign_file(req, def, issue_flags) && !req->bdev && !is_regular_or_bdev(req) &&
          ((req->flags & kReqForceAsync) || !is_ring_fd(req->os_fd))) {
        needs_poll = true;
        issue_flags |= kIssueNonblock;
        // The kernel's worker blocks in it, without the program's
        // RWF_NOWAIT; here it waits on poll the same way.
        if (!(req->flags & kReqForceAsync)) rw_worker_clears_nowait(req);
      }
    }
    t_iowq_req = req;
    ret = issue_sqe(req, issue_flags);
    // An op without a file that found one to wait on at issue (WAITID's
    // pidfd or child watch) waits on poll too, as the kernel's wait queue.
    if (ret == -EAGAIN && !def->needs_file && def->pollin && req->file_assigned) needs_poll = true;
    if (ret == -EAGAIN && needs_poll && (req->flags & kReqNowait) &&
        !(req->flags & kReqForceAsync)) {
      // The kernel's worker made a blocking attempt, which a request that
      // must not wait (MSG_DONTWAIT, RWF_NOWAIT) ends itself: its result is
      // -EAGAIN, and the worker goes on with its link (fuzz seed 770959).
      req_set_fail(req);
      req_set_res(req, -EAGAIN, 0);
      complete_issued(req, def, kIssueIowq);
      ret = 0;
    } else if (ret == -EAGAIN && needs_poll && !(req->flags & kReqNowait)) {
      t_iowq_req = nullptr;
      // The kernel's worker blocks in a link it was handed (only IOSQE_ASYNC
      // makes it poll): a cancel then finds it running and interrupts it.
      if (!(req->flags & kReqForceAsync)) req->flags |= kReqWorkerWait;
      if (arm_apoll(req)) return;
      req->flags &= ~kReqWorkerWait;
      t_iowq_req = req;
      // Interrupted as the kernel's blocked worker is (-ERESTARTSYS, which
      // the read or write reports as -EINTR).
      ret = IoWq::cancelled_running(work) ? -EINTR : issue_sqe(req, kIssueIowq);
    }
    t_iowq_req = nullptr;
  }
  if (ret) {
    // io_req_task_queue_fail: io_req_defer_failed runs the op's fail hook
    // (a zero-copy send's F_MORE for its notification, fuzz seed 52008).
    req_set_fail(req);
    req_set_res(req, ret, 0);
    if (def->fail) def->fail(req);
    // A registered slot the worker found empty: the link behind is issued
    // by the submitter's task work too, as for a closed descriptor (seed
    // 84950, fails_in_task_work).
    if (ret == -EBADF && def->needs_file && !req->file_assigned)
      tw_add(req, tw_req_complete);
    else
      req_complete_post(req);
  }
}

void queue_async(IoKiocb* req, int ret) {
  if (ret != -EAGAIN || (req->flags & kReqNowait)) {
    req_defer_failed(req, ret);
    return;
  }
  if (arm_apoll(req)) return;
  if ((req->flags & kReqNoApoll) && req->file_assigned && file_can_poll(req)) {
    // A file that cannot try without blocking but has a poll (an eventfd's
    // plain write): the kernel's poll finds it ready and retries from task
    // work until its retries run out, then hands it to io-wq. Meanwhile a
    // cancel of the same batch does not find it.
    hold_file(req);  // issued once: its file is held, whatever closes meanwhile
    req->rw.apoll_retries = kApollMaxRetry;
    tw_add(req, tw_req_iowq);
    return;
  }
  queue_iowq(req);
}

}  // namespace

bool fd_refused(int fd) {
  const int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
  return fl < 0 || (fl & O_PATH);
}

bool file_refused(IoKiocb* req) { return !req->file_node && !req->bdev && fd_refused(req->os_fd); }

// The kernel's request holds its file from the first issue on: a close of
// the descriptor before a worker or a poll's retry runs it changes nothing.
void hold_file(IoKiocb* req) {
  if (req->held_file || (req->flags & kReqFixedFile) || req->bdev || req->os_fd < 0) return;
  if (is_ring_fd(req->os_fd)) return;  // found by its number in iostack's table
  if (core::file_hold(req->os_fd, &req->held_file) < 0) return;
  req->os_fd = core::held_fd(req->held_file);
}

unsigned supported_sqe_flags() { return kSqeValidFlags; }

bool iowq_run_next(IoKiocb* req, IoKiocb* nxt) {
  // A lockless CQ (DEFER_TASKRUN, IOPOLL) completes in task work, which
  // then queues the next request there instead; a failure on the worker
  // is completed in task work too (io_req_task_queue_fail).
  if (t_iowq_req != req || (req->ctx->flags & (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_IOPOLL)))
    return false;
  // The kernel's worker runs the next request only when its own put of this
  // one is the last (io_wq_free_work). Beside the request's reference and
  // the worker's, a fired linked timeout's task work may hold it: that task
  // work puts last and the next request is issued from task work (fuzz seed
  // 419726: a POLL_FIRST RECV then waits on poll instead of failing -EAGAIN
  // on the worker).
  if (req->refs.load(std::memory_order_acquire) > 2) return false;
  t_iowq_req = nullptr;
  prep_iowq_work(nxt);
  nxt->work.flags.fetch_or(kWqWorkLinked, std::memory_order_relaxed);
  IoWq::run_next(&nxt->work);
  return true;
}

namespace {
thread_local bool t_peers_woken = false;

// A request that failed on io-wq whose CQE the kernel posts from task work
// (IoOpDef::tw_fail), or one whose descriptor is not open (io_wq_submit_work's
// io_assign_file, io_req_task_queue_fail: seed 84950), which iostack finds
// only in the host call.
bool fails_in_task_work(IoKiocb* req, const IoOpDef* def) {
  if (def->tw_fail & kTwFailAny) return true;
  if ((def->tw_fail & kTwFailNotSock) && req->res == -ENOTSOCK) return true;
  if ((def->tw_fail & kTwFailRefused) && req->ucmd.refused) return true;
  return req->res == -EBADF && def->needs_file && !req->file_node && !req->bdev &&
         !req->held_file && fcntl(req->os_fd, F_GETFD) < 0;
}
void complete_issued(IoKiocb* req, const IoOpDef* def, unsigned issue_flags) {
  if (issue_flags & kIssueLocked)
    req_complete_defer(req);
  else if ((issue_flags & kIssueIowq) && req->res < 0 && fails_in_task_work(req, def))
    tw_add(req, tw_req_complete);
  else
    req_complete_post(req);
}

}  // namespace

bool take_peers_woken() { return std::exchange(t_peers_woken, false); }

namespace {
// The wakeup a request that moved data made on its file (IoRingCtx::fd_reader_wakes).
void count_fd_wake(IoKiocb* req, unsigned wakes) {
  IoRingCtx* ctx = req->ctx;
  const unsigned slot = fd_wake_slot(req);
  if (wakes & kWakesReaders) ctx->fd_reader_wakes[slot].fetch_add(1, std::memory_order_seq_cst);
  if (wakes & kWakesWriters) ctx->fd_writer_wakes[slot].fetch_add(1, std::memory_order_seq_cst);
}
}  // namespace

int issue_sqe(IoKiocb* req, unsigned issue_flags) {
  const IoOpDef* def = op_def(req->opcode);
  if (!assign_file(req, def, issue_flags)) return -EBADF;
  // Block devices have no poll; anything else may be watched by one.
  bool counts_wakes = false;
  if (def->wakes && !req->bdev) {
    t_peers_woken = true;
    tw_hold_wakes(req->ctx);
    // Counted before the op, so an epoll event holding its wakeup is
    // handled after the count (poll.cpp, an armed-ready poll's first event).
    if (IoRingCtx* ctx = req->ctx; ctx->mshot_polls.load(std::memory_order_relaxed)) {
      counts_wakes = true;
      if (def->wakes & kWakesReaders) ctx->reader_wakes.fetch_add(1, std::memory_order_seq_cst);
      if (def->wakes & kWakesWriters) ctx->writer_wakes.fetch_add(1, std::memory_order_seq_cst);
    }
  }
  IoKiocb* lt = nullptr;
  if (req->flags & kReqArmLtimeout) {
    // The kernel's fget fails a closed descriptor before the op runs. A
    // request that merely fails later answers the same -EBADF, so the check
    // is paid only where the order shows: before a linked timeout is armed.
    if (!req->file_node && !req->bdev && def->needs_file && fcntl(req->os_fd, F_GETFD) < 0)
      return -EBADF;
    // __io_prep_linked_timeout: the timeout is armed once this is issued.
    req->flags &= ~kReqArmLtimeout;
    req->flags |= kReqLinkTimeout;
    lt = req->link;
    lt->refs.store(2, std::memory_order_relaxed);
  }
  int ret;
  if (req->creds && !creds_are_current(*req->creds, issue_flags & kIssueIowq)) {
    CredsOverride creds(req->creds.get());
    ret = def->issue(req, issue_flags);
  } else {
    ret = def->issue(req, issue_flags);
  }
  if (lt && ret == -EAGAIN && (issue_flags & kIssueNonblock) &&
      !(req->flags & (kReqNowait | kReqForceAsync)) &&
      (t_iowq_req == req || (req->flags & kReqWorkerWait))) {
    // It waits on poll where the kernel's worker is still inside the op,
    // whose linked timeout is armed only once the op returns (fuzz seed
    // 249741: a 5 ms timeout of a RECV that never fires in the kernel).
    req->flags = (req->flags & ~kReqLinkTimeout) | kReqArmLtimeout;
    lt->refs.store(1, std::memory_order_relaxed);
    lt = nullptr;
  }
  if (lt) queue_linked_timeout(lt);
  if (counts_wakes && ret == kIouOk && req->res > 0) count_fd_wake(req, def->wakes);
  if (ret == kIouOk) {
    complete_issued(req, def, issue_flags);
    return 0;
  }
  if (ret == kIouIssueSkipComplete) return 0;
  return ret;
}

namespace {
// An op that always blocks runs inline on an iostack block device, whose
// flush is asynchronous anyway. A registered slot is only looked at: the
// worker takes its file (io_wq_submit_work's io_assign_file), so a CLOSE
// of the slot later in the batch comes first (fuzz seed 160297).
bool flushes_inline(IoKiocb* req, const IoOpDef* def) REQUIRES(req->ctx->uring_lock) {
  if (req->flags & kReqFixedFile) {
    const auto idx = static_cast<unsigned>(req->fd);
    const FileNode* node = idx < req->ctx->files.size() ? req->ctx->files[idx] : nullptr;
    if (!node || !node->bdev) return false;
  }
  return assign_file(req, def, kIssueLocked) && req->bdev;
}
}  // namespace

void queue_sqe(IoKiocb* req) {
  core::lockdep_assert_held(req->ctx->uring_lock);
  const IoOpDef* def = op_def(req->opcode);
  // A plugged request holds a descriptor number only: an op that may close
  // or replace descriptors must not run before the plug is sent.
  HostAioPlug* plug = req->ctx->st.host_plug;
  if (plug && plug->nr && !def->plug) host_plug_flush(plug);
  if (def->force_async && !(req->flags & kReqFail) && !flushes_inline(req, def)) {
    // Ops that always block go straight to a worker (they would answer a
    // non-blocking attempt with -EAGAIN). A bad descriptor is found by the
    // worker, as io_wq_submit_work assigns the file there.
    queue_iowq(req);
    return;
  }
  const int ret = issue_sqe(req, kIssueNonblock | kIssueLocked);
  if (ret) queue_async(req, ret);
}

// The kernel's worker runs a POLL_ADD by arming it, which never blocks, and
// within microseconds. A worker that a loaded machine delays for
// milliseconds would arm it after the program's next write and read, and
// miss that wakeup (or a POLL_REMOVE would not find it yet), so it is armed
// by the thread that would queue it: at once from task work
// (queue_iowq_or_arm), after the batch from a submission (queue_wq_start:
// a READV of the batch empties the pipe of an edge-triggered POLL_ADD with
// IOSQE_ASYNC first, fuzz seed 816270).
bool arms_only_on_wq(const IoKiocb* req) { return req->opcode == IORING_OP_POLL_ADD; }

// Unless requests are ahead of it on io-wq: the kernel's worker takes it
// after them, so it is queued there too (fuzz seed 443083: a READV of a
// pipe and a POLL_ADD of it, both held back by a drain, go to io-wq in that
// order; the read empties the pipe before the poll is armed).
void queue_iowq_or_arm(IoKiocb* req) {
  if (!queue_iowq_behind(req)) queue_sqe(req);
}

bool queue_iowq_behind(IoKiocb* req) {
  IoWq* wq = ctx_wq(req->ctx);
  if (!wq) return false;
  prep_iowq_work(req);
  return wq->enqueue_behind(&req->work);
}

void queue_iowq(IoKiocb* req) {
  IoRingCtx* ctx = req->ctx;
  IoWq* wq = ctx_wq(ctx);
  if (!wq) {
    req_set_res(req, -ECANCELED, 0);
    tw_add(req, tw_req_cancel);
    return;
  }
  prep_iowq_work(req);
  wq->enqueue(&req->work);
}

void queue_deferred(IoRingCtx* ctx) {
  bool drain_seen = false;
  bool first = true;
  while (!ctx->defer_list.empty()) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(ctx->defer_list.first());
    drain_seen |= (req->flags & kReqIoDrain) != 0;
    if ((drain_seen || first) && ctx->nr_live() != ctx->nr_drained) return;
    req->list.del();
    ctx->nr_drained -= linked_nr(req);
    tw_add_after_wakeups(req, tw_req_submit);
    first = false;
  }
}

namespace {

int submit_sqes_locked(IoRingCtx* ctx, unsigned nr) REQUIRES(ctx->uring_lock) {
  unsigned entries = sq_entries_pending(ctx);
  if (entries > ctx->sq_entries) entries = ctx->sq_entries;
  if (nr < entries) entries = nr;
  if (!entries) return 0;
  ctx->submit_calls.fetch_add(1, std::memory_order_relaxed);

  int ret = static_cast<int>(entries);
  unsigned left = entries;
  bool alloc_failed = false;
  ctx->st.link_head = nullptr;
  do {
    IoKiocb* req = req_alloc(ctx);
    if (!req) {
      alloc_failed = true;
      break;
    }
    const io_uring_sqe* sqe = get_sqe(ctx);
    if (!sqe) {
      req->ctx = ctx;
      req_recycle(req, true);
      break;
    }
    if (submit_sqe(ctx, req, sqe) && !(ctx->flags & IORING_SETUP_SUBMIT_ALL)) {
      left--;
      break;
    }
  } while (--left);

  if (left) {
    ret -= static_cast<int>(left);
    if (!ret && alloc_failed) ret = -EAGAIN;
  }
  if (ctx->st.link_head) {
    queue_sqe_fallback(ctx->st.link_head);
    ctx->st.link_head = nullptr;
  }
  // Every SQE taken has been read: the head moves before the CQEs are
  // posted. The kernel commits it just after (io_commit_sqring), a window
  // an SQPOLL program woken by a CQE could otherwise see: its next flush
  // then counts an SQE already consumed as pending (liburing's
  // io_uring_submit returns one more than it queued).
  store_release(ctx->rings->sq.head, ctx->cached_sq_head);
  flush_completions(ctx);
  return ret;
}

}  // namespace

int submit_sqes(IoRingCtx* ctx, unsigned nr) NO_THREAD_SAFETY_ANALYSIS {
  RingShared* sh = ctx->shared.load(std::memory_order_relaxed);
  if (!sh) [[likely]]
    return submit_sqes_locked(ctx, nr);
  // A ring shared across fork: the processes consume the SQ one at a time,
  // each from the head the last one left.
  sh->sq_lock.lock();
  ctx->cached_sq_head = load_acquire(ctx->rings->sq.head);
  const int ret = submit_sqes_locked(ctx, nr);
  sh->sq_lock.unlock();
  return ret;
}

IoKiocb* take_bdev_batch(IoRingCtx* ctx) {
  IoKiocb* first = ctx->st.bdev_first;
  ctx->st.bdev_first = ctx->st.bdev_last = nullptr;
  return first;
}

void bdev_queue(IoKiocb* req) {
  core::lockdep_assert_held(req->ctx->uring_lock);
  SubmitState& st = req->ctx->st;
  core::slist_add_tail<IoKiocb, &IoKiocb::comp_next>(st.bdev_first, st.bdev_last, req);
}

// `nr` SQEs were to be submitted: the plug allocates that many requests at
// once, as io_submit_state_start's plug does.
void issue_bdev_list(IoKiocb* first, unsigned nr) {
  block::BlkPlug plug;
  block::blk_start_plug_nr_ios(&plug, nr);
  while (first) {
    IoKiocb* next = first->comp_next;
    first->comp_next = nullptr;
    bdev_issue_now(first, true);
    first = next;
  }
  block::blk_finish_plug(&plug);
}

// The kernel frees a request that an io-wq worker posted by task work which
// the submitting task runs before it enters again, so a drain submitted then
// finds it gone. Here the worker's put comes a moment after the CQE: while
// draining is on, a submission first sleeps until those puts are done (the
// last one wakes it; they never block, and the sleep is bounded all the same).
void wait_iowq_puts(IoRingCtx* ctx) {
  if (!ctx->drain_active.load(std::memory_order_seq_cst)) return;
  std::uint32_t n;
  for (int ms = 0; ms < 1000 && (n = ctx->nr_iowq_posted.load(std::memory_order_seq_cst)); ++ms) {
    const struct timespec step = core::futex_deadline_after(0, 1000000);
    core::futex_wait(&ctx->nr_iowq_posted, n, &step);
  }
}

int submit_and_flush(IoRingCtx* ctx, unsigned nr) {
  // Files the batch closes are released when its submission is over, as
  // the kernel's task work releases them on the way back to user space.
  core::DeferredFputScope fput_scope;
  wait_iowq_puts(ctx);
  int ret;
  IoKiocb* bdev;
  HostAioPlug host_plug;
  TwHold hold(ctx);
  {
    core::LockGuard lock(ctx->uring_lock);
    RunningCtxScope scope(ctx);
    ctx->st.host_plug = &host_plug;
    ret = submit_sqes(ctx, nr);
    ctx->st.host_plug = nullptr;
    bdev = take_bdev_batch(ctx);
  }
  hold.stop();
  if (host_plug.nr) host_plug_flush(&host_plug);
  if (bdev) issue_bdev_list(bdev, nr);
  // The batch's CQEs, sends, writes and reads woke polls before its task
  // work runs, as the kernel's wakeups happen inside the calls that cause
  // them (a READ of an eventfd behind a multishot poll of it armed ready:
  // the poll's task work asks the file again).
  if (take_peers_woken())
    poll_run_submit_wakeups();
  else
    poll_catch_up_rings();
  hold.release();
  if (tw_pending(ctx) && !(ctx->flags & IORING_SETUP_DEFER_TASKRUN)) tw_run(ctx);
  return ret;
}

}  // namespace iostack::uring
