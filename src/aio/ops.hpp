// The iocb opcodes (fs/aio.c: aio_read/aio_write, aio_fsync, aio_poll):
// each checks the iocb as the kernel does, returning -errno when io_submit
// must fail, or 0 once the request is under way (its event comes later, or
// has already been posted). Work that has to block goes into `batch`.
#pragma once

#include <linux/aio_abi.h>

#include "aio/aio_wq.hpp"
#include "aio/file_ref.hpp"
#include "aio/kiocb.hpp"

namespace iostack::aio {

int aio_rw(AioKiocb* req, const struct iocb& cb, const FileRef& f, bool write, bool vectored,
           AioWorkBatch* batch);
int aio_fsync(AioKiocb* req, const struct iocb& cb, const FileRef& f, bool datasync,
              AioWorkBatch* batch);
int aio_poll(AioKiocb* req, const struct iocb& cb, const FileRef& f);

// Cancels every cancellable request of a dying context (free_ioctx_users).
void aio_cancel_all(Kioctx* ctx);

}  // namespace iostack::aio
