// Networking (io_uring/net.c): SOCKET, BIND, LISTEN, ACCEPT, CONNECT, SEND,
// RECV, SENDMSG, RECVMSG, SEND_ZC, SENDMSG_ZC, SHUTDOWN. Each first tries
// without blocking (MSG_DONTWAIT, a poll before accept); -EAGAIN parks the
// request on the internal poll (FEAT_FAST_POLL) and the retry comes when the
// socket is ready, so no worker thread waits per connection. Multishot
// accept and receive post CQEs with F_MORE and re-arm the poll when drained.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "core/import_iovec.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/kbuf.hpp"
#include "uring/ops.hpp"
#include "uring/uapi.hpp"

namespace iostack::uring {

namespace {

// MULTISHOT_MAX_RETRY: receives in a row before a flooding socket goes to
// the back of the queue.
constexpr unsigned kMultishotMaxRetry = 32;

// What SrMsgData::sock_type caches about the socket.
enum : int { kSockUnknown = 0, kSockTcp = 1, kSockStream = 2, kSockOther = 3, kSockUnixStream = 4 };

int finish(IoKiocb* req, int ret, std::uint32_t cflags) {
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, cflags);
  return kIouOk;
}

// move_addr_to_kernel (net/socket.c)
int move_addr_to_kernel(std::uint64_t uaddr, int ulen, struct sockaddr_storage* kaddr) {
  if (ulen < 0 || static_cast<std::size_t>(ulen) > sizeof(*kaddr)) return -EINVAL;
  if (ulen == 0) return 0;
  if (core::copy_from_user(kaddr, reinterpret_cast<const void*>(uaddr), ulen)) return -EFAULT;
  return 0;
}

int sock_class(int fd) {
  int type = 0;
  int proto = 0;
  socklen_t l = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0) return kSockOther;
  l = sizeof(proto);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) != 0) proto = 0;
  if (type == SOCK_STREAM && proto == IPPROTO_TCP) return kSockTcp;
  int domain = 0;
  l = sizeof(domain);
  if (type == SOCK_STREAM && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) == 0 &&
      domain == AF_UNIX)
    return kSockUnixStream;
  if (type == SOCK_STREAM || type == SOCK_SEQPACKET) return kSockStream;
  return kSockOther;
}

// io_net_retry: a short MSG_WAITALL transfer on a stream goes on.
bool net_retry(SrMsgData& sr, int fd, int flags) {
  if (!(flags & MSG_WAITALL)) return false;
  if (sr.sock_type == kSockUnknown) sr.sock_type = sock_class(fd);
  return sr.sock_type == kSockTcp || sr.sock_type == kSockStream || sr.sock_type == kSockUnixStream;
}

// msg_inq after a receive, as TCP and AF_UNIX streams report it (with
// msg_get_inq): -1 where the protocol says nothing.
int recv_inq(SrMsgData& sr, int fd, int ret, std::size_t len) {
  if (sr.sock_type == kSockUnknown) sr.sock_type = sock_class(fd);
  if (sr.sock_type == kSockUnixStream) {
    // unix_stream_read_generic (6.18): the bytes still queued, after a
    // receive that did not fail; an out-of-band one (unix_stream_recv_urg)
    // leaves it unset (fuzz seed 546978).
    if (sr.msg_flags & MSG_OOB) return -1;
    int inq = 0;
    if (ret < 0 || ioctl(fd, FIONREAD, &inq) != 0) return -1;
    return inq;
  }
  if (sr.sock_type != kSockTcp) return -1;
  // tcp_inq_hint: the bytes queued, or 1 after the peer's FIN, so the
  // reader goes on to see the end of the stream.
  if (ret == 0) return 1;
  if (ret < 0) return 0;
  struct pollfd pfd {
    fd, POLLIN | POLLRDHUP, 0
  };
  // A receive that did not fill its buffer mostly left nothing: one poll
  // says so without asking for the count.
  if (static_cast<std::size_t>(ret) < len && ::poll(&pfd, 1, 0) == 0) return 0;
  int inq = 0;
  if (ioctl(fd, FIONREAD, &inq) != 0) return -1;
  if (inq == 0 && (pfd.revents || ::poll(&pfd, 1, 0) > 0) && (pfd.revents & POLLRDHUP)) inq = 1;
  return inq;
}

// sr.flags bits of the kernel's own, above the program's IORING_RECVSEND_*.
constexpr unsigned kRecvRetry = 1u << 15;       // IORING_RECV_RETRY
constexpr unsigned kRecvPartialMap = 1u << 14;  // IORING_RECV_PARTIAL_MAP
constexpr unsigned kRecvMshotCap = 1u << 13;    // IORING_RECV_MSHOT_CAP
constexpr unsigned kRecvMshotLim = 1u << 12;    // IORING_RECV_MSHOT_LIM
constexpr unsigned kRecvMshotDone = 1u << 11;   // IORING_RECV_MSHOT_DONE
constexpr unsigned kRecvNoRetry = kRecvPartialMap | kRecvMshotCap | kRecvMshotDone;

// IORING_RECV_MSHOT_LIM: counts `ret` against the multishot's total; true
// when that is reached (the multishot ends with this CQE).
bool mshot_limit_reached(SrMsgData& sr, int ret) {
  if (ret <= 0 || !(sr.flags & kRecvMshotLim)) return false;
  sr.mshot_total_len -= std::min(static_cast<std::uint32_t>(ret), sr.mshot_total_len);
  if (sr.mshot_total_len) return false;
  sr.flags |= kRecvMshotDone;
  return true;
}
constexpr std::uint32_t kCqeFMask = IORING_CQE_F_SOCK_NONEMPTY | IORING_CQE_F_MORE;

// The iovecs a bundle maps for one transfer: per thread, so a bundle
// allocates nothing unless a send must wait holding its buffers.
thread_local struct iovec t_bundle_iovs[kBundleMaxIovs];

// io_bundle_nbufs: how many of the `nr` mapped buffers (`mapped` bytes)
// a transfer of `ret` bytes used.
int bundle_nbufs(const struct iovec* iov, int nr, int ret, std::size_t mapped) {
  if (ret <= 0) return 0;
  if (nr == 1) return 1;
  if (static_cast<std::size_t>(ret) == mapped) return nr;
  int n = 0;
  do {
    const int this_len =
        iov[n].iov_len < static_cast<std::size_t>(ret) ? static_cast<int>(iov[n].iov_len) : ret;
    ++n;
    ret -= this_len;
  } while (ret && n < nr);
  return n;
}

// POLL_FIRST: the first issue only arms the poll. io-wq polls only for
// IOSQE_ASYNC requests: any other it runs (a link behind a request that
// went there) ends with that -EAGAIN (fuzz seed 4054).
// All but io_recv look for the socket first: a file that is not one fails
// at once (-ENOTSOCK, fuzz seed 81716).
// Only an armed poll ends the wait (REQ_F_POLLED): a RECV of a file without
// one (a regular file) answers -EAGAIN at every issue, final on io-wq
// (fuzz seed 152114).
bool poll_first_pending(IoKiocb* req, unsigned flags, unsigned issue_flags) {
  if (!(flags & uapi::kRecvsendPollFirst) || (req->flags & kReqPollFirstDone)) return false;
  // io_assign_file comes before the op: a descriptor that is not open is
  // -EBADF at once (fuzz seeds 174444, 169258).
  struct stat st;
  if (fstat(req->os_fd, &st) != 0) return false;
  const bool sock = S_ISSOCK(st.st_mode);
  if (req->opcode != IORING_OP_RECV && !sock) return false;
  if (!sock && !file_can_poll(req)) {
    if (issue_flags & kIssueIowq) req->flags |= kReqNowait;
    return true;
  }
  req->flags |= kReqPollFirstDone;
  if ((issue_flags & kIssueIowq) && !(req->flags & kReqForceAsync)) req->flags |= kReqNowait;
  return true;
}

