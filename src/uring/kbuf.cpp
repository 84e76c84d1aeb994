// Provided buffers (io_uring/kbuf.c): PROVIDE_BUFFERS, REMOVE_BUFFERS,
// REGISTER_PBUF_RING / UNREGISTER_PBUF_RING / PBUF_STATUS, and buffer
// selection for reads and receives. A buffer ring lives in user memory and
// is read through core/uaccess; its head is private to the ring, as in the
// kernel.
#include "uring/kbuf.hpp"

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <unordered_map>

#include <sys/uio.h>

#include "core/import_iovec.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/submit_lock.hpp"
#include "uring/uapi.hpp"

namespace iostack::uring {

// ctx->kbuf: the groups by id and a cache of legacy buffer entries, so that
// consuming and providing buffers allocates nothing in steady state.
struct KbufTable {
  std::unordered_map<std::uint16_t, BufferList*> lists;
  core::ListHead cache;
};

namespace {

// MAX_BIDS_PER_BGID (io_uring/kbuf.h)
constexpr std::uint32_t kMaxBidsPerBgid = 1u << 16;
constexpr std::size_t kBufSize = sizeof(io_uring_buf);  // one ring entry

KbufTable* table(IoRingCtx* ctx, bool create) REQUIRES(ctx->uring_lock) {
  if (!ctx->kbuf && create) ctx->kbuf = new KbufTable;
  return ctx->kbuf;
}

BufferList* get_list(IoRingCtx* ctx, unsigned bgid) REQUIRES(ctx->uring_lock) {
  if (!ctx->kbuf) return nullptr;
  auto it = ctx->kbuf->lists.find(static_cast<std::uint16_t>(bgid));
  return it == ctx->kbuf->lists.end() ? nullptr : it->second;
}

// The ring's tail, published by the program with a release store.
bool ring_tail(const BufferList* bl, std::uint16_t* tail) {
  const auto* p = core::user_field<std::uint16_t>(reinterpret_cast<const void*>(bl->ring_addr),
                                                  offsetof(io_uring_buf_ring, tail));
  if (core::get_user(*tail, p)) return false;
    // The load is a fault-safe copy, so the acquire is a fence after it
    // (ThreadSanitizer cannot follow fences; GCC says so under -Wtsan).
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
  std::atomic_thread_fence(std::memory_order_acquire);
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  return true;
}

bool ring_entry(const BufferList* bl, std::uint16_t idx, io_uring_buf* out) {
  const auto* p =
      reinterpret_cast<const io_uring_buf*>(bl->ring_addr + std::uint64_t{idx} * kBufSize);
  return core::get_user(*out, p) == 0;
}

// io_kbuf_inc_commit: consumes `len` bytes from the head buffer(s) of an
// incremental ring; false while the head buffer still has room.
bool inc_commit(BufferList* bl, int len) {
  // Nothing transferred (end of file): the buffer is left as it was.
  if (len == 0) return false;
  while (len > 0) {
    io_uring_buf buf;
    const std::uint16_t idx = bl->head & bl->mask;
    if (!ring_entry(bl, idx, &buf)) return true;
    const std::uint32_t this_len = static_cast<std::uint32_t>(len) < buf.len ? len : buf.len;
    const std::uint32_t left = buf.len - this_len;
    auto* ubuf = reinterpret_cast<io_uring_buf*>(bl->ring_addr + std::uint64_t{idx} * kBufSize);
    if (left > bl->min_left_sub_one || !this_len) {
      buf.addr += this_len;
      buf.len = left;
      (void)core::put_user(buf.addr, &ubuf->addr);
      (void)core::put_user(buf.len, &ubuf->len);
      return false;
    }
    buf.len = 0;
    (void)core::put_user(buf.len, &ubuf->len);
    bl->head++;
    len -= static_cast<int>(this_len);
  }
  return true;
}

// io_kbuf_commit
bool kbuf_commit(BufferList* bl, int len) {
  if (len < 0) return true;
  if (bl->inc) return inc_commit(bl, len);
  bl->head++;
  return true;
}

// io_file_can_poll for a selecting request: sockets can; a read asks its
// file (regular files and block devices cannot).
bool selection_can_poll(IoKiocb* req) {
  if (req->opcode != IORING_OP_READ && req->opcode != IORING_OP_READV) return true;
  return file_can_poll(req);
}

std::uint64_t ring_select(IoKiocb* req, BufferList* bl, std::size_t* len, unsigned issue_flags) {
  std::uint16_t tail;
  if (!ring_tail(bl, &tail) || tail == bl->head) return 0;
  io_uring_buf buf;
  if (!ring_entry(bl, bl->head & bl->mask, &buf)) return 0;
  if (*len == 0 || *len > buf.len) *len = buf.len;
  req->flags |= kReqBufferRing;
  req->buf_index = buf.bid;
  req->buf_list = bl;
  // io_should_commit: a worker must consume it now, nothing else stops the
  // same buffer from being picked again meanwhile; nor does anything for a
  // file without readiness, whose read may still be in flight when the next
  // request selects (an O_DIRECT read on the kernel's AIO).
  if (!(issue_flags & kIssueLocked) || !selection_can_poll(req)) {
    if (!kbuf_commit(bl, static_cast<int>(*len))) req->flags |= kReqBufMore;
    req->buf_list = nullptr;
  }
  return buf.addr;
}

std::uint64_t legacy_select(IoKiocb* req, BufferList* bl, std::size_t* len) {
  if (bl->buf_list.empty()) return 0;
  KBuffer* kb = core::list_entry<KBuffer, &KBuffer::list>(bl->buf_list.first());
  kb->list.del();
  if (*len == 0 || *len > kb->len) *len = kb->len;
  // The group's last buffer: a bundle stops after this one.
  if (bl->buf_list.empty()) req->flags |= kReqBlEmpty;
  req->flags |= kReqBufferSelected;
  req->kbuf = kb;
  req->buf_index = kb->bid;
  return kb->addr;
}

// A ring's own memory (IOU_PBUF_RING_MMAP) goes with its group; the
// program's mapping of it stays valid until it unmaps it, as pages the
// kernel allocated live while mapped.
void free_group(BufferList* bl) {
  if (bl->mmap_base) munmap(bl->mmap_base, bl->mmap_bytes);
  delete bl;
}

void free_list(KbufTable* t, BufferList* bl) {
  while (!bl->buf_list.empty()) {
    core::ListHead* n = bl->buf_list.first();
    n->del();
    n->add_tail(&t->cache);
  }
}

// __io_remove_buffers for a legacy group: up to `nbufs` buffers, oldest first.
int remove_legacy(KbufTable* t, BufferList* bl, unsigned nbufs) {
  int i = 0;
  while (!bl->buf_list.empty() && static_cast<unsigned>(i) < nbufs) {
    core::ListHead* n = bl->buf_list.first();
    n->del();
    n->add_tail(&t->cache);
    ++i;
  }
  return i;
}

}  // namespace

bool buffer_held(const IoKiocb* req) { return req->flags & (kReqBufferSelected | kReqBufferRing); }

std::uint64_t buffer_select(IoKiocb* req, std::size_t* len, unsigned issue_flags) {
  RingSubmitLock lock(req->ctx, issue_flags & kIssueLocked);
  BufferList* bl = get_list(req->ctx, req->buf_index);
  if (!bl) return 0;
  return bl->is_ring ? ring_select(req, bl, len, issue_flags) : legacy_select(req, bl, len);
}

bool buffer_group_exists(IoRingCtx* ctx, unsigned bgid, unsigned issue_flags) {
  RingSubmitLock lock(ctx, issue_flags & kIssueLocked);
  return get_list(ctx, bgid) != nullptr;
}

std::uint32_t kbuf_put(IoKiocb* req, int len, unsigned issue_flags) {
  if (!buffer_held(req)) return 0;
  std::uint32_t cflags =
      IORING_CQE_F_BUFFER | (std::uint32_t{req->buf_index} << IORING_CQE_BUFFER_SHIFT);
  RingSubmitLock lock(req->ctx, issue_flags & kIssueLocked);
  if (req->flags & kReqBufferRing) {
    if (req->buf_list && !kbuf_commit(req->buf_list, len)) cflags |= uapi::kCqeFBufMore;
    if (req->flags & kReqBufMore) cflags |= uapi::kCqeFBufMore;
    req->buf_list = nullptr;
    req->flags &= ~(kReqBufferRing | kReqBufMore);
  } else {
    KbufTable* t = table(req->ctx, true);
    req->kbuf->list.add_tail(&t->cache);
    req->kbuf = nullptr;
    req->flags &= ~kReqBufferSelected;
  }
  return cflags;
}

void kbuf_recycle(IoKiocb* req, unsigned issue_flags) {
  if (!buffer_held(req)) return;
  RingSubmitLock lock(req->ctx, issue_flags & kIssueLocked);
  if (req->flags & kReqBufferRing) {
    BufferList* bl = req->buf_list;
    if (bl) {
      if (req->flags & kReqPartialIo) {
        bl->head++;
      } else {
        req->buf_index = bl->bgid;
        req->flags &= ~(kReqBufferRing | kReqBufMore);
      }
      req->buf_list = nullptr;
    }
    return;
  }
  if (req->flags & kReqPartialIo) return;
  KBuffer* kb = req->kbuf;
  BufferList* bl = get_list(req->ctx, kb->bgid);
  if (bl) {
    kb->list.add_head(&bl->buf_list);
  } else {
    kb->list.add_tail(&table(req->ctx, true)->cache);
  }
  req->kbuf = nullptr;
  req->buf_index = kb->bgid;
  req->flags &= ~kReqBufferSelected;
}

namespace {

// io_ring_buffers_peek: buffers from the ring's head into arg->iovs; the
// last one is cut to what is left of max_len (written back to the ring
// entry when it is the first: a non-incremental ring's buffer is then used
// only that far).
int ring_buffers_peek(IoKiocb* req, BufferList* bl, BufSelArg* arg) {
  std::uint16_t tail;
  if (!ring_tail(bl, &tail)) return -ENOBUFS;
  std::uint16_t head = bl->head;
  unsigned nr_avail = static_cast<std::uint16_t>(tail - head);
  if (nr_avail > core::kUioMaxIov) nr_avail = core::kUioMaxIov;
  if (!nr_avail) return -ENOBUFS;
  io_uring_buf buf;
  if (!ring_entry(bl, static_cast<std::uint16_t>(head & bl->mask), &buf)) return -EFAULT;
  if (arg->max_len) {
    if (!buf.len) return -ENOBUFS;
    std::size_t needed = (arg->max_len + buf.len - 1) / buf.len;
    if (!needed || needed > static_cast<std::size_t>(kBundleMaxIovs)) needed = kBundleMaxIovs;
    if (nr_avail > needed) nr_avail = static_cast<unsigned>(needed);
  }
  int nr_iovs = arg->nr_iovs;
  if (arg->expand && nr_avail > static_cast<unsigned>(nr_iovs) && arg->max_len)
    nr_iovs = static_cast<int>(nr_avail);
  else if (nr_avail < static_cast<unsigned>(nr_iovs))
    nr_iovs = static_cast<int>(nr_avail);
  arg->nr_iovs = nr_iovs;
  if (!arg->max_len) arg->max_len = INT_MAX;
  req->buf_index = buf.bid;
  int n = 0;
  for (;;) {
    std::uint32_t len = buf.len;
    if (len > arg->max_len) {
      len = static_cast<std::uint32_t>(arg->max_len);
      // The ring's entry keeps its length (6.18's stable fix: a receive
      // that then finds nothing must not leave the buffer cut short).
      if (!bl->inc) {
        arg->partial_map = true;
        if (n) break;
      }
    }
    arg->iovs[n].iov_base = reinterpret_cast<void*>(buf.addr);
    arg->iovs[n].iov_len = len;
    ++n;
    arg->out_len += len;
    arg->max_len -= len;
    if (!arg->max_len) break;
    ++head;
    if (n == nr_iovs) break;
    if (!ring_entry(bl, static_cast<std::uint16_t>(head & bl->mask), &buf)) break;
  }
  if (head == tail) req->flags |= kReqBlEmpty;
  req->flags |= kReqBufferRing;
  return n;
}

}  // namespace

int buffers_select(IoKiocb* req, unsigned bgid, BufSelArg* arg, bool commit, unsigned issue_flags) {
  RingSubmitLock lock(req->ctx, issue_flags & kIssueLocked);
  BufferList* bl = get_list(req->ctx, bgid);
  if (!bl) return -ENOENT;
  if (!bl->is_ring) {
    // io_provided_buffers_select: a legacy group gives one buffer.
    std::size_t len = commit ? arg->out_len : arg->max_len;
    const std::uint64_t addr = legacy_select(req, bl, &len);
    if (!addr) return -ENOBUFS;
    arg->iovs[0].iov_base = reinterpret_cast<void*>(addr);
    arg->iovs[0].iov_len = len;
    arg->nr_iovs = 1;
    arg->out_len = len;
    return 1;
  }
  const int n = ring_buffers_peek(req, bl, arg);
  if (n <= 0) return n;
  req->buf_list = bl;
  if (commit) {
    // A send's buffers are its own from here on, even while it waits.
    if (bl->inc)
      inc_commit(bl, static_cast<int>(arg->out_len));
    else
      bl->head = static_cast<std::uint16_t>(bl->head + n);
    req->buf_list = nullptr;
  }
  return n;
}

std::uint32_t kbuf_put_bufs(IoKiocb* req, int len, int nbufs, unsigned issue_flags) {
  if (!buffer_held(req)) return 0;
  if (!(req->flags & kReqBufferRing)) return kbuf_put(req, len, issue_flags);
  std::uint32_t cflags =
      IORING_CQE_F_BUFFER | (std::uint32_t{req->buf_index} << IORING_CQE_BUFFER_SHIFT);
  RingSubmitLock lock(req->ctx, issue_flags & kIssueLocked);
  if (BufferList* bl = req->buf_list; bl && len >= 0) {
    if (bl->inc) {
      if (!inc_commit(bl, len)) cflags |= uapi::kCqeFBufMore;
    } else {
      bl->head = static_cast<std::uint16_t>(bl->head + nbufs);
    }
  }
  req->buf_list = nullptr;
  req->flags &= ~(kReqBufferRing | kReqBufMore);
  return cflags;
}

void kbuf_drop(IoKiocb* req, bool locked) {
  if (!buffer_held(req)) return;
  RingSubmitLock lock(req->ctx, locked);
  if (req->flags & kReqBufferRing) {
    req->buf_list = nullptr;
    req->flags &= ~(kReqBufferRing | kReqBufMore);
    return;
  }
  req->kbuf->list.add_tail(&table(req->ctx, true)->cache);
  req->kbuf = nullptr;
  req->flags &= ~kReqBufferSelected;
}

// ---- PROVIDE_BUFFERS / REMOVE_BUFFERS
int remove_buffers_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->rw_flags || sqe->addr || sqe->len || sqe->off || sqe->splice_fd_in) return -EINVAL;
  const std::uint32_t n = static_cast<std::uint32_t>(sqe->fd);
  if (!n || n > kMaxBidsPerBgid) return -EINVAL;
  req->pbuf = ProvideBufData{};
  req->pbuf.nbufs = n;
  req->pbuf.bgid = sqe->buf_group;
  return 0;
}

