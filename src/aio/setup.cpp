// io_setup and io_destroy (fs/aio.c): create a context whose id is its
// ring's address; destroy waits until none of its requests is in flight.
#include <linux/aio_abi.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "aio/aio.hpp"
#include "aio/ioctx_table.hpp"
#include "aio/ops.hpp"
#include "core/mutex.hpp"
#include "core/uaccess.hpp"

namespace iostack::aio {
namespace {

// IOSTACK_AIO_LOG=1 makes each io_setup/io_destroy print one line on
// stderr, so a run can show it went through iostack and not the kernel.
bool log_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("IOSTACK_AIO_LOG");
    return e != nullptr && *e != '\0' && std::strcmp(e, "0") != 0;
  }();
  return on;
}

}  // namespace

long sys_io_setup(unsigned nr_events, aio_context_t* ctxp) {
  aio_context_t given;
  if (core::get_user(given, ctxp)) return -EFAULT;
  if (given != 0 || nr_events == 0) return -EINVAL;
  Kioctx* ctx = nullptr;
  if (int err = ioctx_alloc(nr_events, &ctx); err != 0) {
    if (log_enabled()) std::fprintf(stderr, "iostack aio: io_setup(%u) = %d\n", nr_events, err);
    return err;
  }
  if (core::put_user(static_cast<aio_context_t>(ctx->user_id), ctxp)) {
    // Nobody can know this context: gone again, aio-nr included.
    kill_ioctx(ctx);
    free_ioctx(ctx);
    return -EFAULT;
  }
  if (log_enabled()) {
    std::fprintf(stderr, "iostack aio: io_setup(%u) = 0, ctx %#lx, ring nr %u\n", nr_events,
                 ctx->user_id, ctx->nr_events);
  }
  return 0;
}

void free_ioctx(Kioctx* ctx) {
  // free_ioctx_users: no caller is left inside; cancel what can be.
  ctx->users.kill_and_wait();
  aio_cancel_all(ctx);
  // free_ioctx_reqs: every request has posted its event.
  ctx->reqs.kill_and_wait();
  aio_free_ring(&ctx->ring);
  delete ctx;
}

long sys_io_destroy(aio_context_t ctx_id) {
  Kioctx* ctx = lookup_ioctx(ctx_id);
  if (ctx == nullptr) return -EINVAL;
  const int ret = kill_ioctx(ctx);
  put_ioctx(ctx);
  if (ret == 0) {
    if (log_enabled()) std::fprintf(stderr, "iostack aio: io_destroy(%#lx)\n", ctx_id);
    free_ioctx(ctx);
  }
  return ret;
}

long sys_io_cancel(aio_context_t ctx_id, struct iocb* iocb, struct io_event* result) {
  (void)result;  // the event always goes through the ring
  std::uint32_t key;
  if (core::get_user(key, core::user_field<std::uint32_t>(iocb, offsetof(struct iocb, aio_key))))
    return -EFAULT;
  if (key != kKiocbKey) return -EINVAL;
  Kioctx* ctx = lookup_ioctx(ctx_id);
  if (ctx == nullptr) return -EINVAL;
  const auto obj = reinterpret_cast<std::uintptr_t>(iocb);
  long ret = -EINVAL;
  {
    core::LockGuard g(ctx->ctx_lock);
    for (core::ListHead* n = ctx->active_reqs.first(); n != &ctx->active_reqs; n = n->next) {
      AioKiocb* req = core::list_entry<AioKiocb, &AioKiocb::ki_list>(n);
      if (req->res.obj == obj) {
        ret = req->cancel(req);
        req->cancel = nullptr;
        n->del();
        break;
      }
    }
  }
  // Cancellation goes on asynchronously; its event arrives in the ring.
  if (ret == 0) ret = -EINPROGRESS;
  put_ioctx(ctx);
  return ret;
}

}  // namespace iostack::aio
