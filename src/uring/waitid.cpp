// IORING_OP_WAITID (io_uring/waitid.c): waitid(2) through the ring. What
// can be answered at once is (errors, WNOHANG, a child already changed);
// a wait for one process (P_PID, P_PIDFD) waits on its pidfd's readiness
// and asks again, so it holds no thread and can be cancelled; a wait for
// any child or a group (P_ALL, P_PGID) blocks an io-wq worker.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

int waitid_done(IoKiocb* req, int ret) {
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// io_waitid_copy_si: the fields the kernel writes, in a siginfo that must
// be writable as a whole.
int copy_si(std::uint64_t infop, int signo, const siginfo_t& si) {
  if (!infop) return 0;
  auto* u = reinterpret_cast<siginfo_t*>(infop);
  if (!core::access_ok(u, sizeof(*u))) return -EFAULT;
  const int zero = 0;
  if (core::put_user(signo, &u->si_signo) || core::put_user(zero, &u->si_errno) ||
      core::put_user(signo ? si.si_code : 0, &u->si_code) ||
      core::put_user(signo ? si.si_pid : 0, &u->si_pid) ||
      core::put_user(signo ? si.si_uid : 0, &u->si_uid) ||
      core::put_user(signo ? si.si_status : 0, &u->si_status))
    return -EFAULT;
  return 0;
}

}  // namespace

int waitid_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->addr || sqe->buf_index || sqe->addr3 || sqe->rw_flags) return -EINVAL;
  WaitidData& w = req->waitid;
  w.which = static_cast<int>(sqe->len);
  w.upid = sqe->fd;
  w.options = static_cast<int>(sqe->file_index);
  w.infop = sqe->addr2;
  w.pidfd = -1;
  return 0;
}

void waitid_cleanup(IoKiocb* req) {
  if (req->waitid.pidfd >= 0) ::close(req->waitid.pidfd);
  req->waitid.pidfd = -1;
}

int waitid_issue(IoKiocb* req, unsigned issue_flags) {
  WaitidData& w = req->waitid;
  const bool nonblock = issue_flags & kIssueNonblock;
  siginfo_t si{};
  // The same checks as kernel_waitid_prepare, then whatever is there now.
  int options = w.options;
  const bool may_block = !(options & WNOHANG);
  if (nonblock || !may_block || w.which == P_PID || w.which == P_PIDFD) options |= WNOHANG;
  if (waitid(static_cast<idtype_t>(w.which), static_cast<id_t>(w.upid), &si, options) != 0)
    return waitid_done(req, -errno);
  if (si.si_pid || !may_block) {
    const int err = copy_si(w.infop, si.si_pid ? SIGCHLD : 0, si);
    return waitid_done(req, err);
  }
  if (!nonblock && w.which != P_PID && w.which != P_PIDFD) return waitid_done(req, 0);
  if (w.which == P_PID || w.which == P_PIDFD) {
    // Wait for the process's pidfd to become readable, then ask again.
    if (w.which == P_PID && w.pidfd < 0) {
      w.pidfd = static_cast<int>(syscall(SYS_pidfd_open, w.upid, 0));
      if (w.pidfd < 0) return waitid_done(req, -errno);
      req->flags |= kReqCleanup;
    }
    req->os_fd = w.which == P_PID ? w.pidfd : w.upid;
    req->file_assigned = true;
  } else {
    req->flags |= kReqNoApoll;  // a worker blocks in waitid(2)
  }
  return -EAGAIN;
}

}  // namespace iostack::uring
