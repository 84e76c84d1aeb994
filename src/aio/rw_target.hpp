// Where a checked read or write goes: the OS file (inline when it will not
// block, else a worker) or an iostack block device (the block layer).
#pragma once

#include "aio/aio_wq.hpp"
#include "aio/kiocb.hpp"

namespace iostack::aio {

// 0, or what io_submit refuses the request with (a read of a directory).
int rw_issue_os(AioKiocb* req, int file_flags, AioWorkBatch* batch);
// Sends the O_DIRECT requests `batch` gathered to the kernel's io_uring;
// those it does not take go to the workers (or run here).
void aio_host_flush(AioWorkBatch* batch);
void rw_issue_bdev(AioKiocb* req);
// Total bytes of req->iov.
std::size_t iov_total(const AioKiocb* req);

}  // namespace iostack::aio