void free_iov(SrMsgData& sr) {
  std::free(sr.iov_alloc);
  sr.iov_alloc = nullptr;
}

// io_msg_copy_hdr: the user msghdr and its iovec, copied at prep. With
// `reg` (SENDMSG_ZC from registered buffers, io_prep_reg_iovec) the array
// is only copied; its segments are checked against the buffer at issue.
int copy_msghdr(IoKiocb* req, bool send, bool reg = false) {
  SrMsgData& sr = req->sr;
  struct msghdr umsg;
  if (core::copy_from_user(&umsg, reinterpret_cast<const void*>(sr.buf), sizeof(umsg)))
    return -EFAULT;
  struct msghdr& m = sr.msg;
  std::memset(&m, 0, sizeof(m));
  sr.uname = reinterpret_cast<std::uintptr_t>(umsg.msg_name);
  sr.ucontrol = reinterpret_cast<std::uintptr_t>(umsg.msg_control);
  sr.controllen = umsg.msg_controllen;
  // __copy_msghdr
  if (static_cast<int>(umsg.msg_namelen) < 0) return -EINVAL;
  int namelen = static_cast<int>(umsg.msg_namelen);
  if (static_cast<std::size_t>(namelen) > sizeof(sr.addr)) namelen = sizeof(sr.addr);
  // A multishot RECVMSG reserves the user's msg_namelen in each buffer,
  // msg_name or not (io_recvmsg_mshot_prep).
  sr.mshot_namelen = static_cast<int>(umsg.msg_namelen);
  if (!umsg.msg_name) namelen = 0;
  sr.namelen = namelen;
  if (send && umsg.msg_name && namelen) {
    if (int ret = move_addr_to_kernel(sr.uname, namelen, &sr.addr)) return ret;
  }
  if (umsg.msg_name) {
    m.msg_name = &sr.addr;
    m.msg_namelen = static_cast<socklen_t>(send ? namelen : sizeof(sr.addr));
  }
  m.msg_control = umsg.msg_control;
  m.msg_controllen = umsg.msg_controllen;
  if (umsg.msg_iovlen > core::kUioMaxIov) return -EMSGSIZE;
  if (req->flags & kReqBufferSelect) {
    if (umsg.msg_iovlen == 0) {
      sr.fast_iov = {nullptr, 0};
      sr.len = 0;
    } else if (umsg.msg_iovlen > 1) {
      return -EINVAL;
    } else {
      if (core::copy_from_user(&sr.fast_iov, umsg.msg_iov, sizeof(sr.fast_iov))) return -EFAULT;
      sr.len = static_cast<std::uint32_t>(sr.fast_iov.iov_len);
    }
    m.msg_iov = &sr.fast_iov;
    m.msg_iovlen = 1;
    return 0;
  }
  const auto nr = static_cast<unsigned>(umsg.msg_iovlen);
  struct iovec* iov = &sr.fast_iov;
  if (nr > 1) {
    sr.iov_alloc = static_cast<struct iovec*>(std::malloc(sizeof(struct iovec) * nr));
    if (!sr.iov_alloc) return -ENOMEM;
    iov = sr.iov_alloc;
  }
  if (nr && reg) {
    if (const int err = core::iovec_from_user(umsg.msg_iov, nr, iov)) return err;
  } else if (nr) {
    const long total = core::import_iovec(umsg.msg_iov, nr, iov);
    if (total < 0) return static_cast<int>(total);
  }
  m.msg_iov = iov;
  m.msg_iovlen = nr;
  return 0;
}

// Drops `n` sent or received bytes from the front of the header's iovec
// (a MSG_WAITALL retry).
void advance_msg(struct msghdr* m, std::size_t n) {
  while (n && m->msg_iovlen) {
    if (n >= m->msg_iov[0].iov_len) {
      n -= m->msg_iov[0].iov_len;
      m->msg_iov++;
      m->msg_iovlen--;
    } else {
      m->msg_iov[0].iov_base = static_cast<char*>(m->msg_iov[0].iov_base) + n;
      m->msg_iov[0].iov_len -= n;
      n = 0;
    }
  }
}

std::size_t msg_bytes(const struct msghdr* m) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m->msg_iovlen; ++i) n += m->msg_iov[i].iov_len;
  return n;
}

}  // namespace

namespace {

// io_alloc_notif and the notification's completion: while it is out, the
// ring counts it as a live request, so a drain waits for it (fuzz seed 1535
// of the extended generator: a drained SEND_ZC waits for its own
// notification, as in the kernel, and so does everything after it). It is
// a request from the ring's cache, so its CQE on a CQE32 ring carries the
// extra words that request's last user left unposted (a skipped NOP's:
// fuzz seed 514412), and clears them.
void notif_alloc(IoKiocb* req) {
  req->sr.zc_notif = true;
  IoRingCtx* ctx = req->ctx;
  core::lockdep_assert_held(ctx->uring_lock);  // prep runs in the submission
  req->sr.notif = req_alloc(ctx);
  if (req->sr.notif) {
    req->sr.notif->ctx = ctx;
    req->sr.notif->opcode = IORING_OP_NOP;  // as io_alloc_notif's
  } else
    ctx->nr_notifs.fetch_add(1, std::memory_order_acq_rel);
}

// A notification without a request of its own (none was left in the cache): posted at once.
void notif_post_now(IoRingCtx* ctx, std::uint64_t user_data, std::int32_t res) {
  post_aux_cqe(ctx, user_data, res, IORING_CQE_F_NOTIF);
  ctx->nr_notifs.fetch_sub(1, std::memory_order_acq_rel);
}

// io_notif_tw_complete: the notification's own request completes by task
// work, batched with that task work's other completions (io_req_task_complete):
// a TIMEOUT issued later in the same run counts from before it (fuzz seed
// 790783).
void notif_complete_tw(IoKiocb* notif) {
  req_set_res(notif, notif->res, IORING_CQE_F_NOTIF);
  req_complete_defer(notif);
}

// io_notif_flush. The kernel's notification is a request of its own whose
// completion is task work, queued behind the task work before it: on a
// DEFER_TASKRUN ring its CQE waits for a later run of the ring's work than
// the result's (fuzz seed 100152: the wait that posted a cancelled
// SENDMSG_ZC's result returns without the notification); on any ring a
// TIMEOUT linked behind an earlier request of the batch is armed first and
// counts it (fuzz seed 743287). Without its own request (none was left in
// the cache) it is posted at once.
void notif_post(IoKiocb* req, std::int32_t res) {
  req->sr.zc_notif = false;
  IoKiocb* notif = req->sr.notif;
  if (!notif) {
    notif_post_now(req->ctx, req->user_data, res);
    return;
  }
  notif->user_data = req->user_data;
  notif->res = res;
  tw_add_after_wakeups(notif, notif_complete_tw);
}

}  // namespace

