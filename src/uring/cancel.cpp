// Cancellation (io_uring/cancel.c): ASYNC_CANCEL and the search it shares
// with linked timeouts: io-wq first, then armed polls, then timeouts.
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/rsrc.hpp"
#include "uring/submit_lock.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kCancelFlags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD |
                                  IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_FD_FIXED |
                                  IORING_ASYNC_CANCEL_USERDATA | IORING_ASYNC_CANCEL_OP;

// The kernel compares the request's struct file with the cancel's: one open
// file, whether reached through a fixed slot, a descriptor or a dup of it.
// Another process's descriptor is compared through kcmp alone.
bool same_file(IoKiocb* req, CancelMatch* cd) {
  // A running request's worker assigns its file while this looks (assign_file).
  const bool assigned = std::atomic_ref<bool>(req->file_assigned).load(std::memory_order_acquire);
  FileNode* node = std::atomic_ref<FileNode*>(req->file_node).load(std::memory_order_relaxed);
  const int os_fd = std::atomic_ref<int>(req->os_fd).load(std::memory_order_relaxed);
  if (!cd->fd_owner && (cd->node ? node == cd->node : (!node && os_fd == cd->os_fd))) return true;
  const int fd = cd->node ? cd->node->fd : cd->os_fd;
  if (!assigned || os_fd < 0 || fd < 0) return false;
  const pid_t pid = getpid();
  return syscall(SYS_kcmp, cd->fd_owner ? cd->fd_owner : pid, pid, KCMP_FILE, fd, os_fd) == 0;
}

// What the other processes sharing the ring are asked: a fixed slot goes as
// the descriptor it holds, since their tables are their own.
CancelAsk ask_of(std::uint64_t data, std::uint32_t flags, std::uint8_t opcode, const FileNode* node,
                 int os_fd) {
  CancelAsk ask{data, flags & ~IORING_ASYNC_CANCEL_FD_FIXED, opcode, -1};
  if (flags & IORING_ASYNC_CANCEL_FD) ask.fd = node ? node->fd : os_fd;
  return ask;
}

// Adds the other processes' answer to this one's: a single cancel not found
// here takes theirs, ALL/ANY adds their count.
int with_others(int ret, int theirs, bool all) {
  if (!all) return theirs;
  return theirs > 0 ? ret + theirs : ret;
}

bool wq_match(IoWqWork* work, void* data) {
  auto* cd = static_cast<CancelMatch*>(data);
  if (work->owner != cd->ctx || !work->data) return false;
  // A worker that posted its request's CQE and has not yet left it (the
  // program may have reaped it and reused its user_data meanwhile).
  if (work->posted()) return false;
  if (!cancel_req_match(static_cast<IoKiocb*>(work->data), cd)) return false;
  // io_cancel_match_sequence: ALL and ANY match a request once per search,
  // so a running one is not counted again by the slow path.
  if (cd->flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY)) {
    if (work->cancel_seq == cd->seq) return false;
    work->cancel_seq = cd->seq;
  }
  return true;
}

int async_cancel_one(CancelMatch* cd) {
  const bool all = cd->flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  IoWq* wq = cd->ctx->wq;
  WqCancel r = wq ? wq->cancel(wq_match, cd, all) : WqCancel::kNotFound;
  if (r == WqCancel::kOk || (r == WqCancel::kNotFound && cancel_wq_starting(cd->ctx, cd))) return 0;
  if ((r == WqCancel::kNotFound || all) && poll_signal_worker_waits(cd->ctx, cd, all))
    r = WqCancel::kRunning;
  if (r != WqCancel::kRunning) return -ENOENT;
  cd->running = true;
  return -EALREADY;
}

// __io_async_cancel: the first match, or with ALL/ANY every match (their
// count). `locked`: the caller holds uring_lock.
int cancel_search(CancelMatch* cd, bool locked) {
  const bool all = cd->flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  int nr = 0;
  for (;;) {
    const int ret = try_cancel(cd);
    if (ret == -ENOENT) break;
    if (!all) return ret;
    nr++;
    if (ret == -EALREADY) break;  // a running request stays matched
  }
  // The slow path asks io-wq once more, and a single cancel reports a match
  // found running (the first pass went on to the polls; the match may have
  // posted since, which the kernel's worker still holds then).
  if (!all && cd->running) return -EALREADY;
  // It does so under uring_lock: a cancel on a worker also finds what a
  // batch under way queues meanwhile.
  RingSubmitLock lock(cd->ctx, locked);
  const int ret = async_cancel_one(cd);
  if (ret == -ENOENT) return all ? nr : -ENOENT;
  return all ? nr + 1 : ret;
}

}  // namespace

