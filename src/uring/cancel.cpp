// Cancellation (io_uring/cancel.c): ASYNC_CANCEL and the search it shares
// with linked timeouts: io-wq first, then armed polls, then timeouts.
#include <fcntl.h>

#include <cerrno>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kCancelFlags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD |
                                  IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_FD_FIXED |
                                  IORING_ASYNC_CANCEL_USERDATA | IORING_ASYNC_CANCEL_OP;

bool wq_match(IoWqWork* work, void* data) {
  auto* cd = static_cast<CancelMatch*>(data);
  if (work->owner != cd->ctx || !work->data) return false;
  return cancel_req_match(static_cast<IoKiocb*>(work->data), cd);
}

int async_cancel_one(CancelMatch* cd) {
  IoWq* wq = cd->ctx->wq;
  if (!wq) return -ENOENT;
  const bool all = cd->flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  switch (wq->cancel(wq_match, cd, all)) {
    case WqCancel::kOk:
      return 0;
    case WqCancel::kRunning:
      return -EALREADY;
    case WqCancel::kNotFound:
      break;
  }
  return -ENOENT;
}

}  // namespace

bool cancel_req_match(IoKiocb* req, CancelMatch* cd) {
  if (req->ctx != cd->ctx) return false;
  bool match_user_data = cd->flags & IORING_ASYNC_CANCEL_USERDATA;
  if (!(cd->flags & (IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_OP))) match_user_data = true;
  if (!(cd->flags & IORING_ASYNC_CANCEL_ANY)) {
    if (cd->flags & IORING_ASYNC_CANCEL_FD) {
      if (cd->node ? req->file_node != cd->node : (req->file_node || req->os_fd != cd->os_fd))
        return false;
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
  if (!ret) {
    const bool all = c.flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
    int nr = 0;
    for (;;) {
      ret = try_cancel(&cd);
      if (ret == -ENOENT) break;
      if (!all) break;
      nr++;
      if (ret == -EALREADY) break;  // a running request stays matched
    }
    if (all) ret = nr;
  }
  if (node) file_node_put(node);
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