int remove_buffers_issue(IoKiocb* req, unsigned issue_flags) {
  IoRingCtx* ctx = req->ctx;
  int ret;
  {
    RingSubmitLock lock(ctx, issue_flags & kIssueLocked);
    BufferList* bl = get_list(ctx, req->pbuf.bgid);
    if (!bl)
      ret = -ENOENT;
    else if (bl->is_ring)
      ret = -EINVAL;
    else
      ret = remove_legacy(ctx->kbuf, bl, req->pbuf.nbufs);
  }
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

int provide_buffers_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->rw_flags || sqe->splice_fd_in) return -EINVAL;
  ProvideBufData& p = req->pbuf;
  p = ProvideBufData{};
  const std::uint32_t n = static_cast<std::uint32_t>(sqe->fd);
  if (!n || n > kMaxBidsPerBgid) return -E2BIG;
  p.nbufs = n;
  p.addr = sqe->addr;
  p.len = sqe->len;
  // Zero-length buffers would be refused when used (6.18 and its stable
  // kernels check here; fuzz seeds 3269, 3750 of the extended generator).
  if (!p.len) return -EINVAL;
  std::uint64_t size, end;
  if (__builtin_mul_overflow(std::uint64_t{p.len}, std::uint64_t{p.nbufs}, &size))
    return -EOVERFLOW;
  if (__builtin_add_overflow(p.addr, size, &end)) return -EOVERFLOW;
  if (!core::access_ok(reinterpret_cast<const void*>(p.addr), size)) return -EFAULT;
  p.bgid = sqe->buf_group;
  const std::uint64_t bid = sqe->off;
  if (bid > USHRT_MAX) return -E2BIG;
  if (bid + p.nbufs > kMaxBidsPerBgid) return -EINVAL;
  p.bid = static_cast<std::uint32_t>(bid);
  return 0;
}