// A multishot request still waiting for its first poll in task work, where
// the kernel's would be queued on io-wq: cancelled like queued work (its
// task work ends it, tw_req_wq_start). The first match, or every one
// when `cd` is null (the ring's exit).
bool cancel_wq_starting(IoRingCtx* ctx, CancelMatch* cd) {
  core::LockGuard lock(ctx->wq_starting_lock);
  bool found = false;
  for (core::ListHead* n = ctx->wq_starting.next; n != &ctx->wq_starting;) {
    IoKiocb* req = core::list_entry<IoKiocb, &IoKiocb::list>(n);
    n = n->next;
    if (cd && !cancel_req_match(req, cd)) continue;
    req->list.del();
    req_set_fail(req);
    req_set_res(req, -ECANCELED, 0);
    found = true;
    if (cd) break;
  }
  return found;
}

bool cancel_req_match(IoKiocb* req, CancelMatch* cd) {
  if (req->ctx != cd->ctx) return false;
  bool match_user_data = cd->flags & IORING_ASYNC_CANCEL_USERDATA;
  if (!(cd->flags & (IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_OP))) match_user_data = true;
  if (!(cd->flags & IORING_ASYNC_CANCEL_ANY)) {
    if (cd->flags & IORING_ASYNC_CANCEL_FD) {
      if (req != cd->self && !same_file(req, cd)) return false;
    }
    if ((cd->flags & IORING_ASYNC_CANCEL_OP) && req->opcode != cd->opcode) return false;
    if (match_user_data && req->user_data != cd->data) return false;
    if (!(cd->flags & IORING_ASYNC_CANCEL_ALL)) return true;
  }
  return true;
}

int try_cancel(CancelMatch* cd) {
  int ret = async_cancel_one(cd);
  if (ret == 0) return 0;
  // Even when io-wq says it is running, an armed poll may need unarming.
  ret = poll_cancel(cd->ctx, cd);
  if (ret != -ENOENT) return ret;
  ret = futex_cancel(cd->ctx, cd);
  if (ret != -ENOENT) return ret;
  if (!(cd->flags & IORING_ASYNC_CANCEL_FD)) ret = timeout_cancel(cd->ctx, cd);
  return ret;
}

int async_cancel_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (req->flags & kReqBufferSelect) return -EINVAL;
  if (sqe->off || sqe->splice_fd_in) return -EINVAL;
  CancelData& c = req->cancel;
  c.addr = sqe->addr;
  c.flags = sqe->cancel_flags;
  c.fd = -1;
  c.opcode = 0;
  if (c.flags & ~kCancelFlags) return -EINVAL;
  if (c.flags & IORING_ASYNC_CANCEL_FD) {
    if (c.flags & IORING_ASYNC_CANCEL_ANY) return -EINVAL;
    c.fd = sqe->fd;
  }
  if (c.flags & IORING_ASYNC_CANCEL_OP) {
    if (c.flags & IORING_ASYNC_CANCEL_ANY) return -EINVAL;
    c.opcode = static_cast<std::uint8_t>(sqe->len);
  }
  return 0;
}