// io_sendrecv_fail. A MSG_WAITALL transfer cancelled while it waits for
// the rest answers what it moved (fuzz seeds 169792, 170384, 170391).
// Only a request whose prep allocated its notification (REQ_F_NEED_CLEANUP)
// has one to follow; one refused before its prep (an unregistered
// personality, an IOPOLL ring) holds whatever sr's bytes were (fuzz seeds
// 83137, 83209), so done_io is read only once a transfer set it.
void sendrecv_fail(IoKiocb* req) {
  if ((req->flags & kReqPartialIo) && req->sr.done_io) req->res = req->sr.done_io;
  const bool zc = req->opcode == IORING_OP_SEND_ZC || req->opcode == IORING_OP_SENDMSG_ZC;
  if (zc && (req->flags & kReqCleanup) && req->sr.zc_notif) req->cflags |= IORING_CQE_F_MORE;
}

void net_cleanup(IoKiocb* req) {
  if ((req->opcode == IORING_OP_SEND_ZC || req->opcode == IORING_OP_SENDMSG_ZC) &&
      req->sr.zc_notif) {
    // io_send_zc_cleanup flushes the notification of a request that failed
    // before its issue posted it: after the result.
    // With REPORT_USAGE it says the data was copied: none went zero-copy
    // (io_notif_tw_complete: !zc_used).
    notif_post(req,
               req->sr.zc_report ? static_cast<std::int32_t>(IORING_NOTIF_USAGE_ZC_COPIED) : 0);
  }
  switch (req->opcode) {
    case IORING_OP_SENDMSG:
    case IORING_OP_RECVMSG:
    case IORING_OP_SENDMSG_ZC:
    case IORING_OP_SEND:  // a waiting bundle's buffers
      free_iov(req->sr);
      break;
    default:
      break;
  }
}

// ---- SHUTDOWN
int shutdown_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->off || sqe->addr || sqe->rw_flags || sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  req->socket.how = static_cast<int>(sqe->len);
  req->flags |= kReqForceAsync;
  return 0;
}

// io_shutdown sets the socket's answer without failing the request: a bad
// `how` does not break the link (fuzz seed 38748). Not a socket does.
int shutdown_issue(IoKiocb* req, unsigned) {
  const int r = shutdown(req->os_fd, req->socket.how) < 0 ? -errno : 0;
  if (r == -ENOTSOCK || r == -EBADF) return finish(req, r, 0);
  req_set_res(req, r, 0);
  return kIouOk;
}

// ---- SOCKET
int socket_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->addr || sqe->rw_flags || sqe->buf_index) return -EINVAL;
  SocketData& s = req->socket;
  s.domain = sqe->fd;
  s.type = static_cast<int>(sqe->off);
  s.protocol = static_cast<int>(sqe->len);
  s.file_slot = sqe->file_index;
  s.flags = s.type & ~0xf;  // ~SOCK_TYPE_MASK
  if (s.file_slot && (s.flags & SOCK_CLOEXEC)) return -EINVAL;
  if (s.flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  return 0;
}

int socket_issue(IoKiocb* req, unsigned issue_flags) {
  SocketData& s = req->socket;
  const int fd = socket(s.domain, s.type, s.protocol);
  if (fd < 0) return finish(req, -errno, 0);
  if (!s.file_slot) return finish(req, fd, 0);
  // io_socket fails its link only for the socket: a slot it cannot install
  // into (no table: -ENXIO) does not break the chain (fuzz seed 728140).
  req_set_res(req, fixed_fd_install(req->ctx, issue_flags, fd, s.file_slot), 0);
  return kIouOk;
}

// ---- BIND / LISTEN
int bind_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->len || sqe->buf_index || sqe->rw_flags || sqe->splice_fd_in) return -EINVAL;
  req->connect.addr_len = static_cast<int>(sqe->addr2);
  if (int ret = move_addr_to_kernel(sqe->addr, req->connect.addr_len, &req->connect.addr))
    return ret;
  // Binding a Unix socket to a filesystem name creates an inode, which may
  // block: 6.18 sends such a BIND to io-wq at prep (its submit tracepoint
  // shows REQ_F_FORCE_ASYNC whatever the socket; an abstract name or an
  // autobind runs inline).
  const auto* sun = reinterpret_cast<const struct sockaddr_un*>(&req->connect.addr);
  if (sun->sun_family == AF_UNIX &&
      req->connect.addr_len > static_cast<int>(offsetof(struct sockaddr_un, sun_path)) &&
      sun->sun_path[0] != '\0')
    req->flags |= kReqForceAsync;
  return 0;
}

int bind_issue(IoKiocb* req, unsigned) {
  const int r = bind(req->os_fd, reinterpret_cast<struct sockaddr*>(&req->connect.addr),
                     static_cast<socklen_t>(req->connect.addr_len));
  return finish(req, r < 0 ? -errno : 0, 0);
}

int listen_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->addr || sqe->buf_index || sqe->rw_flags || sqe->splice_fd_in || sqe->addr2)
    return -EINVAL;
  req->socket.backlog = static_cast<int>(sqe->len);
  return 0;
}

int listen_issue(IoKiocb* req, unsigned) {
  const int r = listen(req->os_fd, req->socket.backlog);
  return finish(req, r < 0 ? -errno : 0, 0);
}

// ---- RECV_ZC (io_recvzc_prep): zero-copy receive into the area of a
// registered NIC queue (IORING_REGISTER_ZCRX_IFQ), which no ring here can
// have: the lookup of sqe->zcrx_ifq_idx fails as on a kernel with none.
int recv_zc_prep(IoKiocb*, const io_uring_sqe* sqe) {
  if (sqe->addr2 || sqe->addr || sqe->addr3) return -EINVAL;
  return -EINVAL;  // no interface queue at any index
}

int recv_zc_issue(IoKiocb* req, unsigned) { return finish(req, -EINVAL, 0); }

// ---- CONNECT
int connect_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->len || sqe->buf_index || sqe->rw_flags || sqe->splice_fd_in) return -EINVAL;
  ConnectData& c = req->connect;
  c.addr_len = static_cast<int>(sqe->addr2);
  c.in_progress = false;
  c.seen_econnaborted = false;
  return move_addr_to_kernel(sqe->addr, c.addr_len, &c.addr);
}

namespace {

// __sys_connect_file with O_NONBLOCK in file_flags: the kernel connects a
// blocking socket without waiting when it issues inline, then polls it. The
// flag lives in the file, so it is set for the call only; the socket is not
// connected yet, so nothing else of the program's is waiting on it.
int connect_nowait(int fd, const struct sockaddr* addr, socklen_t len) {
  const int fl = fcntl(fd, F_GETFL);
  const bool toggle = fl >= 0 && !(fl & O_NONBLOCK);
  if (toggle && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return -errno;
  int ret = connect(fd, addr, len);
  ret = ret < 0 ? -errno : 0;
  if (toggle) fcntl(fd, F_SETFL, fl);
  return ret;
}

}  // namespace

int connect_issue(IoKiocb* req, unsigned issue_flags) {
  ConnectData& c = req->connect;
  const bool nonblock = issue_flags & kIssueNonblock;
  const auto* addr = reinterpret_cast<struct sockaddr*>(&c.addr);
  const auto len = static_cast<socklen_t>(c.addr_len);
  int ret;
  if (nonblock) {
    ret = connect_nowait(req->os_fd, addr, len);
  } else {
    ret = connect(req->os_fd, addr, len);
    ret = ret < 0 ? -errno : 0;
  }
  if ((ret == -EAGAIN || ret == -EINPROGRESS || ret == -ECONNABORTED) && nonblock) {
    if (ret == -EINPROGRESS) {
      c.in_progress = true;
    } else if (ret == -ECONNABORTED) {
      if (c.seen_econnaborted) return finish(req, ret, 0);
      c.seen_econnaborted = true;
    }
    return -EAGAIN;
  }
  if (c.in_progress && (ret == -EBADFD || ret == -EISCONN || ret == -EALREADY)) {
    int err = 0;
    socklen_t l = sizeof(err);
    getsockopt(req->os_fd, SOL_SOCKET, SO_ERROR, &err, &l);
    ret = -err;
  }
  return finish(req, ret, 0);
}

// ---- ACCEPT
int accept_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->len || sqe->buf_index) return -EINVAL;
  AcceptData& a = req->accept;
  a.addr = sqe->addr;
  a.addr_len = sqe->addr2;
  a.flags = static_cast<int>(sqe->accept_flags);
  a.iou_flags = sqe->ioprio;
  a.family = -1;
  if (a.iou_flags & ~(uapi::kAcceptMultishot | uapi::kAcceptDontwait | uapi::kAcceptPollFirst))
    return -EINVAL;
  a.file_slot = sqe->file_index;
  if (a.file_slot) {
    if (a.flags & SOCK_CLOEXEC) return -EINVAL;
    if ((a.iou_flags & uapi::kAcceptMultishot) && a.file_slot != IORING_FILE_INDEX_ALLOC)
      return -EINVAL;
  }
  if (a.flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  if (a.iou_flags & uapi::kAcceptMultishot) req->flags |= kReqApollMultishot;
  if (a.iou_flags & uapi::kAcceptDontwait) req->flags |= kReqNowait;
  return 0;
}

