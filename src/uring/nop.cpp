// IORING_OP_NOP (io_uring/nop.c).
#include <cerrno>

#include "uring/engine.hpp"

namespace iostack::uring {

int nop_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  req->nop.flags = sqe->rw_flags;
  // Of the 6.x NOP flags only result injection is implemented.
  if (req->nop.flags & ~IORING_NOP_INJECT_RESULT) return -EINVAL;
  req->nop.inject = (req->nop.flags & IORING_NOP_INJECT_RESULT) ? static_cast<int>(sqe->len) : 0;
  return 0;
}

int nop_issue(IoKiocb* req, unsigned) {
  const int ret = req->nop.inject;
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
