// IOCB_CMD_POLL (fs/aio.c aio_poll): completes at once when the file is
// ready, otherwise waits (cancellable) until it is.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "aio/complete.hpp"
#include "aio/ioctx_table.hpp"
#include "aio/ops.hpp"
#include "aio/poller.hpp"
#include "core/fd_mode_cache.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {
namespace {

// DEFAULT_POLLMASK: what vfs_poll reports for a file without ->poll.
constexpr std::uint32_t kDefaultPollMask = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

int aio_poll_cancel(AioKiocb* req) {
  PollState armed = PollState::kArmed;
  if (req->poll_state.compare_exchange_strong(armed, PollState::kCancelling)) poller_cancel(req);
  return 0;
}

// A file that cannot be waited on: vfs_poll's default mask, now or never.
int complete_default(AioKiocb* req) {
  const std::uint32_t mask = kDefaultPollMask & req->poll_events;
  if (mask == 0) return -EINVAL;
  req->res.res = mask;
  iocb_put(req);
  return 0;
}

}  // namespace

int aio_poll(AioKiocb* req, const struct iocb& cb, const FileRef& f) {
  if (static_cast<std::uint16_t>(cb.aio_buf) != cb.aio_buf) return -EINVAL;
  if (cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags) return -EINVAL;
  // demangle_poll() is the identity on x86.
  req->poll_events = static_cast<std::uint32_t>(cb.aio_buf) | POLLERR | POLLHUP;
  if (f.bdev != nullptr) return complete_default(req);  // block devices have no ->poll

  struct pollfd p {};
  p.fd = req->fd;
  p.events = static_cast<short>(req->poll_events);
  if (::poll(&p, 1, 0) == 1) {
    const std::uint32_t mask = static_cast<std::uint16_t>(p.revents) & req->poll_events;
    if (mask != 0) {
      req->res.res = mask;
      iocb_put(req);
      return 0;
    }
  }

  // A regular file has no ->poll: answered here, without the private
  // descriptor whose close would drop the program's POSIX locks on it.
  if (core::fd_is_regular_file(req->fd)) return complete_default(req);
  req->poll_fd = file_ref_private_fd(req->fd);
  if (req->poll_fd < 0) return req->poll_fd;
  Kioctx* ctx = req->ctx;
  int err;
  {
    core::LockGuard g(ctx->ctx_lock);
    req->poll_state.store(PollState::kArmed, std::memory_order_relaxed);
    err = poller_arm(req);
    if (err == 0) {
      req->ki_list.add_tail(&ctx->active_reqs);
      req->cancel = aio_poll_cancel;
    } else {
      req->poll_state.store(PollState::kIdle, std::memory_order_relaxed);
    }
  }
  if (err == 0) return 0;
  ::close(req->poll_fd);
  req->poll_fd = -1;
  if (err == -EPERM) return complete_default(req);
  return err;
}

void aio_cancel_all(Kioctx* ctx) {
  core::LockGuard g(ctx->ctx_lock);
  while (!ctx->active_reqs.empty()) {
    core::ListHead* n = ctx->active_reqs.first();
    AioKiocb* req = core::list_entry<AioKiocb, &AioKiocb::ki_list>(n);
    if (req->cancel != nullptr) req->cancel(req);
    req->cancel = nullptr;
    n->del();
  }
}

}  // namespace iostack::aio
