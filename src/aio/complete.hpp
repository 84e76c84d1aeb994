// The life of a request (fs/aio.c: aio_get_req, iocb_put, aio_complete,
// iocb_destroy): two references, one for the submitter and one for the
// I/O; the event goes into the ring when both are gone.
#pragma once

#include "aio/kioctx.hpp"

namespace iostack::aio {

// A slot with both references, or null when the context's request budget
// is spent (io_submit answers -EAGAIN).
AioKiocb* aio_get_req(Kioctx* ctx);
// Drops one reference; the last one posts the event and frees the slot.
void iocb_put(AioKiocb* req);
// Frees the slot without posting an event (a submission that failed).
void iocb_destroy(AioKiocb* req);
// A worker's read or write of `req` has returned: counted in
// ctx->finishing until its event is posted.
void aio_finishing(AioKiocb* req);
// aio_complete_rw(): records `res` and drops the I/O's reference.
void aio_complete_rw(AioKiocb* req, long res);

}  // namespace iostack::aio