int async_cancel_issue(IoKiocb* req, unsigned issue_flags) {
  CancelData& c = req->cancel;
  IoRingCtx* ctx = req->ctx;
  CancelMatch cd;
  cd.ctx = ctx;
  cd.data = c.addr;
  cd.flags = c.flags;
  cd.opcode = c.opcode;
  cd.seq = ctx->cancel_seq.fetch_add(1, std::memory_order_relaxed) + 1;
  int ret = 0;
  FileNode* node = nullptr;
  if (c.flags & IORING_ASYNC_CANCEL_FD) {
    if ((req->flags & kReqFixedFile) || (c.flags & IORING_ASYNC_CANCEL_FD_FIXED)) {
      node = fixed_file_get(ctx, static_cast<unsigned>(c.fd), issue_flags & kIssueLocked);
      if (!node) ret = -EBADF;
      cd.node = node;
    } else {
      cd.os_fd = c.fd;
      // io_file_get_normal: a descriptor that is not open is -EBADF.
      if (c.fd < 0 || fcntl(c.fd, F_GETFD) < 0) ret = -EBADF;
    }
  }
  // A ring shared across fork: the other processes' requests are searched
  // too, which waits for their answer, so on a worker, with no lock held.
  const bool all = c.flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  RingShared* sh = ring_shared(ctx);
  const bool remote = !ret && sh && ring_share_others_serve(sh);
  if (remote && all && (issue_flags & kIssueNonblock)) ret = -EAGAIN;
  if (!ret) {
    // On a worker only because the other processes must be asked, it is
    // not the kernel's request on io-wq, which would find itself.
    const bool on_wq =
        !(issue_flags & kIssueNonblock) && (!remote || (req->flags & kReqForceAsync));
    if ((c.flags & IORING_ASYNC_CANCEL_FD) && on_wq) cd.self = req;
    ret = cancel_search(&cd, issue_flags & kIssueLocked);
  }
  if (remote && (all || ret == -ENOENT)) {
    if (issue_flags & kIssueNonblock) ret = -EAGAIN;
    if (ret == -EAGAIN) {
      if (node) file_node_put(node);
      return -EAGAIN;
    }
    ret = with_others(ret, ring_share_cancel(ctx, ask_of(c.addr, c.flags, c.opcode, node, c.fd)),
                      all);
  }
  if (node) file_node_put(node);
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

int cancel_for_other_process(IoRingCtx* ctx, const CancelAsk& ask, pid_t from) {
  CancelMatch cd;
  cd.ctx = ctx;
  cd.data = ask.data;
  cd.flags = ask.flags;
  cd.opcode = ask.opcode;
  if (ask.flags & IORING_ASYNC_CANCEL_FD) {
    cd.os_fd = ask.fd;
    cd.fd_owner = from;
  }
  cd.seq = ctx->cancel_seq.fetch_add(1, std::memory_order_relaxed) + 1;
  core::LockGuard lock(ctx->uring_lock);
  return cancel_search(&cd, true);
}

// io_sync_cancel: IORING_REGISTER_SYNC_CANCEL. Cancels like ASYNC_CANCEL;
// while the match is running on a worker, waits for completions and tries
// again until it is gone or the timeout passes (-ETIME).
int sync_cancel(IoRingCtx* ctx, void* arg) {
  uapi::SyncCancelReg sc;
  if (core::copy_from_user(&sc, arg, sizeof(sc))) return -EFAULT;
  if (sc.flags & ~kCancelFlags) return -EINVAL;
  for (auto p : sc.pad)
    if (p) return -EINVAL;
  for (auto p : sc.pad2)
    if (p) return -EINVAL;
  CancelMatch cd;
  cd.ctx = ctx;
  cd.data = sc.addr;
  cd.flags = sc.flags;
  cd.opcode = sc.opcode;
  const bool by_fd = sc.flags & IORING_ASYNC_CANCEL_FD;
  const bool fixed = by_fd && (sc.flags & IORING_ASYNC_CANCEL_FD_FIXED);
  if (by_fd && !fixed) {
    if (sc.fd < 0 || fcntl(sc.fd, F_GETFD) < 0) return -EBADF;
    cd.os_fd = sc.fd;
  }
  const bool all = sc.flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  // One search under uring_lock, then, on a ring shared across fork, in the
  // other processes with no lock held (the kernel walks every task's
  // io-wq); a fixed slot is looked up each time, as the table may change
  // while the lock is dropped.
  auto attempt = [&]() -> int {
    cd.seq = ctx->cancel_seq.fetch_add(1, std::memory_order_relaxed) + 1;
    cd.running = false;
    int ret;
    {
      core::LockGuard lock(ctx->uring_lock);
      cd.node = nullptr;
      if (fixed) {
        cd.node = fixed_file_get(ctx, static_cast<unsigned>(sc.fd), true);
        if (!cd.node) return -EBADF;
      }
      ret = cancel_search(&cd, true);
    }
    RingShared* sh = ring_shared(ctx);
    if ((all || ret == -ENOENT) && sh && ring_share_others_serve(sh)) {
      const CancelAsk ask = ask_of(sc.addr, sc.flags, sc.opcode, cd.node, sc.fd);
      ret = with_others(ret, ring_share_cancel(ctx, ask), all);
    }
    if (cd.node) file_node_put(cd.node);
    return ret;
  };
  int ret = attempt();
  if (ret != -EALREADY) return ret;

  const bool timed = sc.timeout.tv_sec != -1 || sc.timeout.tv_nsec != -1;
  const struct timespec deadline =
      timed ? core::futex_deadline_after(sc.timeout.tv_sec, sc.timeout.tv_nsec) : timespec{};
  // Another process's CQEs wake the shared queue only (see cq_wake).
  auto round = [&](auto& q, int* r) {
    const std::uint32_t seq = q.prepare();
    const int found = attempt();
    if (found == -EALREADY) {
      if (tw_pending(ctx))
        tw_run(ctx);
      else
        *r = q.sleep(seq, timed ? &deadline : nullptr);
    }
    q.finish();
    return found;
  };
  for (;;) {
    RingShared* sh = ring_shared(ctx);
    int r = 0;
    ret = sh ? round(sh->cq_wait, &r) : round(ctx->cq_wait, &r);
    if (ret != -EALREADY) break;
    if (r) {
      ret = r;  // -ETIME or -EINTR
      break;
    }
  }
  return ret == -ENOENT || ret > 0 ? 0 : ret;
}

}  // namespace iostack::uring