namespace {

bool listening(int fd) {
  int on = 1;
  socklen_t l = sizeof(on);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &l) == 0) return on;
  // Not a socket (or not open): accept fails at once, -ENOTSOCK (fuzz seed
  // 8542: an ACCEPT of a pipe waited).
  return errno != ENOTSOCK && errno != EBADF;
}

}  // namespace

int accept_issue(IoKiocb* req, unsigned issue_flags) {
  AcceptData& a = req->accept;
  const bool nonblock = issue_flags & kIssueNonblock;
  if ((a.iou_flags & uapi::kAcceptPollFirst) && !(req->flags & kReqPollFirstDone)) {
    req->flags |= kReqPollFirstDone;
    return -EAGAIN;
  }
  if (a.family < 0) {
    socklen_t l = sizeof(a.family);
    if (getsockopt(req->os_fd, SOL_SOCKET, SO_DOMAIN, &a.family, &l) != 0) a.family = 0;
  }
  const bool inet = a.family == AF_INET || a.family == AF_INET6;
  bool listener_nonblock = false;
  if (nonblock) {
    const int fl = fcntl(req->os_fd, F_GETFL);
    listener_nonblock = fl >= 0 && (fl & O_NONBLOCK);
  }
  for (;;) {
    int ret;
    if (nonblock && !listener_nonblock) {
      // Only an accept that cannot block may run here: ask first.
      struct pollfd pfd {
        req->os_fd, POLLIN, 0
      };
      const int p = ::poll(&pfd, 1, 0);
      // A socket that does not listen has nothing to wait for: its accept
      // fails at once (-EINVAL from inet_accept/unix_accept).
      if (p == 0 && listening(req->os_fd)) {
        ret = -EAGAIN;
        goto again;
      }
    }
    ret = accept4(req->os_fd, reinterpret_cast<struct sockaddr*>(a.addr),
                  reinterpret_cast<socklen_t*>(a.addr_len), a.flags);
    ret = ret < 0 ? -errno : ret;
  again:
    if (ret == -EAGAIN && nonblock && !(a.iou_flags & uapi::kAcceptDontwait)) return -EAGAIN;
    if (ret >= 0 && a.file_slot) ret = fixed_fd_install(req->ctx, issue_flags, ret, a.file_slot);
    std::uint32_t cflags = 0;
    int is_empty = -1;
    if (ret >= 0 && inet) {
      // inet_csk_accept tells whether more connections wait.
      struct pollfd pfd {
        req->os_fd, POLLIN, 0
      };
      is_empty = ::poll(&pfd, 1, 0) > 0 ? 0 : 1;
      if (!is_empty) cflags |= IORING_CQE_F_SOCK_NONEMPTY;
    }
    // With the CQ ring full the multishot accept ends with this result.
    if (ret >= 0 && (req->flags & kReqApollMultishot) &&
        post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags)) {
      if ((cflags & IORING_CQE_F_SOCK_NONEMPTY) || is_empty == -1) continue;
      return -EAGAIN;
    }
    return finish(req, ret, cflags);
  }
}

// ---- SEND / SENDMSG / SEND_ZC / SENDMSG_ZC
namespace {

int sr_prep_common(IoKiocb* req, const io_uring_sqe* sqe, bool send) {
  SrMsgData& sr = req->sr;
  sr.done_io = 0;
  sr.nr_multishot_loops = 0;
  sr.sock_type = kSockUnknown;
  sr.iov_alloc = nullptr;
  sr.buf = sqe->addr;
  sr.len = sqe->len;
  sr.flags = sqe->ioprio;
  sr.msg_flags = static_cast<int>(sqe->msg_flags);
  sr.buf_group = req->buf_index;
  sr.zc_report = false;
  sr.inq = -1;
  sr.vec_nr = 0;
  sr.nr_saved = 0;
  sr.bundle_cflags = 0;
  sr.mshot_len = 0;
  sr.mshot_total_len = 0;
  std::memset(&sr.msg, 0, sizeof(sr.msg));
  if (send) sr.msg_flags |= MSG_NOSIGNAL;
  if (sr.msg_flags & MSG_DONTWAIT) req->flags |= kReqNowait;
  return 0;
}

// io_send_setup: SEND's optional destination (addr2, addr_len) and buffer.
int send_setup(IoKiocb* req, const io_uring_sqe* sqe) {
  SrMsgData& sr = req->sr;
  if (sqe->__pad3[0]) return -EINVAL;
  if (sqe->addr2) {
    if (int ret = move_addr_to_kernel(sqe->addr2, sqe->addr_len, &sr.addr)) return ret;
    sr.msg.msg_name = &sr.addr;
    sr.msg.msg_namelen = sqe->addr_len;
  }
  if (!(req->flags & kReqBufferSelect)) {
    const long len = core::import_ubuf(reinterpret_cast<void*>(sr.buf), sr.len, &sr.fast_iov);
    if (len < 0) return static_cast<int>(len);
    sr.len = static_cast<std::uint32_t>(len);
  }
  return 0;
}

}  // namespace

int sendmsg_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  sr_prep_common(req, sqe, true);
  SrMsgData& sr = req->sr;
  if (req->opcode != IORING_OP_SEND && (sqe->addr2 || sqe->file_index)) return -EINVAL;
  if (sr.flags & ~(uapi::kRecvsendPollFirst | uapi::kRecvsendBundle)) return -EINVAL;
  if (sr.flags & uapi::kRecvsendBundle) {
    // A bundle sends from several ring buffers at once, all of them.
    // Without IOSQE_BUFFER_SELECT it sends the program's buffer, posts
    // that with F_MORE and ends with a send of nothing (do_send).
    if (req->opcode == IORING_OP_SENDMSG) return -EINVAL;
    sr.msg_flags |= MSG_WAITALL;
  }
  if (req->opcode == IORING_OP_SEND) return send_setup(req, sqe);
  const int ret = copy_msghdr(req, true);
  if (sr.iov_alloc) req->flags |= kReqCleanup;
  return ret;
}

