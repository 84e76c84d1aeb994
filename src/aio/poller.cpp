// IOCB_CMD_POLL: the epoll thread that completes polls and their cancels.
#include "aio/poller.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "aio/complete.hpp"
#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"

namespace iostack::aio {
namespace {

constexpr std::uint32_t kReadGroup = POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI;
constexpr std::uint32_t kWriteGroup = POLLOUT | POLLWRNORM | POLLWRBAND;
constexpr std::uint32_t kHangupGroup = POLLERR | POLLHUP | POLLRDHUP;

// The kernel's aio_poll_wake() reports the wake-up key itself (say
// EPOLLIN | EPOLLRDNORM from a pipe write), not just the events asked for.
// epoll reports only those, so the key is rebuilt from the file's full
// poll mask, keeping the groups (read, write, hang-up) that fired.
std::uint32_t wake_key(int fd, std::uint32_t fired) {
  std::uint32_t groups = 0;
  if (fired & kReadGroup) groups |= kReadGroup;
  if (fired & kWriteGroup) groups |= kWriteGroup;
  if (fired & kHangupGroup) groups |= kHangupGroup;
  struct pollfd p {};
  p.fd = fd;
  p.events = static_cast<short>(kReadGroup | kWriteGroup | POLLRDHUP);
  if (::poll(&p, 1, 0) != 1) return fired;
  const std::uint32_t key = static_cast<std::uint16_t>(p.revents) & groups;
  return key != 0 ? key : fired;
}

class Poller {
 public:
  Poller() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up descriptor
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    core::start_detached_internal_thread(
        core::ThreadKind::kAioPoll, [](void* p) { static_cast<Poller*>(p)->run(); }, this);
  }

  int arm(AioKiocb* req) {
    struct epoll_event ev {};
    ev.events = req->poll_events | EPOLLONESHOT;
    ev.data.ptr = req;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, req->poll_fd, &ev) != 0) return -errno;
    return 0;
  }

  void cancel(AioKiocb* req) {
    {
      core::LockGuard g(lock_);
      cancels_.push_back(req);
    }
    const std::uint64_t one = 1;
    ssize_t r = ::write(wakefd_, &one, sizeof(one));
    (void)r;
  }

 private:
  void retire(AioKiocb* req, std::uint32_t mask) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, req->poll_fd, nullptr);
    ::close(req->poll_fd);
    req->poll_fd = -1;
    req->res.res = mask;
    req->res.res2 = 0;
    iocb_put(req);
  }

  void run() {
    struct epoll_event evs[64];
    std::vector<AioKiocb*> todo;
    for (;;) {
      const int n = ::epoll_wait(epfd_, evs, 64, -1);
      for (int i = 0; i < n; ++i) {
        auto* req = static_cast<AioKiocb*>(evs[i].data.ptr);
        if (req == nullptr) {
          std::uint64_t v;
          ssize_t r = ::read(wakefd_, &v, sizeof(v));
          (void)r;
          continue;
        }
        PollState armed = PollState::kArmed;
        if (!req->poll_state.compare_exchange_strong(armed, PollState::kDone)) continue;
        {
          core::LockGuard g(req->ctx->ctx_lock);
          req->ki_list.del();
          req->cancel = nullptr;
        }
        retire(req, wake_key(req->poll_fd, evs[i].events & req->poll_events));
      }
      {
        core::LockGuard g(lock_);
        todo.swap(cancels_);
      }
      // A cancelled request completes with no events, like the kernel's
      // aio_poll_complete_work after ->cancelled is set.
      for (AioKiocb* req : todo) retire(req, 0);
      todo.clear();
    }
  }

  int epfd_ = -1;
  int wakefd_ = -1;
  core::Mutex lock_;
  std::vector<AioKiocb*> cancels_ GUARDED_BY(lock_);
};

// One per process (fresh in a forked child), made on first use.
Poller* poller() { return &core::Process::current().state<Poller>(); }

}  // namespace

int poller_arm(AioKiocb* req) { return poller()->arm(req); }
void poller_cancel(AioKiocb* req) { poller()->cancel(req); }

}  // namespace iostack::aio
