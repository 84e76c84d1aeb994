// IORING_OP_NOP (io_uring/nop.c), with the 6.x test flags: an injected
// result, a file or fixed file to look up, a fixed buffer to look up, and
// completion through task work (a no-op here), and the extra words of a
// CQE32 ring's CQE or of a CQE_MIXED ring's 32-byte one.
#include <fcntl.h>

#include <cerrno>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// uapi values newer than the build's headers.
constexpr unsigned kNopFile = 1u << 1;
constexpr unsigned kNopFixedFile = 1u << 2;
constexpr unsigned kNopFixedBuffer = 1u << 3;
constexpr unsigned kNopTw = 1u << 4;
constexpr unsigned kNopCqe32 = 1u << 5;
constexpr unsigned kNopFlags =
    IORING_NOP_INJECT_RESULT | kNopFile | kNopFixedFile | kNopFixedBuffer | kNopTw | kNopCqe32;

}  // namespace

int nop_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  NopData& n = req->nop;
  n.flags = sqe->rw_flags;
  if (n.flags & ~kNopFlags) return -EINVAL;
  n.inject = (n.flags & IORING_NOP_INJECT_RESULT) ? static_cast<int>(sqe->len) : 0;
  n.fd = (n.flags & kNopFile) ? sqe->fd : -1;
  n.buf_index = (n.flags & kNopFixedBuffer) ? sqe->buf_index : 0;
  if (n.flags & kNopCqe32) {
    if (!(req->ctx->flags & (IORING_SETUP_CQE32 | uapi::kSetupCqeMixed))) return -EINVAL;
    n.extra1 = sqe->off;
    n.extra2 = sqe->addr;
  }
  return 0;
}

int nop_issue(IoKiocb* req, unsigned issue_flags) {
  NopData& n = req->nop;
  int ret = n.inject;
  bool file_ok = true;
  if (n.flags & kNopFile) {
    bool ok;
    if (n.flags & kNopFixedFile) {
      FileNode* node =
          fixed_file_get(req->ctx, static_cast<unsigned>(n.fd), issue_flags & kIssueLocked);
      ok = node != nullptr;
      if (node) file_node_put(node);
    } else {
      ok = n.fd >= 0 && fcntl(n.fd, F_GETFD) >= 0;
    }
    if (!ok) ret = -EBADF;
    file_ok = ok;
  }
  // A missing buffer overrides an injected result, a missing file both.
  if (file_ok && (n.flags & kNopFixedBuffer) &&
      !fixed_buf_exists(req->ctx, n.buf_index, issue_flags & kIssueLocked))
    ret = -EFAULT;
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  // At issue, as io_req_set_res32: a NOP failed before it has zeros there
  // (and is a 16-byte CQE on a CQE_MIXED ring).
  if (n.flags & kNopCqe32) {
    if (req->ctx->flags & uapi::kSetupCqeMixed) req->cflags |= uapi::kCqeF32;
    req_set_big_cqe(req, n.extra1, n.extra2);
  }
  return kIouOk;
}

}  // namespace iostack::uring
