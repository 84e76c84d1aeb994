// IORING_OP_EPOLL_CTL (io_uring/epoll.c): epoll_ctl(2) through the ring,
// the event copied at prep.
#include <sys/epoll.h>

#include <cerrno>

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
  // program it is an io_uring, which epoll_ctl refuses as a target.
  if (is_ring_fd(e.epfd)) {
    req_set_fail(req);
    req_set_res(req, -EINVAL, 0);
    return kIouOk;
  }
  const int r = epoll_ctl(e.epfd, e.op, e.fd, e.op == EPOLL_CTL_DEL ? nullptr : &e.event);
  const int ret = r < 0 ? -errno : 0;
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

}  // namespace iostack::uring
