// Provided buffers (io_uring/kbuf.c, kbuf.h): buffer groups of a ring, legacy
// lists (PROVIDE_BUFFERS) and buffer rings in user memory
// (REGISTER_PBUF_RING), and the selection that reads and receives with
// IOSQE_BUFFER_SELECT make.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uring/ctx.hpp"

struct iovec;

namespace iostack::uring {

struct IoRingCtx;
struct IoKiocb;

// Picks a buffer of group req->buf_index. `*len` is what the op wants (0:
// the whole buffer) and becomes what it may use. Returns the buffer's user
// address, or 0 when the group is missing or empty (-ENOBUFS for the op).
std::uint64_t buffer_select(IoKiocb* req, std::size_t* len, unsigned issue_flags);
// Whether buffer group `bgid` exists (io_buffer_get_list).
bool buffer_group_exists(IoRingCtx* ctx, unsigned bgid, unsigned issue_flags);
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

// struct buf_sel_arg (io_uring/kbuf.h): what a bundle maps. `iovs` holds
// room for `nr_iovs` entries, or for kBundleMaxIovs when the peek may
// expand (KBUF_MODE_EXPAND); `max_len` 0 means no limit.
constexpr int kBundleMaxIovs = 256;  // PEEK_MAX_IMPORT
struct BufSelArg {
  struct iovec* iovs = nullptr;
  int nr_iovs = 1;
  bool expand = false;
  std::size_t max_len = 0;
  std::size_t out_len = 0;
  bool partial_map = false;
};
// io_buffers_select (`commit`: a send consumes them at once) and
// io_buffers_peek (a receive commits at completion): the number of buffers
// mapped into arg->iovs, or -ENOENT (no group) / -ENOBUFS (empty). Sets
// kReqBlEmpty when the ring had no more buffers than were mapped.
int buffers_select(IoKiocb* req, unsigned bgid, BufSelArg* arg, bool commit, unsigned issue_flags);
// io_put_kbufs: a bundle moved `len` bytes through `nbufs` buffers.
std::uint32_t kbuf_put_bufs(IoKiocb* req, int len, int nbufs, unsigned issue_flags);

// io_uring_register opcodes, uring_lock held.
int register_pbuf_ring(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
int unregister_pbuf_ring(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
int register_pbuf_status(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);
// io_pbuf_get_region: the memory of buffer ring `bgid` when the engine
// allocated it (IOU_PBUF_RING_MMAP), for the program's mmap; -EINVAL else.
int pbuf_mmap_region(IoRingCtx* ctx, unsigned bgid, char** base, std::size_t* bytes);
// Frees every group at ring teardown.
void destroy_buffers(IoRingCtx* ctx) REQUIRES(ctx->uring_lock);

}  // namespace iostack::uring
