// IORING_OP_EPOLL_CTL and IORING_OP_EPOLL_WAIT (io_uring/epoll.c):
// epoll_ctl(2) through the ring, the event copied at prep; and the ready
// events of an epoll instance, waiting on its readiness when there are none.
#include <fcntl.h>
#include <sys/epoll.h>

#include <cerrno>
#include <climits>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

int epoll_ctl_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  EpollCtlData& e = req->epoll;
  e.epfd = sqe->fd;
  e.op = static_cast<int>(sqe->len);
  e.fd = static_cast<int>(sqe->off);
  e.event = {};
  // ep_op_has_event: every op but DEL carries an event.
  if (e.op != EPOLL_CTL_DEL &&
      core::copy_from_user(&e.event, reinterpret_cast<const void*>(sqe->addr), sizeof(e.event)))
    return -EFAULT;
  return 0;
}

int epoll_ctl_issue(IoKiocb* req, unsigned) {
  EpollCtlData& e = req->epoll;
  // The ring's own descriptor is an epoll instance inside iostack; to the
  // program it is an io_uring, which do_epoll_ctl refuses as an epoll
  // instance (-EINVAL) once it has looked at the target: not open is
  // -EBADF, one without poll -EPERM (fuzz seed 61830).
  if (is_ring_fd(e.epfd)) {
    const int ret = fcntl(e.fd, F_GETFD) < 0 ? -EBADF : !fd_can_poll(e.fd) ? -EPERM : -EINVAL;
    req_set_fail(req);
    req_set_res(req, ret, 0);
    return kIouOk;
  }
  const int r = epoll_ctl(e.epfd, e.op, e.fd, e.op == EPOLL_CTL_DEL ? nullptr : &e.event);
  const int ret = r < 0 ? -errno : 0;
  if (ret < 0)
    req_set_fail(req);
  else
    ring_epoll_note(e.epfd, e.op, e.fd, &e.event);
  req_set_res(req, ret, 0);
  return kIouOk;
}

int epoll_wait_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->off || sqe->rw_flags || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->epoll_wait.maxevents = static_cast<int>(sqe->len);
  req->epoll_wait.events = sqe->addr;
  return 0;
}

// epoll_sendevents: ep_check_params (maxevents, the array, an epoll file),
// then what is ready now; none is -EAGAIN, which waits on the instance's
// readiness and tries again.
int epoll_wait_issue(IoKiocb* req, unsigned) {
  EpollWaitData& w = req->epoll_wait;
  int ret;
  if (is_ring_fd(req->os_fd)) {
    // To the program a ring is no epoll instance (inside iostack it is one).
    constexpr int kEpMaxEvents = INT_MAX / static_cast<int>(sizeof(struct epoll_event));
    ret = -EINVAL;
    if (w.maxevents > 0 && w.maxevents <= kEpMaxEvents &&
        !core::access_ok(reinterpret_cast<void*>(w.events),
                         static_cast<std::size_t>(w.maxevents) * sizeof(struct epoll_event)))
      ret = -EFAULT;
  } else {
    static const struct timespec kNow = {0, 0};
    ret = ring_epoll_wait(req->os_fd, reinterpret_cast<struct epoll_event*>(w.events), w.maxevents,
                          &kNow, nullptr);
  }
  if (ret == 0) return -EAGAIN;
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
