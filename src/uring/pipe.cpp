// IORING_OP_PIPE (io_uring/openclose.c: io_pipe_prep, io_pipe): a pipe made
// through the ring, its two descriptors written to the user's int[2], or
// installed into direct descriptor slots.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/fd_mode_cache.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

constexpr int kONotificationPipe = O_EXCL;  // O_NOTIFICATION_PIPE

int pipe_done(IoKiocb* req, int ret) {
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// io_pipe_fixed: the read end into `slot` (or an allocated one), the write
// end into the next (or another allocated one); the two indexes go to the
// user's array.
int pipe_fixed(IoKiocb* req, int fds[2], unsigned issue_flags) NO_THREAD_SAFETY_ANALYSIS {
  PipeData& p = req->pipe;
  IoRingCtx* ctx = req->ctx;
  if (p.flags & O_CLOEXEC) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -EINVAL;
  }
  const bool locked = issue_flags & kIssueLocked;
  if (!locked) ctx->uring_lock.lock();
  int out[2] = {-1, -1};
  std::uint32_t slot = p.file_slot;
  const bool alloc = slot == IORING_FILE_INDEX_ALLOC;
  int ret = fixed_fd_install(ctx, kIssueLocked, fds[0], slot);
  if (ret >= 0) {
    out[0] = alloc ? ret : static_cast<int>(slot - 1);
    if (!alloc) slot++;
    ret = fixed_fd_install(ctx, kIssueLocked, fds[1], slot);
    if (ret >= 0) out[1] = alloc ? ret : static_cast<int>(slot - 1);
  } else {
    ::close(fds[1]);
  }
  if (ret >= 0 && core::copy_to_user(reinterpret_cast<void*>(p.fds), out, sizeof(out)))
    ret = -EFAULT;
  if (ret < 0) {
    // io_fixed_fd_remove of what was installed.
    for (int idx : out)
      if (idx >= 0 && static_cast<std::size_t>(idx) < ctx->files.size())
        file_slot_replace(ctx, static_cast<unsigned>(idx), nullptr);
  }
  if (!locked) ctx->uring_lock.unlock();
  return ret < 0 ? ret : 0;
}

}  // namespace

int pipe_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->fd || sqe->off || sqe->addr3) return -EINVAL;
  PipeData& p = req->pipe;
  p.fds = sqe->addr;
  p.flags = static_cast<int>(sqe->rw_flags);  // pipe_flags
  if (p.flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | kONotificationPipe)) return -EINVAL;
  p.file_slot = sqe->file_index;
  return 0;
}

int pipe_issue(IoKiocb* req, unsigned issue_flags) {
  PipeData& p = req->pipe;
  int fds[2];
  // A direct descriptor is ours: it closes on exec whatever the flags say.
  const int flags = p.file_slot ? (p.flags & ~O_CLOEXEC) | O_CLOEXEC : p.flags;
  if (pipe2(fds, flags) != 0) return pipe_done(req, -errno);
  core::fd_mode_forget(fds[0]);
  core::fd_mode_forget(fds[1]);
  if (p.file_slot) return pipe_done(req, pipe_fixed(req, fds, issue_flags));
  if (core::copy_to_user(reinterpret_cast<void*>(p.fds), fds, sizeof(fds))) {
    ::close(fds[0]);
    ::close(fds[1]);
    return pipe_done(req, -EFAULT);
  }
  return pipe_done(req, 0);
}

}  // namespace iostack::uring
