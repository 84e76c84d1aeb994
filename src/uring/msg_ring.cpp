// IORING_OP_MSG_RING (io_uring/msg_ring.c): posts a CQE on another ring
// (IORING_MSG_DATA) or passes it a direct descriptor (IORING_MSG_SEND_FD);
// IORING_REGISTER_SEND_MSG_RING sends a data message without a ring.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "core/held_file.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

// IORING_MSG_RING_* flags of 6.18.
constexpr unsigned kMsgRingCqeSkip = 1u << 0;
constexpr unsigned kMsgRingFlagsPass = 1u << 1;

int finish(IoKiocb* req, int ret) {
  if (ret < 0) req_set_fail(req);
  // CQE_SKIP: nothing for the sender when it worked.
  if (ret >= 0 && (req->msg.flags & kMsgRingCqeSkip)) req->flags |= kReqCqeSkip;
  req_set_res(req, ret, 0);
  return kIouOk;
}

// io_msg_tw_complete: the CQE a message left for a DEFER_TASKRUN ring,
// posted by that ring's task work. The kernel carries it in a request of
// its own (io_msg_remote_post); so does this one, freed when posted.
void msg_remote_complete(IoKiocb* carrier) {
  post_aux_cqe(carrier->ctx, carrier->user_data, carrier->res, carrier->cflags);
  delete carrier;
}

// __io_msg_ring_data: checks and posts a data message; shared by the opcode
// and IORING_REGISTER_SEND_MSG_RING.
int msg_data(const MsgRingData& m, IoRingCtx* target) {
  if (m.src_fd || (m.flags & ~kMsgRingFlagsPass)) return -EINVAL;  // CQE_SKIP is for SEND_FD
  if (!(m.flags & kMsgRingFlagsPass) && m.dst_fd) return -EINVAL;
  if (target->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  const std::uint32_t cflags = (m.flags & kMsgRingFlagsPass) ? m.dst_fd : 0;
  // io_msg_need_remote: a ring whose completions only its task posts
  // (ctx->task_complete) gets the CQE when that task runs its task work.
  if ((target->flags & IORING_SETUP_DEFER_TASKRUN) && !(target->flags & IORING_SETUP_IOPOLL)) {
    auto* carrier = new (std::nothrow) IoKiocb;
    if (!carrier) return -ENOMEM;
    carrier->ctx = target;
    carrier->user_data = m.user_data;
    req_set_res(carrier, static_cast<std::int32_t>(m.len), cflags);
    tw_add(carrier, msg_remote_complete);
    return 0;
  }
  post_aux_cqe(target, m.user_data, static_cast<std::int32_t>(m.len), cflags);
  return 0;
}

// __io_msg_ring_prep: the SQE's fields, as both users read them.
int msg_prep(MsgRingData* m, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->personality) return -EINVAL;
  m->user_data = sqe->off;
  m->len = sqe->len;
  m->cmd = sqe->addr;
  m->src_fd = static_cast<std::uint32_t>(sqe->addr3);
  m->dst_fd = sqe->file_index;
  m->flags = sqe->msg_ring_flags;
  if (m->flags & ~(kMsgRingCqeSkip | kMsgRingFlagsPass)) return -EINVAL;
  return 0;
}

int msg_send_fd(IoKiocb* req, IoRingCtx* target, unsigned issue_flags) {
  MsgRingData& m = req->msg;
  if (m.len) return -EINVAL;
  if (target == req->ctx) return -EINVAL;
  if (target->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  FileNode* src = fixed_file_get(req->ctx, m.src_fd, issue_flags & kIssueLocked);
  if (!src) return -EBADF;
  if (!src->held) {
    file_node_put(src);
    return -EBADF;
  }
  // The target's slot holds the same file (the kernel's get_file()).
  src->held.get()->get();
  core::FileRef held(src->held.get());
  file_node_put(src);
  const int ret = fixed_fd_install(target, 0, std::move(held), m.dst_fd);
  if (ret < 0) return ret;
  if (!(m.flags & kMsgRingCqeSkip)) {
    const std::uint32_t cflags = (m.flags & kMsgRingFlagsPass) ? m.dst_fd : 0;
    post_aux_cqe(target, m.user_data, ret, cflags);
  }
  return 0;
}

}  // namespace

int msg_ring_prep(IoKiocb* req, const io_uring_sqe* sqe) { return msg_prep(&req->msg, sqe); }

int msg_ring_issue(IoKiocb* req, unsigned issue_flags) {
  core::FileRef ref = ring_file_get(req->os_fd);
  IoRingCtx* target = ring_of(ref);
  // A descriptor that names nothing failed io_assign_file before the op
  // (fuzz seed 687 of the extended generator); a file that is no ring is
  // the op's -EBADFD.
  if (!target) return finish(req, file_refused(req) ? -EBADF : -EBADFD);
  int ret;
  switch (req->msg.cmd) {
    case IORING_MSG_DATA:
      ret = msg_data(req->msg, target);
      break;
    case IORING_MSG_SEND_FD:
      // The target's table is guarded by its own lock, which may not be
      // taken while holding ours.
      if (target != req->ctx && (issue_flags & kIssueLocked)) return -EAGAIN;
      ret = msg_send_fd(req, target, issue_flags);
      break;
    default:
      ret = -EINVAL;
      break;
  }
  return finish(req, ret);
}

int sync_msg_ring(const io_uring_sqe* sqe) {
  MsgRingData m{};
  if (const int ret = msg_prep(&m, sqe)) return ret;
  // Without a source ring there is no file table to send from.
  if (m.cmd != IORING_MSG_DATA) return -EINVAL;
  core::FileRef ref = ring_file_get(sqe->fd);
  IoRingCtx* target = ring_of(ref);
  if (!target) return fd_refused(sqe->fd) ? -EBADF : -EBADFD;
  return msg_data(m, target);
}

}  // namespace iostack::uring