int provide_buffers_issue(IoKiocb* req, unsigned issue_flags) {
  IoRingCtx* ctx = req->ctx;
  const ProvideBufData& p = req->pbuf;
  int ret = 0;
  {
    RingSubmitLock lock(ctx, issue_flags & kIssueLocked);
    KbufTable* t = table(ctx, true);
    BufferList*& slot = t->lists[static_cast<std::uint16_t>(p.bgid)];
    if (!slot) {
      slot = new BufferList;
      slot->bgid = static_cast<std::uint16_t>(p.bgid);
    }
    BufferList* bl = slot;
    if (bl->is_ring) {
      ret = -EINVAL;
    } else {
      std::uint64_t addr = p.addr;
      for (std::uint32_t i = 0; i < p.nbufs; ++i) {
        KBuffer* kb;
        if (!t->cache.empty()) {
          kb = core::list_entry<KBuffer, &KBuffer::list>(t->cache.first());
          kb->list.del();
        } else {
          kb = new KBuffer;
        }
        kb->addr = addr;
        kb->len = p.len < core::kMaxRwCount ? p.len : static_cast<std::uint32_t>(core::kMaxRwCount);
        kb->bid = static_cast<std::uint16_t>(p.bid + i);
        kb->bgid = static_cast<std::uint16_t>(p.bgid);
        kb->list.add_tail(&bl->buf_list);
        addr += p.len;
      }
    }
  }
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// ---- IORING_REGISTER_PBUF_RING and friends
static bool resv_zero(const uapi::BufReg& reg) {
  for (std::uint32_t w : reg.resv)
    if (w) return false;
  return true;
}

int register_pbuf_ring(IoRingCtx* ctx, void* arg) {
  uapi::BufReg reg;
  if (core::copy_from_user(&reg, arg, sizeof(reg))) return -EFAULT;
  if (!resv_zero(reg)) return -EINVAL;
  if (reg.flags & ~(uapi::kPbufRingMmap | uapi::kPbufRingInc)) return -EINVAL;
  if (!reg.ring_entries || (reg.ring_entries & (reg.ring_entries - 1))) return -EINVAL;
  if (reg.ring_entries >= 65536) return -EINVAL;
  // The room an incremental buffer must keep to be used again.
  if (!(reg.flags & uapi::kPbufRingInc) && reg.min_left) return -EINVAL;
  BufferList* bl = get_list(ctx, reg.bgid);
  if (bl && (bl->is_ring || !bl->buf_list.empty())) return -EEXIST;
  const std::size_t bytes = std::size_t{reg.ring_entries} * kBufSize;
  const std::size_t page = static_cast<std::size_t>(getpagesize());
  std::uint64_t ring_addr = reg.ring_addr;
  void* own = nullptr;
  std::size_t own_bytes = 0;
  if (reg.flags & uapi::kPbufRingMmap) {
    // io_create_region without a user address: zeroed pages of the
    // engine's, which the program maps at IORING_OFF_PBUF_RING | bgid << 16
    // (ring_addr is not looked at).
    own_bytes = (bytes + page - 1) & ~(page - 1);
    own = mmap(nullptr, own_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (own == MAP_FAILED) return -ENOMEM;
    ring_addr = reinterpret_cast<std::uint64_t>(own);
  } else {
    if (!reg.ring_addr) return -EFAULT;
    if (reg.ring_addr & (page - 1)) return -EINVAL;
    // io_pin_pages: the ring must be there, writable.
    if (!core::access_ok(reinterpret_cast<void*>(reg.ring_addr), bytes) ||
        core::fault_in_writeable(reinterpret_cast<void*>(reg.ring_addr), bytes))
      return -EFAULT;
  }
  KbufTable* t = table(ctx, true);
  if (!bl) {
    bl = new BufferList;
    t->lists[reg.bgid] = bl;
  }
  bl->bgid = reg.bgid;
  bl->ring_addr = ring_addr;
  bl->mmap_base = own;
  bl->mmap_bytes = own_bytes;
  bl->nr_entries = reg.ring_entries;
  bl->mask = static_cast<std::uint16_t>(reg.ring_entries - 1);
  bl->head = 0;
  bl->is_ring = true;
  bl->inc = reg.flags & uapi::kPbufRingInc;
  bl->min_left_sub_one = reg.min_left ? reg.min_left - 1 : 0;
  return 0;
}

int unregister_pbuf_ring(IoRingCtx* ctx, void* arg) {
  uapi::BufReg reg;
  if (core::copy_from_user(&reg, arg, sizeof(reg))) return -EFAULT;
  if (!resv_zero(reg) || reg.flags) return -EINVAL;
  BufferList* bl = get_list(ctx, reg.bgid);
  if (!bl) return -ENOENT;
  if (!bl->is_ring) return -EINVAL;
  ctx->kbuf->lists.erase(reg.bgid);
  free_group(bl);
  return 0;
}

int register_pbuf_status(IoRingCtx* ctx, void* arg) {
  uapi::BufStatus st;
  if (core::copy_from_user(&st, arg, sizeof(st))) return -EFAULT;
  for (std::uint32_t r : st.resv)
    if (r) return -EINVAL;
  BufferList* bl = get_list(ctx, st.buf_group);
  if (!bl) return -ENOENT;
  if (!bl->is_ring) return -EINVAL;
  st.head = bl->head;
  if (core::copy_to_user(arg, &st, sizeof(st))) return -EFAULT;
  return 0;
}

int pbuf_mmap_region(IoRingCtx* ctx, unsigned bgid, char** base, std::size_t* bytes) {
  core::LockGuard lock(ctx->uring_lock);
  BufferList* bl = get_list(ctx, bgid);
  if (!bl || !bl->is_ring || !bl->mmap_base) return -EINVAL;
  *base = static_cast<char*>(bl->mmap_base);
  *bytes = bl->mmap_bytes;
  return 0;
}

void destroy_buffers(IoRingCtx* ctx) {
  KbufTable* t = ctx->kbuf;
  if (!t) return;
  for (auto& [bgid, bl] : t->lists) {
    free_list(t, bl);
    free_group(bl);
  }
  while (!t->cache.empty()) {
    core::ListHead* n = t->cache.first();
    n->del();
    delete core::list_entry<KBuffer, &KBuffer::list>(n);
  }
  delete t;
  ctx->kbuf = nullptr;
}

}  // namespace iostack::uring
