// io_submit (fs/aio.c: io_submit_one, __io_submit_one): copies and checks
// each iocb, takes a request slot and starts the operation. A block plug
// spans batches of more than AIO_PLUG_THRESHOLD iocbs.
#include <linux/aio_abi.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "aio/aio.hpp"
#include "aio/complete.hpp"
#include "aio/ioctx_table.hpp"
#include "aio/ops.hpp"
#include "aio/poller.hpp"
#include "aio/rw_target.hpp"
#include "block/plug.hpp"
#include "core/uaccess.hpp"

namespace iostack::aio {
namespace {

// eventfd_ctx_fdget(): -EBADF for no descriptor, -EINVAL for one that is
// not an eventfd.
int check_eventfd(int fd) {
  if (fd < 0) return -EBADF;
  char path[64];
  char target[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(path, target, sizeof(target) - 1);
  if (n < 0) return -EBADF;
  target[n] = '\0';
  return std::strcmp(target, "anon_inode:[eventfd]") == 0 ? 0 : -EINVAL;
}

int issue_one(Kioctx* ctx, const struct iocb& cb, struct iocb* user_iocb, AioKiocb* req,
              AioWorkBatch* batch) {
  (void)ctx;
  FileRef f;
  if (int err = file_ref_get(static_cast<int>(cb.aio_fildes), &f); err != 0) return err;
  req->fd = static_cast<int>(cb.aio_fildes);
  req->held_file = std::move(f.held);
  if (cb.aio_flags & IOCB_FLAG_RESFD) {
    const int fd = static_cast<int>(cb.aio_resfd);
    if (int err = check_eventfd(fd); err != 0) return err;
    req->resfd = fd;
  }
  if (core::put_user(kKiocbKey,
                     core::user_field<std::uint32_t>(user_iocb, offsetof(struct iocb, aio_key))))
    return -EFAULT;

  req->res.obj = reinterpret_cast<std::uintptr_t>(user_iocb);
  req->res.data = cb.aio_data;
  req->res.res = 0;
  req->res.res2 = 0;
  req->opcode = cb.aio_lio_opcode;

  switch (cb.aio_lio_opcode) {
    case IOCB_CMD_PREAD:
      return aio_rw(req, cb, f, false, false, batch);
    case IOCB_CMD_PWRITE:
      return aio_rw(req, cb, f, true, false, batch);
    case IOCB_CMD_PREADV:
      return aio_rw(req, cb, f, false, true, batch);
    case IOCB_CMD_PWRITEV:
      return aio_rw(req, cb, f, true, true, batch);
    case IOCB_CMD_FSYNC:
      return aio_fsync(req, cb, f, false, batch);
    case IOCB_CMD_FDSYNC:
      return aio_fsync(req, cb, f, true, batch);
    case IOCB_CMD_POLL:
      return aio_poll(req, cb, f);
    default:
      // IOCB_CMD_NOOP included: the kernel has no such operation.
      return -EINVAL;
  }
}

int io_submit_one(Kioctx* ctx, struct iocb* user_iocb, AioWorkBatch* batch) {
  struct iocb cb;
  if (core::copy_from_user(&cb, user_iocb, sizeof(cb))) return -EFAULT;

  if (cb.aio_reserved2 != 0) return -EINVAL;
  if (static_cast<std::int64_t>(cb.aio_nbytes) < 0) return -EINVAL;

  AioKiocb* req = aio_get_req(ctx);
  if (req == nullptr) return -EAGAIN;

  const int err = issue_one(ctx, cb, user_iocb, req, batch);
  iocb_put(req);  // the submitter's reference
  if (err != 0) {
    // The I/O never started, so its reference is still held: free the slot
    // and give its budget back.
    iocb_destroy(req);
    put_reqs_available(ctx, 1);
  }
  return err;
}

}  // namespace

long sys_io_submit(aio_context_t ctx_id, long nr, struct iocb** iocbpp) {
  if (nr < 0) return -EINVAL;
  Kioctx* ctx = lookup_ioctx(ctx_id);
  if (ctx == nullptr) return -EINVAL;
  if (nr > static_cast<long>(ctx->nr_events)) nr = ctx->nr_events;

  block::BlkPlug plug;
  const bool plugged = nr > kAioPlugThreshold;
  if (plugged) block::blk_start_plug(&plug);
  AioWorkBatch batch;
  long ret = 0;
  long i = 0;
  for (; i < nr; ++i) {
    struct iocb* user_iocb;
    if (core::get_user(user_iocb,
                       core::user_field<struct iocb*>(iocbpp, sizeof(struct iocb*) * i))) {
      ret = -EFAULT;
      break;
    }
    ret = io_submit_one(ctx, user_iocb, &batch);
    if (ret != 0) break;
    poller_catch_up();
  }
  if (plugged) block::blk_finish_plug(&plug);
  if (batch.host_nr) aio_host_flush(&batch);
  aio_wq_queue(&batch);
  put_ioctx(ctx);
  return i != 0 ? i : ret;
}

}  // namespace iostack::aio
