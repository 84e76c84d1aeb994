// Files held until the end of the submission that closed them (see
// deferred_fput.hpp).
#include "core/deferred_fput.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstring>

#include "core/fd_high.hpp"
#include "core/process.hpp"
#include "core/raw_syscall.h"

namespace iostack::core {

namespace {

// The kernel's deferred file is in no descriptor table: a fork meanwhile
// copies nothing (a copy in the child would keep a pipe's writer alive, or
// make exec of a file closed for writing fail with ETXTBSY). So the file is
// held in flight on a socket of the thread's (SCM_RIGHTS), and released by
// a receive without room for it, which closes it (unix(7)).
class InFlightHold {
 public:
  InFlightHold(const InFlightHold&) = delete;
  InFlightHold& operator=(const InFlightHold&) = delete;
  InFlightHold() = default;
  ~InFlightHold() { drop_socket(); }

  // Sends a reference to `fd`'s file; false when it cannot be held.
  bool hold(int fd) {
    if (!ready()) return false;
    char data = 0;
    struct iovec iov = {&data, 1};
    alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof(ctl);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    const long r = iostack_raw_syscall6(SYS_sendmsg, sock_[0], reinterpret_cast<long>(&msg),
                                        MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0, 0);
    return r == 1;
  }

  // Releases the oldest file held.
  void release_one() {
    char data;
    struct iovec iov = {&data, 1};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    iostack_raw_syscall6(SYS_recvmsg, sock_[1], reinterpret_cast<long>(&msg), MSG_DONTWAIT, 0, 0,
                         0);
  }

 private:
  // A socket pair of this thread's and this process's (a forked child's
  // copy is the parent's socket: it leaves it and makes its own).
  bool ready() {
    if (sock_[0] >= 0 && pid_ == current_pid()) return true;
    drop_socket();
    int sv[2];
    if (iostack_raw_syscall6(SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
                             reinterpret_cast<long>(sv), 0, 0) != 0)
      return false;
    sock_[0] = move_high_raw(sv[0]);
    sock_[1] = move_high_raw(sv[1]);
    pid_ = current_pid();
    return true;
  }
  void drop_socket() {
    for (int& s : sock_) {
      if (s >= 0) iostack_raw_syscall6(SYS_close, s, 0, 0, 0, 0, 0);
      s = -1;
    }
  }

  int sock_[2] = {-1, -1};
  int pid_ = 0;
};

// A batch rarely closes more; past this its files are released at once.
constexpr int kMaxHeld = 16;
thread_local int t_depth = 0;
thread_local int t_nheld = 0;
thread_local InFlightHold t_hold;

}  // namespace

DeferredFputScope::DeferredFputScope() { ++t_depth; }

DeferredFputScope::~DeferredFputScope() {
  if (--t_depth) return;
  for (; t_nheld; --t_nheld) t_hold.release_one();
}

int close_fd_deferred(int fd) {
  if (!t_depth || t_nheld == kMaxHeld || !t_hold.hold(fd)) return close_fd(fd);
  const int ret = close_fd(fd);
  // Closing failed: the file is released now, as nothing closed it.
  if (ret != 0)
    t_hold.release_one();
  else
    ++t_nheld;
  return ret;
}

}  // namespace iostack::core
