// The process's AIO contexts (mm->ioctx_table) and the aio-nr / aio-max-nr
// accounting (fs/aio.c: ioctx_alloc, ioctx_add_table, lookup_ioctx,
// kill_ioctx). iostack counts the contexts of this process only.
#pragma once

#include "aio/kioctx.hpp"

namespace iostack::aio {

// ioctx_alloc(): 0 and *out, or -EINVAL / -EAGAIN / -ENOMEM.
int ioctx_alloc(unsigned nr_events, Kioctx** out);
// lookup_ioctx(): the live context whose ring is at `ctx_id`, with a users
// reference the caller drops with put_ioctx(); null if there is none.
Kioctx* lookup_ioctx(unsigned long ctx_id);
inline void put_ioctx(Kioctx* ctx) { ctx->users.put(); }
// kill_ioctx(): takes the context out of the table and the accounting;
// -EINVAL when someone already did.
int kill_ioctx(Kioctx* ctx);
// After a successful kill: waits for callers and requests, cancels what is
// cancellable, unmaps the ring and frees the context.
void free_ioctx(Kioctx* ctx);

unsigned long aio_max_nr();
void set_aio_max_nr(unsigned long v);
unsigned long aio_nr();

}  // namespace iostack::aio
