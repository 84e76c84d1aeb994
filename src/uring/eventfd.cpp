// Eventfd notification (io_uring/eventfd.c): REGISTER_EVENTFD,
// REGISTER_EVENTFD_ASYNC (only completions posted from io-wq workers signal)
// and IORING_CQ_EVENTFD_DISABLED in the CQ ring flags.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/eventfd_info.hpp"
#include "core/fd_high.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

long long eventfd_id(int fd) {
  unsigned long long id;
  return core::eventfd_fdinfo(fd, "eventfd-id: %llu", &id) ? static_cast<long long>(id) : -1;
}

}  // namespace

bool is_ring_eventfd(IoRingCtx* ctx, int fd) {
  ctx->completion_lock.lock();
  const int evfd = ctx->evfd;
  ctx->completion_lock.unlock();
  if (evfd < 0) return false;
  const long long id = eventfd_id(fd);
  return id >= 0 && id == eventfd_id(evfd);
}

int eventfd_register(IoRingCtx* ctx, const void* arg, bool async) {
  ctx->completion_lock.lock();
  const bool busy = ctx->evfd >= 0;
  ctx->completion_lock.unlock();
  if (busy) return -EBUSY;
  int fd;
  if (core::get_user(fd, static_cast<const int*>(arg))) return -EFAULT;
  if (fcntl(fd, F_GETFD) < 0) return -EBADF;
  if (!core::is_eventfd(fd)) return -EINVAL;
  const int dup = core::dup_high(fd);
  if (dup < 0) return dup;
  ctx->completion_lock.lock();
  ctx->evfd = dup;
  ctx->evfd_async = async;
  ctx->completion_lock.unlock();
  return 0;
}

int eventfd_unregister(IoRingCtx* ctx) {
  ctx->completion_lock.lock();
  const int fd = ctx->evfd;
  ctx->evfd = -1;
  ctx->completion_lock.unlock();
  if (fd < 0) return -ENXIO;
  close(fd);
  return 0;
}

void eventfd_signal(IoRingCtx* ctx) {
  if (load_relaxed(ctx->rings->cq_flags) & IORING_CQ_EVENTFD_DISABLED) return;
  if (ctx->evfd_async && !IoWq::current_is_worker()) return;
  ctx->evfd_signals.fetch_add(1, std::memory_order_seq_cst);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(ctx->evfd, &one, sizeof(one));
}

}  // namespace iostack::uring
