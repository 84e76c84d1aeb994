// IOCB_CMD_POLL: the epoll thread that completes polls and their cancels.
#include "aio/poller.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "aio/complete.hpp"
#include "core/epoll_drain.hpp"
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
    armed_.fetch_add(1, std::memory_order_seq_cst);
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, req->poll_fd, &ev) != 0) {
      armed_.fetch_sub(1, std::memory_order_relaxed);
      return -errno;
    }
    return 0;
  }

  // aio_poll_wake completes a request inside the write that wakes its file
  // (an eventfd signalled as another request's resfd: fuzz seed 404923).
  // Here the thread sees it a moment later, so a submitter handles what
  // epoll has collected before it goes on. Events are taken out of epoll
  // only under dispatch_mu, so none is in flight on the thread meanwhile.
  void catch_up() {
    if (armed_.load(std::memory_order_seq_cst) == 0) return;
    core::LockGuard d(dispatch_mu_);
    dispatch();
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
    armed_.fetch_sub(1, std::memory_order_relaxed);
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, req->poll_fd, nullptr);
    ::close(req->poll_fd);
    req->poll_fd = -1;
    req->res.res = mask;
    req->res.res2 = 0;
    iocb_put(req);
  }

  void run() {
    for (;;) {
      core::wait_epoll_ready(epfd_);  // events are taken under dispatch_mu
      core::LockGuard d(dispatch_mu_);
      dispatch();
    }
  }

  void dispatch() REQUIRES(dispatch_mu_) {
    core::drain_epoll(epfd_, [this](const epoll_event& ev) { handle(ev); });
    {
      core::LockGuard g(lock_);
      todo_.swap(cancels_);
    }
    // A cancelled request completes with no events, like the kernel's
    // aio_poll_complete_work after ->cancelled is set.
    for (AioKiocb* req : todo_) retire(req, 0);
    todo_.clear();
  }

  void handle(const struct epoll_event& ev) {
    auto* req = static_cast<AioKiocb*>(ev.data.ptr);
    if (req == nullptr) {  // the wake-up descriptor
      std::uint64_t v;
      ssize_t r = ::read(wakefd_, &v, sizeof(v));
      (void)r;
      return;
    }
    PollState armed = PollState::kArmed;
    if (!req->poll_state.compare_exchange_strong(armed, PollState::kDone)) return;
    {
      core::LockGuard g(req->ctx->ctx_lock);
      req->ki_list.del();
      req->cancel = nullptr;
    }
    retire(req, wake_key(req->poll_fd, ev.events & req->poll_events));
  }

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<int> armed_{0};  // requests registered in epoll
  // Held while events are taken out of epoll and handled (before any ctx's locks).
  core::Mutex dispatch_mu_;
  std::vector<AioKiocb*> todo_ GUARDED_BY(dispatch_mu_);
  core::Mutex lock_;
  std::vector<AioKiocb*> cancels_ GUARDED_BY(lock_);
};

// One per process (fresh in a forked child), made on first use.
Poller* poller() { return &core::Process::current().state<Poller>(); }

}  // namespace

int poller_arm(AioKiocb* req) { return poller()->arm(req); }
void poller_cancel(AioKiocb* req) { poller()->cancel(req); }

void poller_catch_up() {
  if (core::holds_locks()) return;
  if (Poller* p = core::Process::current().find_state<Poller>()) p->catch_up();
}

}  // namespace iostack::aio