int send_zc_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  sr_prep_common(req, sqe, true);
  SrMsgData& sr = req->sr;
  sr.zc_notif = false;
  if (sqe->__pad2[0] || sqe->addr3) return -EINVAL;
  if (req->flags & kReqCqeSkip) return -EINVAL;
  // io_alloc_notif: from here on the request has a notification, whose CQE
  // follows the result even when prep fails (net_cleanup posts it).
  notif_alloc(req);
  req->flags |= kReqCleanup;
  constexpr unsigned kCommon = uapi::kRecvsendPollFirst | uapi::kRecvsendFixedBuf;
  if (sr.flags & ~kCommon) {
    if (sr.flags & ~(kCommon | uapi::kSendZcReportUsage)) return -EINVAL;
    sr.zc_report = sr.flags & uapi::kSendZcReportUsage;
  }
  if (req->opcode != IORING_OP_SEND_ZC && (sqe->addr2 || sqe->file_index)) return -EINVAL;
  sr.msg_flags |= MSG_ZEROCOPY;
  req->buf_index = sqe->buf_index;
  if (req->opcode == IORING_OP_SEND_ZC) {
    if (sqe->__pad3[0]) return -EINVAL;
    if (sqe->addr2) {
      if (int ret = move_addr_to_kernel(sqe->addr2, sqe->addr_len, &sr.addr)) return ret;
      sr.msg.msg_name = &sr.addr;
      sr.msg.msg_namelen = sqe->addr_len;
    }
    return 0;
  }
  const int ret = copy_msghdr(req, true, sr.flags & uapi::kRecvsendFixedBuf);
  if (sr.iov_alloc) req->flags |= kReqCleanup;
  return ret;
}

namespace {

// A bundle send that must wait keeps the buffers it took (they are
// committed): the iovecs left move from the per-thread array to the request.
bool save_bundle_iovs(SrMsgData& sr) {
  if (sr.nr_saved || sr.msg.msg_iovlen <= 1) return true;
  const std::size_t n = sr.msg.msg_iovlen;
  auto* v = static_cast<struct iovec*>(std::malloc(n * sizeof(struct iovec)));
  if (!v) return false;
  std::memcpy(v, sr.msg.msg_iov, n * sizeof(struct iovec));
  sr.iov_alloc = v;
  sr.msg.msg_iov = v;
  sr.nr_saved = static_cast<int>(n);
  return true;
}

// What a send or receive that found no provided buffer answers: what the
// kernel found first, a descriptor that names nothing (io_assign_file, seen
// on io-wq: fuzz seed 290 of the extended generator) or no socket
// (sock_from_file, seed 1518), else -ENOBUFS. Asked only on the way out.
int no_buffer_error(IoKiocb* req) {
  int type;
  socklen_t l = sizeof(type);
  if (getsockopt(req->os_fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0) return -ENOBUFS;
  return errno == EBADF ? -EBADF : -ENOTSOCK;
}

// Maps the send's buffer(s): one selected buffer, a bundle's ring buffers
// (io_send_select_buffer), or the program's buffer. 0 or -errno.
int send_map(IoKiocb* req, unsigned issue_flags) {
  SrMsgData& sr = req->sr;
  const bool bundle = sr.flags & uapi::kRecvsendBundle;
  if (bundle && sr.nr_saved) return 0;  // sr.msg still holds what is left
  int nr = 1;
  if (req->flags & kReqBufferSelect && !buffer_held(req)) {
    if (bundle) {
      BufSelArg arg;
      arg.iovs = t_bundle_iovs;
      arg.nr_iovs = sr.vec_nr ? sr.vec_nr : 1;
      arg.expand = true;
      arg.max_len = sr.len ? sr.len : INT_MAX;
      nr = buffers_select(req, sr.buf_group, &arg, true, issue_flags);
      if (nr < 0) {
        // io_send asks for the socket first (fuzz seed 959960).
        const int err = no_buffer_error(req);
        return err == -ENOBUFS ? nr : err;
      }
      if (arg.nr_iovs > (sr.vec_nr ? sr.vec_nr : 1)) sr.vec_nr = nr;  // the array grown
      sr.len = static_cast<std::uint32_t>(arg.out_len);
      sr.buf = reinterpret_cast<std::uint64_t>(t_bundle_iovs[0].iov_base);
    } else {
      std::size_t len = sr.len;
      const std::uint64_t b = buffer_select(req, &len, issue_flags);
      if (!b) {
        // io_send_select_buffer takes even one buffer through
        // io_buffers_select: a group that does not exist is -ENOENT (fuzz
        // seed 53491), an empty one -ENOBUFS.
        const int err = no_buffer_error(req);
        if (err == -ENOBUFS && !buffer_group_exists(req->ctx, req->buf_index, issue_flags))
          return -ENOENT;
        return err;
      }
      sr.buf = b;
      sr.len = static_cast<std::uint32_t>(len);
    }
  }
  if (nr > 1) {
    sr.msg.msg_iov = t_bundle_iovs;
    sr.msg.msg_iovlen = static_cast<std::size_t>(nr);
  } else {
    sr.fast_iov.iov_base = reinterpret_cast<void*>(sr.buf);
    sr.fast_iov.iov_len = sr.len;
    sr.msg.msg_iov = &sr.fast_iov;
    sr.msg.msg_iovlen = 1;
  }
  sr.msg.msg_control = nullptr;
  sr.msg.msg_controllen = 0;
  return 0;
}

// A zero-copy send whose buffer import failed (io_send_zc_import): the
// descriptor was looked up before (io_assign_file), so one that names
// nothing is -EBADF whatever the buffer (fuzz seeds 535913, 562658).
static int zc_import_error(IoKiocb* req, int err) { return file_refused(req) ? -EBADF : err; }

// The send itself; the result as io_send/io_sendmsg/io_send_zc compute it,
// or -EAGAIN to wait for POLLOUT.
int do_send(IoKiocb* req, unsigned issue_flags, bool zc) {
  SrMsgData& sr = req->sr;
  if (poll_first_pending(req, sr.flags, issue_flags)) return -EAGAIN;
  int flags = sr.msg_flags & ~MSG_ZEROCOPY;
  const bool nonblock = issue_flags & kIssueNonblock;
  if (nonblock) flags |= MSG_DONTWAIT;
  const bool vectored = req->opcode == IORING_OP_SENDMSG || req->opcode == IORING_OP_SENDMSG_ZC;
  const bool bundle = (sr.flags & uapi::kRecvsendBundle) && (req->flags & kReqBufferSelect);
  for (;;) {
    if (!vectored) {
      if (zc && (sr.flags & uapi::kRecvsendFixedBuf) && !sr.done_io) {
        const int ret = fixed_buf_check(req->ctx, req->buf_index, sr.buf, sr.len,
                                        issue_flags & kIssueLocked, &req->buf_node);
        if (ret) return finish(req, zc_import_error(req, ret), 0);
      } else if (zc && !sr.done_io) {
        if (!core::access_ok(reinterpret_cast<void*>(sr.buf), sr.len))
          return finish(req, zc_import_error(req, -EFAULT), 0);
      }
      if (const int ret = send_map(req, issue_flags)) return finish(req, ret, 0);
    }
    // A bundle needs all of what it mapped, as MSG_WAITALL does.
    const std::size_t want = msg_bytes(&sr.msg);
    const int min_ret = (flags & MSG_WAITALL) ? static_cast<int>(want) : 0;
    ssize_t n;
    if (const int err = scm_rights_check(sr.msg.msg_control, sr.msg.msg_controllen)) {
      errno = -err;
      n = -1;
    } else {
      n = sendmsg(req->os_fd, &sr.msg, flags);
    }
    int ret = n < 0 ? -errno : static_cast<int>(n);
    if (ret == -ENOTSOCK && (req->flags & kReqBufferSelect)) {
      // sock_from_file comes before io_send_select_buffer: the buffer stays
      // in its group and the CQE names none (fuzz seed 945147).
      kbuf_recycle(req, issue_flags);
      return finish(req, ret, 0);
    }
    if (ret < min_ret) {
      if (ret == -EAGAIN && nonblock) {
        if (bundle && !save_bundle_iovs(sr)) return finish(req, -ENOMEM, 0);
        return -EAGAIN;
      }
      if (ret > 0 && net_retry(sr, req->os_fd, flags)) {
        if (!vectored && sr.msg.msg_iov == &sr.fast_iov) {
          sr.buf += static_cast<std::uint64_t>(ret);
          sr.len -= static_cast<std::uint32_t>(ret);
        } else {
          advance_msg(&sr.msg, static_cast<std::size_t>(ret));
          sr.msg.msg_control = nullptr;
          sr.msg.msg_controllen = 0;
          if (bundle && !save_bundle_iovs(sr)) return finish(req, -ENOMEM, 0);
        }
        sr.done_io += ret;
        req->flags |= kReqPartialIo;
        return -EAGAIN;
      }
      req_set_fail(req);
    }
    if (ret >= 0)
      ret += sr.done_io;
    else if (sr.done_io)
      ret = sr.done_io;
    if (!bundle) {
      std::uint32_t cflags = kbuf_put(req, ret, issue_flags);
      if (zc) cflags |= IORING_CQE_F_MORE;
      // A bundle without IOSQE_BUFFER_SELECT is multishot all the same
      // (io_send_finish): what it sent goes out with F_MORE, and the next
      // round sends what is left of the program's buffer, nothing: 0 ends it.
      if ((sr.flags & uapi::kRecvsendBundle) && !zc && !vectored && ret > 0 &&
          post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags)) {
        req->flags &= ~kReqPartialIo;
        sr.done_io = 0;
        sr.len = 0;
        continue;
      }
      req_set_res(req, ret, cflags);
      return kIouOk;
    }
    // io_send_finish: while the ring has more, each batch posts a CQE with
    // F_MORE and the next batch goes out.
    const std::uint32_t cflags = kbuf_put_bufs(req, ret, 0, issue_flags);
    free_iov(sr);
    sr.nr_saved = 0;
    if (ret > 0 && !(req->flags & kReqBlEmpty) &&
        post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags)) {
      req->flags &= ~(kReqBlEmpty | kReqPartialIo);
      sr.done_io = 0;
      sr.len = 0;
      continue;
    }
    req_set_res(req, ret, cflags);
    return kIouOk;
  }
}

}  // namespace

