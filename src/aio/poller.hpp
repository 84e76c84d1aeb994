// The wait queues IOCB_CMD_POLL sleeps on (fs/aio.c: aio_poll_wake,
// aio_poll_complete_work), built on one epoll instance and one thread per
// process: each armed request registers a private dup of its descriptor
// (EPOLLONESHOT); the thread completes requests when their file becomes
// ready or when io_cancel / io_destroy cancels them.
#pragma once

#include "aio/kiocb.hpp"

namespace iostack::aio {

// Registers req->poll_fd for req->poll_events. 0, or -EPERM when the file
// cannot be waited on, or another -errno.
int poller_arm(AioKiocb* req);
// Hands a request whose state went kArmed -> kCancelling to the thread,
// which completes it with res 0.
void poller_cancel(AioKiocb* req);
// After a request of io_submit that may have woken a file (signalled its
// resfd, wrote or read a pipe): armed polls it woke complete now.
void poller_catch_up();

}  // namespace iostack::aio
