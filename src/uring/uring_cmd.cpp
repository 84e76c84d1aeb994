// IORING_OP_URING_CMD (io_uring/uring_cmd.c, cmd_net.c): a command to the
// file's ->uring_cmd. Regular files, pipes and most others have none
// (-EOPNOTSUPP); /dev/null accepts anything; TCP, UDP, raw and SCTP sockets answer
// SIOCINQ, SIOCOUTQ and the socket options, as io_uring_cmd_sock does.
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "uring/engine.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kCmdFixed = 1u << 0;      // IORING_URING_CMD_FIXED
constexpr unsigned kCmdMultishot = 1u << 1;  // IORING_URING_CMD_MULTISHOT
// SOCKET_URING_OP_*
constexpr unsigned kSockSiocinq = 0;
constexpr unsigned kSockSiocoutq = 1;
constexpr unsigned kSockGetsockopt = 2;
constexpr unsigned kSockSetsockopt = 3;

int cmd_done(IoKiocb* req, int ret) {
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// No method for it: io_uring_cmd returns -EOPNOTSUPP itself, which a worker
// fails from task work, where the link behind it is issued (fuzz seed
// 1037116: a hard-linked ASYNC_CANCEL of itself then finds nothing
// running, -ENOENT).
int cmd_refused(IoKiocb* req) {
  req->ucmd.refused = true;
  return cmd_done(req, -EOPNOTSUPP);
}

// Whether the socket's protocol has an ioctl (sk->sk_prot->ioctl): TCP, UDP,
// raw IP and SCTP over IPv4 and IPv6; Unix, netlink and packet sockets have
// none.
bool inet_proto_ioctl(int fd) {
  int domain = 0, type = 0;
  socklen_t l = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0) return false;
  l = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0) return false;
  return (domain == AF_INET || domain == AF_INET6) &&
         (type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_RAW || type == SOCK_SEQPACKET);
}

}  // namespace

int uring_cmd_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  UringCmdData& c = req->ucmd;
  if (sqe->off >> 32) return -EINVAL;  // __pad1
  c.flags = sqe->uring_cmd_flags;
  c.refused = false;
  if (c.flags & ~(kCmdFixed | kCmdMultishot)) return -EINVAL;
  if ((c.flags & kCmdFixed) && (c.flags & kCmdMultishot)) return -EINVAL;
  if (!!(c.flags & kCmdMultishot) != !!(req->flags & kReqBufferSelect)) return -EINVAL;
  c.cmd_op = static_cast<std::uint32_t>(sqe->off);
  // The socket commands' arguments (sqe->level, optname, optlen, optval).
  c.level = static_cast<int>(sqe->addr & 0xffffffffu);
  c.optname = static_cast<int>(sqe->addr >> 32);
  c.optlen = static_cast<int>(sqe->splice_fd_in);
  c.optval = sqe->addr3;
  return 0;
}

int uring_cmd_issue(IoKiocb* req, unsigned) {
  UringCmdData& c = req->ucmd;
  struct stat st;
  if (req->bdev) return cmd_done(req, -EOPNOTSUPP);
  // A descriptor closed since submission fails io_assign_file.
  if (fstat(req->os_fd, &st) != 0) return cmd_done(req, errno == EBADF ? -EBADF : -EOPNOTSUPP);
  // An IOPOLL ring needs ->uring_cmd_iopoll, which neither has.
  if (req->ctx->flags & IORING_SETUP_IOPOLL) return cmd_refused(req);
  // /dev/null's uring_cmd_null accepts any command.
  if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)
    return cmd_done(req, 0);
  if (!S_ISSOCK(st.st_mode)) return cmd_refused(req);
  const int fd = req->os_fd;
  if (!inet_proto_ioctl(fd)) return cmd_done(req, -EOPNOTSUPP);
  switch (c.cmd_op) {
    case kSockSiocinq:
    case kSockSiocoutq: {
      int arg = 0;
      if (ioctl(fd, c.cmd_op == kSockSiocinq ? SIOCINQ : SIOCOUTQ, &arg) != 0)
        return cmd_done(req, -errno);
      return cmd_done(req, arg);
    }
    case kSockGetsockopt: {
      if (c.level != SOL_SOCKET) return cmd_done(req, -EOPNOTSUPP);
      socklen_t len = static_cast<socklen_t>(c.optlen);
      if (getsockopt(fd, c.level, c.optname, reinterpret_cast<void*>(c.optval), &len) != 0)
        return cmd_done(req, -errno);
      return cmd_done(req, static_cast<int>(len));
    }
    case kSockSetsockopt:
      if (setsockopt(fd, c.level, c.optname, reinterpret_cast<const void*>(c.optval),
                     static_cast<socklen_t>(c.optlen)) != 0)
        return cmd_done(req, -errno);
      return cmd_done(req, 0);
    default:
      return cmd_done(req, -EOPNOTSUPP);
  }
}

}  // namespace iostack::uring
