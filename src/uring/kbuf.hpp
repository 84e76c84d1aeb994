// Provided buffers (io_uring/kbuf.c, kbuf.h): buffer groups of a ring, legacy
// lists (PROVIDE_BUFFERS) and buffer rings in user memory
// (REGISTER_PBUF_RING), and the selection that reads and receives with
// IOSQE_BUFFER_SELECT make.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iostack::uring {

struct IoRingCtx;
struct IoKiocb;

// Picks a buffer of group req->buf_index. `*len` is what the op wants (0:
// the whole buffer) and becomes what it may use. Returns the buffer's user
// address, or 0 when the group is missing or empty (-ENOBUFS for the op).
std::uint64_t buffer_select(IoKiocb* req, std::size_t* len, unsigned issue_flags);
// Whether a buffer is held (selected and not yet put or recycled).
bool buffer_held(const IoKiocb* req);
// io_put_kbuf: the transfer of `len` bytes (or an error) is over; returns the
// CQE flags naming the buffer (F_BUFFER, its id, F_BUF_MORE).
std::uint32_t kbuf_put(IoKiocb* req, int len, unsigned issue_flags);
// io_kbuf_recycle: nothing was transferred; the buffer stays available.
void kbuf_recycle(IoKiocb* req, unsigned issue_flags);
// io_kbuf_drop: a request ends still holding a buffer (an error path); a
// legacy buffer is consumed, a ring buffer not committed stays available.
void kbuf_drop(IoKiocb* req, bool locked);

// io_uring_register opcodes, uring_lock held.
int register_pbuf_ring(IoRingCtx* ctx, void* arg);
int unregister_pbuf_ring(IoRingCtx* ctx, void* arg);
int register_pbuf_status(IoRingCtx* ctx, void* arg);
// Frees every group at ring teardown.
void destroy_buffers(IoRingCtx* ctx);

}  // namespace iostack::uring
