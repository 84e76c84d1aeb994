// IORING_OP_WAITID (io_uring/waitid.c): waitid(2) through the ring. What
// can be answered at once is (errors, WNOHANG, a child already changed);
// a wait for one process (P_PID, P_PIDFD) waits on its pidfd's readiness
// and asks again; a wait for any child or a group (P_ALL, P_PGID) on an
// epoll instance of every child's pidfd and a ticking timer (a child forked
// later, a stop or a continue are seen at the next tick). None holds a
// thread, all can be cancelled, as on the kernel's wait queue.
#include <dirent.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <new>
#include <vector>

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

// The period of the re-scan for children forked after the wait began.
constexpr long kRescanNs = 50 * 1000 * 1000;

}  // namespace

// What wakes a P_ALL or P_PGID wait: an epoll instance (the request's
// descriptor for the internal poll) holding a pidfd per child (one-shot:
// a pidfd stays readable once its process exited) and a periodic timer.
struct ChildWatch {
  int epfd = -1;
  int timerfd = -1;
  std::vector<std::pair<pid_t, int>> pidfds;  // children seen, and their pidfd
  ~ChildWatch() {
    for (const auto& [pid, fd] : pidfds) ::close(fd);
    if (timerfd >= 0) ::close(timerfd);
    if (epfd >= 0) ::close(epfd);
  }
};

namespace {

// The children of every thread of this process (/proc/self/task/*/children).
std::vector<pid_t> list_children() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    std::snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
    if (FILE* f = std::fopen(path, "re")) {
      int pid;
      while (std::fscanf(f, "%d", &pid) == 1) out.push_back(pid);
      std::fclose(f);
    }
  }
  closedir(d);
  return out;
}

// Takes the events the epoll instance has (so it is readable again only
// for new ones: a pidfd reports once), drains the timer and adds the pidfd
// of every child not watched yet.
void watch_rescan(ChildWatch* cw) {
  epoll_event evs[16];
  while (epoll_wait(cw->epfd, evs, 16, 0) == 16) {
  }
  std::uint64_t ticks;
  [[maybe_unused]] const ssize_t n = ::read(cw->timerfd, &ticks, sizeof(ticks));
  for (pid_t pid : list_children()) {
    const bool known = std::any_of(cw->pidfds.begin(), cw->pidfds.end(),
                                   [pid](const auto& e) { return e.first == pid; });
    if (known) continue;
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) continue;  // reaped meanwhile
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = fd;
    epoll_ctl(cw->epfd, EPOLL_CTL_ADD, fd, &ev);
    cw->pidfds.emplace_back(pid, fd);
  }
  // Children reaped since: their pidfds go.
  std::erase_if(cw->pidfds, [](const auto& e) {
    if (::kill(e.first, 0) == 0 || errno != ESRCH) return false;
    ::close(e.second);
    return true;
  });
}

ChildWatch* watch_create() {
  auto* cw = new (std::nothrow) ChildWatch;
  if (!cw) return nullptr;
  cw->epfd = epoll_create1(EPOLL_CLOEXEC);
  cw->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (cw->epfd < 0 || cw->timerfd < 0) {
    delete cw;
    return nullptr;
  }
  const itimerspec period{{0, kRescanNs}, {0, kRescanNs}};
  timerfd_settime(cw->timerfd, 0, &period, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = cw->timerfd;
  epoll_ctl(cw->epfd, EPOLL_CTL_ADD, cw->timerfd, &ev);
  return cw;
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
  w.watch = nullptr;
  return 0;
}

void waitid_cleanup(IoKiocb* req) {
  if (req->waitid.pidfd >= 0) ::close(req->waitid.pidfd);
  req->waitid.pidfd = -1;
  delete req->waitid.watch;
  req->waitid.watch = nullptr;
}

int waitid_issue(IoKiocb* req, unsigned issue_flags) {
  WaitidData& w = req->waitid;
  siginfo_t si{};
  // Children watched before asking: one exiting in between wakes the wait.
  if (w.watch) watch_rescan(w.watch);
  // The same checks as kernel_waitid_prepare, then whatever is there now.
  const bool may_block = !(w.options & WNOHANG);
  if (waitid(static_cast<idtype_t>(w.which), static_cast<id_t>(w.upid), &si, w.options | WNOHANG) !=
      0) {
    const int e = -errno;
    // __do_wait's -ECHILD still goes through io_waitid_finish, which writes
    // the (empty) siginfo: one that cannot be written is -EFAULT.
    if (e == -ECHILD && copy_si(w.infop, 0, si) != 0) return waitid_done(req, -EFAULT);
    return waitid_done(req, e);
  }
  if (si.si_pid || !may_block) {
    const int err = copy_si(w.infop, si.si_pid ? SIGCHLD : 0, si);
    return waitid_done(req, err);
  }
  if (w.which == P_PID || w.which == P_PIDFD) {
    // Wait for the process's pidfd to become readable, then ask again.
    if (w.which == P_PID && w.pidfd < 0) {
      w.pidfd = static_cast<int>(syscall(SYS_pidfd_open, w.upid, 0));
      if (w.pidfd < 0) return waitid_done(req, -errno);
      req->flags |= kReqCleanup;
    }
    req->os_fd = w.which == P_PID ? w.pidfd : w.upid;
    req->file_assigned = true;
  } else if (!w.watch) {
    w.watch = watch_create();
    if (!w.watch) return waitid_done(req, -ENOMEM);
    req->flags |= kReqCleanup;
    watch_rescan(w.watch);
    // Asked again with the children watched: one may have exited before.
    return waitid_issue(req, issue_flags);
  } else {
    req->os_fd = w.watch->epfd;
    req->file_assigned = true;
  }
  return -EAGAIN;
}

}  // namespace iostack::uring