int send_issue(IoKiocb* req, unsigned issue_flags) {
  // A bundle send is multishot (REQ_F_MULTISHOT without a poll of its own):
  // 6.18 ends one that io-wq issues (IOSQE_ASYNC, or linked behind work
  // that ran there) with -ECANCELED before it sends anything (fuzz seed
  // 65209), once io_issue_sqe's fget has found the descriptor open (seed
  // 248254: -EBADF) and a file that cannot poll has failed io_wq_submit_work's
  // multishot check (-EBADFD, seed 651515: a regular file).
  if ((req->sr.flags & uapi::kRecvsendBundle) && (issue_flags & kIssueIowq)) {
    const int err = mshot_file_check(req, issue_flags);
    return finish(req, err ? err : -ECANCELED, 0);
  }
  const int ret = do_send(req, issue_flags, false);
  if (ret == -EAGAIN) kbuf_recycle(req, issue_flags);
  return ret;
}

namespace {

// io_send_zc's first checks: a socket, and one whose protocol set
// SOCK_SUPPORT_ZC (tcp_init_sock, udp_init_sock, vsock); AF_UNIX and the
// rest refuse. 0 or -errno.
int zc_sock_check(int fd) {
  int domain = 0, proto = 0;
  socklen_t l = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0)
    return errno == ENOTSOCK ? -ENOTSOCK : 0;
  if (domain == AF_VSOCK) return 0;
  l = sizeof(proto);
  if ((domain == AF_INET || domain == AF_INET6) &&
      getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) == 0 &&
      (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE))
    return 0;
  return -EOPNOTSUPP;
}

// io_send_zc_import for SENDMSG_ZC with IORING_RECVSEND_FIXED_BUF (6.15's
// vectored registered buffers), once: every segment must lie in the
// registered buffer, and this comes before the socket is looked at (fuzz
// seed 42278: -EFAULT on an AF_UNIX socket).
int import_reg_vec(IoKiocb* req, unsigned issue_flags) {
  SrMsgData& sr = req->sr;
  if (req->opcode != IORING_OP_SENDMSG_ZC || !(sr.flags & uapi::kRecvsendFixedBuf) || req->buf_node)
    return 0;
  std::int64_t total = 0;
  return fixed_buf_check_vec(req->ctx, req->buf_index, sr.msg.msg_iov,
                             static_cast<int>(sr.msg.msg_iovlen), &total,
                             issue_flags & kIssueLocked, &req->buf_node);
}

}  // namespace

int send_zc_issue(IoKiocb* req, unsigned issue_flags) {
  int bad = import_reg_vec(req, issue_flags);
  if (bad) bad = zc_import_error(req, bad);
  if (!bad && !req->sr.done_io) bad = zc_sock_check(req->os_fd);
  const int ret = bad ? finish(req, bad, 0) : do_send(req, issue_flags, true);
  if (ret != kIouOk) return ret;
  // The result says more comes, failed or not (io_send_zc's last
  // io_req_set_res), and completes with its batch; the data was copied by
  // the time the send returned, so the notification (IORING_CQE_F_NOTIF)
  // follows it from net_cleanup, as the kernel's task work posts it after
  // the batch. Posted here, both came before a TIMEOUT later in the batch
  // was armed, which then counted neither (fuzz seed 709165).
  req->cflags |= IORING_CQE_F_MORE;
  return kIouOk;
}

// ---- RECV / RECVMSG
int recvmsg_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  sr_prep_common(req, sqe, false);
  SrMsgData& sr = req->sr;
  if (sqe->addr2) return -EINVAL;
  if (sr.flags & ~(uapi::kRecvsendPollFirst | uapi::kRecvMultishot | uapi::kRecvsendBundle))
    return -EINVAL;
  const std::uint32_t optlen = sqe->file_index;  // sqe->optlen in 6.18's uapi
  if (sr.flags & uapi::kRecvMultishot) {
    if (!(req->flags & kReqBufferSelect)) return -EINVAL;
    if (sr.msg_flags & MSG_WAITALL) return -EINVAL;
    if (req->opcode == IORING_OP_RECV) {
      // Each receive takes at most len bytes; optlen ends the multishot once
      // that many came.
      sr.mshot_len = sr.len;
      sr.mshot_total_len = optlen;
      if (optlen) sr.flags |= kRecvMshotLim;
    } else if (optlen) {
      return -EINVAL;
    }
    req->flags |= kReqApollMultishot;
  } else if (optlen) {
    return -EINVAL;
  }
  if ((sr.flags & uapi::kRecvsendBundle) && req->opcode == IORING_OP_RECVMSG) return -EINVAL;
  if (req->opcode == IORING_OP_RECV) {
    if (!(req->flags & kReqBufferSelect)) {
      const long len = core::import_ubuf(reinterpret_cast<void*>(sr.buf), sr.len, &sr.fast_iov);
      if (len < 0) return static_cast<int>(len);
      sr.len = static_cast<std::uint32_t>(len);
    }
    return 0;
  }
  const int ret = copy_msghdr(req, false);
  if (sr.iov_alloc) req->flags |= kReqCleanup;
  if (ret) return ret;
  if ((req->flags & kReqApollMultishot) && (req->flags & kReqBufferSelect)) {
    std::size_t hdr = sizeof(io_uring_recvmsg_out);
    if (sr.mshot_namelen < 0) return -EOVERFLOW;
    sr.namelen = sr.mshot_namelen;
    if (__builtin_add_overflow(hdr, static_cast<std::size_t>(sr.namelen), &hdr) ||
        __builtin_add_overflow(hdr, sr.controllen, &hdr) || hdr > INT32_MAX)
      return -EOVERFLOW;
  }
  return 0;
}

