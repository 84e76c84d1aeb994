// Children of a mapped program: their requests, over a socket, to the process holding the devices.
#include "map/map_share.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#include "core/fd_high.hpp"

namespace iostack::map {
namespace {

struct ShareReply {
  std::int64_t res;
  std::uint32_t len;
  std::uint32_t pad;
  std::int64_t aux;
};

// Raw transfers: the preload shim interposes read and write.
bool send_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    const long r = ::syscall(SYS_sendto, fd, c, n, MSG_NOSIGNAL, nullptr, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool recv_all(int fd, void* p, std::size_t n) {
  char* c = static_cast<char*>(p);
  while (n) {
    const long r = ::syscall(SYS_recvfrom, fd, c, n, 0, nullptr, nullptr);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

sockaddr_un address(const std::string& name, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  // Abstract: sun_path[0] stays 0.
  std::memcpy(a.sun_path + 1, name.data(), std::min(name.size(), sizeof a.sun_path - 2));
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

constexpr std::uint32_t kMaxPayload = 1u << 20;

// iostack's own descriptors go above the numbers a program uses: a
// shell's redirection closes 1 and dup2s onto it, which must find neither
// our socket there nor the number reserved by our accept4 (EBUSY).
int own_fd(long fd) { return core::move_high_raw(fd < 0 ? -errno : static_cast<int>(fd)); }

// The reply's header with the descriptor `pass` alongside.
bool send_with_fd(int fd, const ShareReply& rep, int pass) {
  struct iovec v {
    const_cast<ShareReply*>(&rep), sizeof rep
  };
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pass, sizeof(int));
  long r;
  do {
    r = ::syscall(SYS_sendmsg, fd, &m, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  return send_all(fd, reinterpret_cast<const char*>(&rep) + r,
                  sizeof rep - static_cast<std::size_t>(r));
}

// The reply's header and the descriptor that came with it (-1: none).
bool recv_with_fd(int fd, ShareReply* rep, int* passed) {
  struct iovec v {
    rep, sizeof *rep
  };
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  long r;
  do {
    r = ::syscall(SYS_recvmsg, fd, &m, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  *passed = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      std::memcpy(passed, CMSG_DATA(c), sizeof(int));
  return recv_all(fd, reinterpret_cast<char*>(rep) + r, sizeof *rep - static_cast<std::size_t>(r));
}

void serve(int fd, std::uint64_t conn, const ShareHandler& handler, const ShareClosed& closed) {
  ShareRequest rq;
  std::string p1, p2, out;
  while (recv_all(fd, &rq, sizeof rq)) {
    if (rq.len1 > 4096 || rq.len2 > kMaxPayload) break;
    p1.resize(rq.len1);
    p2.resize(rq.len2);
    if (!recv_all(fd, p1.data(), p1.size()) || !recv_all(fd, p2.data(), p2.size())) break;
    out.clear();
    std::int64_t aux = 0;
    const std::int64_t res = handler(rq, p1, p2, &out, &aux, conn);
    if (rq.op == ShareOp::kShare && res >= 0) {
      if (!send_with_fd(fd, ShareReply{0, 0, 0, 0}, static_cast<int>(res))) break;
      continue;
    }
    const ShareReply rep{res, static_cast<std::uint32_t>(out.size()), 0, aux};
    if (!send_all(fd, &rep, sizeof rep) || !send_all(fd, out.data(), out.size())) break;
  }
  ::syscall(SYS_close, fd);
  closed(conn);
}

std::mutex client_mu;
int client_fd = -1;
pid_t client_pid = 0;

}  // namespace

void share_fork_prepare() { client_mu.lock(); }
void share_fork_done() { client_mu.unlock(); }
void share_fork_child() { new (&client_mu) std::mutex; }

std::string share_listen(ShareHandler handler, ShareClosed closed) {
  const std::string name = "iostack-map-" + std::to_string(::getpid());
  const int fd =
      own_fd(::syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd < 0) return {};
  socklen_t len;
  const sockaddr_un a = address(name, &len);
  if (::syscall(SYS_bind, fd, &a, len) < 0 || ::syscall(SYS_listen, fd, 16) < 0) {
    ::syscall(SYS_close, fd);
    return {};
  }
  std::thread([fd, handler = std::move(handler), closed = std::move(closed)] {
    std::uint64_t conns = 0;
    for (;;) {
      // A blocked accept4 would hold the lowest free number (it reserves
      // one before it waits): the wait is poll's, and accept4 runs only
      // for a connection that is there (the listener does not block).
      struct pollfd p {
        fd, POLLIN, 0
      };
      if (::syscall(SYS_poll, &p, 1, -1) < 0 && errno != EINTR) return;
      const long c = ::syscall(SYS_accept4, fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
        return;
      }
      std::thread(serve, own_fd(c), ++conns, std::cref(handler), std::cref(closed)).detach();
    }
  }).detach();
  return name;
}

std::int64_t share_call(const std::string& name, const ShareRequest& rq, const std::string& p1,
                        const std::string& p2, const void* in, void* out, std::int64_t* aux) {
  std::lock_guard lk(client_mu);
  if (client_fd >= 0 && client_pid != ::getpid()) client_fd = -1;  // the parent's, after fork
  if (client_fd < 0) {
    const int fd = own_fd(::syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    socklen_t len;
    const sockaddr_un a = address(name, &len);
    if (fd < 0 || ::syscall(SYS_connect, fd, &a, len) < 0) {
      if (fd >= 0) ::syscall(SYS_close, fd);
      return -ENOTCONN;
    }
    client_fd = fd;
    client_pid = ::getpid();
  }
  ShareRequest r = rq;
  r.len1 = static_cast<std::uint32_t>(p1.size());
  const bool data_in = rq.op == ShareOp::kRw && (rq.flags & 1);  // a write's
  r.len2 = data_in ? static_cast<std::uint32_t>(rq.b) : static_cast<std::uint32_t>(p2.size());
  ShareReply rep;
  int passed = -1;
  if (!send_all(client_fd, &r, sizeof r) || !send_all(client_fd, p1.data(), p1.size()) ||
      !send_all(client_fd, data_in ? in : p2.data(), r.len2) ||
      !recv_with_fd(client_fd, &rep, &passed) ||
      (rep.len && (!out || !recv_all(client_fd, out, rep.len)))) {
    ::syscall(SYS_close, client_fd);
    client_fd = -1;
    if (passed >= 0) ::syscall(SYS_close, passed);
    return -ENOTCONN;
  }
  if (aux) *aux = rep.aux;
  if (rq.op == ShareOp::kShare && rep.res == 0) return passed >= 0 ? passed : -EIO;
  if (passed >= 0) ::syscall(SYS_close, passed);
  return rep.res;
}

}  // namespace iostack::map