namespace {

// io_recvmsg_multishot: the payload lands after a struct
// io_uring_recvmsg_out, the name and the control data, all in the buffer.
int recvmsg_multishot(IoKiocb* req, std::uint64_t buf, std::size_t len, int flags, bool* finished) {
  SrMsgData& sr = req->sr;
  const std::size_t hdr =
      sizeof(io_uring_recvmsg_out) + static_cast<std::size_t>(sr.namelen) + sr.controllen;
  if (len < hdr) {
    *finished = true;
    return -EFAULT;
  }
  struct sockaddr_storage name;
  struct msghdr m {};
  if (sr.namelen) {
    m.msg_name = &name;
    m.msg_namelen = sizeof(name);
  }
  if (sr.controllen) {
    m.msg_control = reinterpret_cast<void*>(buf + hdr - sr.controllen);
    m.msg_controllen = sr.controllen;
  }
  struct iovec iov {
    reinterpret_cast<void*>(buf + hdr), len - hdr
  };
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  // The program's own flags only: MSG_TRUNC would discard a stream's data
  // (a datagram's full length is reported when the program asks for it).
  const ssize_t n = recvmsg(req->os_fd, &m, flags);
  *finished = n <= 0;
  if (n < 0) return -errno;
  io_uring_recvmsg_out out{};
  out.namelen = sr.namelen ? m.msg_namelen : 0;
  out.controllen = sr.controllen ? static_cast<std::uint32_t>(m.msg_controllen) : 0;
  out.flags = static_cast<std::uint32_t>(m.msg_flags);
  out.payloadlen = static_cast<std::uint32_t>(n);
  std::size_t copy_len = sizeof(out);
  copy_len += out.namelen > static_cast<std::uint32_t>(sr.namelen) ? sr.namelen : out.namelen;
  if (core::copy_to_user(reinterpret_cast<void*>(buf), &out, sizeof(out)) ||
      core::copy_to_user(reinterpret_cast<void*>(buf + sizeof(out)), &name,
                         copy_len - sizeof(out))) {
    *finished = true;
    return -EFAULT;
  }
  std::size_t got = static_cast<std::size_t>(n);
  if (got > len - hdr) got = len - hdr;
  return static_cast<int>(hdr + got);
}

// __sys_recvmsg_sock's write-back to the user's msghdr.
int recvmsg_writeback(IoKiocb* req, const struct msghdr* m) {
  SrMsgData& sr = req->sr;
  auto* um = reinterpret_cast<struct msghdr*>(sr.buf);
  if (sr.uname) {
    socklen_t klen = m->msg_namelen;
    std::size_t n = klen < static_cast<socklen_t>(sr.namelen) ? klen : sr.namelen;
    if (n && core::copy_to_user(reinterpret_cast<void*>(sr.uname), &sr.addr, n)) return -EFAULT;
    if (core::put_user(klen, &um->msg_namelen)) return -EFAULT;
  }
  if (core::put_user(m->msg_flags, &um->msg_flags)) return -EFAULT;
  if (core::put_user(m->msg_controllen, &um->msg_controllen)) return -EFAULT;
  return 0;
}

// io_recv with IORING_RECVSEND_BUNDLE and provided buffers: one receive
// into as many buffers as the data needs (the socket's backlog, or the
// request's length, caps how many are mapped); a receive that filled all
// it mapped while more is queued goes on into the next buffers, and the
// CQE names the first buffer and counts every byte.
int do_recv_bundle(IoKiocb* req, unsigned issue_flags) {
  SrMsgData& sr = req->sr;
  if (poll_first_pending(req, sr.flags, issue_flags)) return -EAGAIN;
  const bool nonblock = issue_flags & kIssueNonblock;
  int flags = sr.msg_flags;
  if (nonblock) flags |= MSG_DONTWAIT;
  struct iovec* iovs = t_bundle_iovs;
  for (;;) {
    // io_recv_buf_select
    BufSelArg arg;
    arg.iovs = iovs;
    arg.nr_iovs = sr.vec_nr ? sr.vec_nr : 1;
    arg.expand = true;
    if (sr.len)
      arg.max_len = sr.len;
    else if (sr.inq > 1)
      arg.max_len = static_cast<std::size_t>(sr.inq);
    if ((sr.flags & kRecvMshotLim) && sr.mshot_total_len &&
        (!arg.max_len || arg.max_len > sr.mshot_total_len))
      arg.max_len = sr.mshot_total_len;
    const int nr = buffers_select(req, sr.buf_group, &arg, false, issue_flags);
    int ret;
    if (nr < 0) {
      sr.inq = -1;
      // io_recv looks for the socket before the buffers (seed 48630).
      const int sock = no_buffer_error(req);
      ret = sock == -ENOBUFS ? nr : sock;
      req_set_fail(req);
    } else {
      if (arg.nr_iovs > (sr.vec_nr ? sr.vec_nr : 1)) sr.vec_nr = nr;  // the array grown
      if (arg.partial_map) sr.flags |= kRecvPartialMap;
      int min_ret = 0;
      if (flags & MSG_WAITALL) min_ret = static_cast<int>(arg.out_len);
      struct msghdr rm {};
      rm.msg_iov = iovs;
      rm.msg_iovlen = static_cast<std::size_t>(nr);
      const ssize_t n = recvmsg(req->os_fd, &rm, flags);
      ret = n < 0 ? -errno : static_cast<int>(n);
      sr.inq = ret >= 0 ? recv_inq(sr, req->os_fd, ret, arg.out_len) : -1;
      if (ret < min_ret) {
        if (ret == -EAGAIN && nonblock) {
          kbuf_recycle(req, issue_flags);
          return -EAGAIN;
        }
        if (ret > 0 && net_retry(sr, req->os_fd, flags)) {
          // io_net_kbuf_recyle: what was filled is consumed.
          (void)kbuf_put_bufs(req, ret, bundle_nbufs(iovs, nr, ret, arg.out_len), issue_flags);
          sr.done_io += ret;
          req->flags |= kReqPartialIo;
          return -EAGAIN;
        }
        req_set_fail(req);
      } else if ((flags & MSG_WAITALL) && (rm.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        req_set_fail(req);
      }
    }
    bool mshot_finished = ret <= 0;
    const int this_ret = ret;
    if (ret > 0)
      ret += sr.done_io;
    else if (sr.done_io)
      ret = sr.done_io;
    else
      kbuf_recycle(req, issue_flags);
    // io_recv_finish
    std::uint32_t cflags = sr.inq > 0 ? IORING_CQE_F_SOCK_NONEMPTY : 0;
    if (mshot_limit_reached(sr, ret)) mshot_finished = true;
    const int nbufs = nr > 0 ? bundle_nbufs(iovs, nr, this_ret, arg.out_len) : 0;
    cflags |= kbuf_put_bufs(req, this_ret, nbufs, issue_flags);
    if (sr.flags & kRecvRetry) cflags = sr.bundle_cflags | (cflags & kCqeFMask);
    if (sr.mshot_len && ret > 0 && static_cast<std::uint32_t>(ret) >= sr.mshot_len)
      sr.flags |= kRecvMshotCap;
    if (!(req->flags & kReqBlEmpty)) {
      // All it mapped was filled and more is queued: on into the next buffers.
      if (!(sr.flags & kRecvNoRetry) && sr.inq > 1 && this_ret > 0 &&
          static_cast<std::size_t>(this_ret) == arg.out_len) {
        sr.bundle_cflags = cflags & ~kCqeFMask;
        sr.len = static_cast<std::uint32_t>(sr.inq);
        sr.done_io += this_ret;
        sr.flags |= kRecvRetry;
        continue;
      }
      if ((req->flags & kReqApollMultishot) && !mshot_finished &&
          post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags)) {
        // io_mshot_prep_retry
        req->flags &= ~(kReqBlEmpty | kReqPartialIo);
        sr.done_io = 0;
        sr.flags &= ~(kRecvRetry | kRecvPartialMap);
        sr.len = sr.mshot_len;
        req->buf_index = sr.buf_group;
        if ((cflags & IORING_CQE_F_SOCK_NONEMPTY) || sr.inq < 0) {
          if (sr.nr_multishot_loops++ < kMultishotMaxRetry && !(sr.flags & kRecvMshotCap)) continue;
          sr.nr_multishot_loops = 0;
          sr.flags &= ~kRecvMshotCap;
          tw_add(req, tw_req_submit);
          return kIouIssueSkipComplete;
        }
        return -EAGAIN;
      }
    }
    req_set_res(req, ret, cflags);
    return kIouOk;
  }
}

// io_recv / io_recvmsg
int do_recv(IoKiocb* req, unsigned issue_flags) {
  SrMsgData& sr = req->sr;
  if (poll_first_pending(req, sr.flags, issue_flags)) return -EAGAIN;
  const bool nonblock = issue_flags & kIssueNonblock;
  const bool msg = req->opcode == IORING_OP_RECVMSG;
  int flags = sr.msg_flags;
  if (nonblock) flags |= MSG_DONTWAIT;
  for (;;) {
    std::uint64_t buf = sr.buf;
    std::size_t len = sr.len;
    if ((req->flags & kReqBufferSelect) && !buffer_held(req)) {
      len = sr.len;
      buf = buffer_select(req, &len, issue_flags);
      if (!buf) return finish(req, no_buffer_error(req), 0);
      if (!msg) {
        sr.buf = buf;
        sr.len = static_cast<std::uint32_t>(len);
      }
    } else if (buffer_held(req) && !msg) {
      buf = sr.buf;
      len = sr.len;
    }
    int ret;
    bool mshot_finished = true;
    int min_ret = 0;
    struct msghdr m = sr.msg;
    if (msg && (req->flags & kReqApollMultishot)) {
      int mf = flags;
      const int fl = fcntl(req->os_fd, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) mf |= MSG_DONTWAIT;
      ret = recvmsg_multishot(req, buf, len, mf, &mshot_finished);
      len = 0;  // NONEMPTY is not derived from the payload here
    } else if (msg) {
      if (req->flags & kReqBufferSelect) {
        sr.fast_iov = {reinterpret_cast<void*>(buf), len};
        m.msg_iov = &sr.fast_iov;
        m.msg_iovlen = 1;
      }
      if ((flags & MSG_WAITALL) && !m.msg_controllen) min_ret = static_cast<int>(msg_bytes(&m));
      len = msg_bytes(&m);
      const ssize_t n = recvmsg(req->os_fd, &m, flags);
      ret = n < 0 ? -errno : static_cast<int>(n);
      if (ret >= 0) {
        if (int e = recvmsg_writeback(req, &m)) ret = e;
      }
    } else {
      if (flags & MSG_WAITALL) min_ret = static_cast<int>(len);
      struct iovec iov {
        reinterpret_cast<void*>(buf), len
      };
      struct msghdr rm {};
      rm.msg_iov = &iov;
      rm.msg_iovlen = 1;
      const ssize_t n = recvmsg(req->os_fd, &rm, flags);
      ret = n < 0 ? -errno : static_cast<int>(n);
      m.msg_flags = rm.msg_flags;
    }
    if (ret < min_ret) {
      if (ret == -EAGAIN && nonblock) {
        kbuf_recycle(req, issue_flags);
        return -EAGAIN;
      }
      if (ret > 0 && net_retry(sr, req->os_fd, flags)) {
        if (msg) {
          advance_msg(&sr.msg, static_cast<std::size_t>(ret));
        } else {
          sr.buf += static_cast<std::uint64_t>(ret);
          sr.len -= static_cast<std::uint32_t>(ret);
        }
        sr.done_io += ret;
        req->flags |= kReqPartialIo;
        return -EAGAIN;
      }
      req_set_fail(req);
    } else if ((flags & MSG_WAITALL) && (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
      req_set_fail(req);
    }
    if (!msg || !(req->flags & kReqApollMultishot)) mshot_finished = ret <= 0;
    if (ret > 0)
      ret += sr.done_io;
    else if (sr.done_io)
      ret = sr.done_io;
    else
      kbuf_recycle(req, issue_flags);
    // io_recv_finish
    std::uint32_t cflags = 0;
    const int inq =
        (req->flags & kReqApollMultishot) && msg ? -1 : recv_inq(sr, req->os_fd, ret, len);
    if (inq > 0) cflags |= IORING_CQE_F_SOCK_NONEMPTY;
    if (mshot_limit_reached(sr, ret)) mshot_finished = true;
    cflags |= kbuf_put(req, ret, issue_flags);
    // With the CQ ring full the multishot receive ends with this result.
    if ((req->flags & kReqApollMultishot) && !mshot_finished &&
        post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags)) {
      sr.done_io = 0;
      sr.len = sr.mshot_len;
      req->buf_index = sr.buf_group;
      req->flags &= ~kReqPartialIo;
      if ((cflags & IORING_CQE_F_SOCK_NONEMPTY) || inq < 0) {
        if (sr.nr_multishot_loops++ < kMultishotMaxRetry) continue;
        sr.nr_multishot_loops = 0;
        // To the back of the queue: retry from task work.
        tw_add(req, tw_req_submit);
        return kIouIssueSkipComplete;
      }
      return -EAGAIN;
    }
    req_set_res(req, ret, cflags);
    return kIouOk;
  }
}

}  // namespace

// A bundle takes its buffers together (io_buffers_peek) only with uring_lock
// held; on io-wq it takes one buffer as a plain receive does, and a group
// that does not exist is -ENOBUFS there, not -ENOENT (fuzz seed 9639).
int recv_issue(IoKiocb* req, unsigned issue_flags) {
  if ((req->sr.flags & uapi::kRecvsendBundle) && (req->flags & kReqBufferSelect) &&
      (issue_flags & kIssueLocked))
    return do_recv_bundle(req, issue_flags);
  return do_recv(req, issue_flags);
}

}  // namespace iostack::uring
