// Reads and writes (io_uring/rw.c): READ, WRITE, READV, WRITEV, READ_FIXED,
// WRITE_FIXED, READV_FIXED, WRITEV_FIXED, READ_MULTISHOT. An OS descriptor is tried inline with
// RWF_NOWAIT and handed to io-wq (or to poll, for pipes and sockets) on -EAGAIN; an O_DIRECT file
// goes to the kernel's AIO where this process may use it; an iostack block
// device goes through block::bdev_rw.
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/eventfd_info.hpp"
#include "core/fd_mode_cache.hpp"
#include "core/host_aio.hpp"
#include "core/import_iovec.hpp"
#include "core/raw_syscall.h"
#include "core/uaccess.hpp"
#include "core/write_limit.hpp"
#include "task/current.hpp"
#include "task/task_ioprio.hpp"
#include "uring/engine.hpp"
#include "uring/kbuf.hpp"

namespace iostack::uring {

namespace {

// The ring a read or write names, held while it is looked at. A ring's file
// has no read or write method and no FMODE_NOWAIT: io_file_supports_nowait
// asks its poll, and the request waits on it until it reports what the
// request wants.
struct RingFile {
  explicit RingFile(int fd) : ref(ring_file_get(fd)), ctx(ring_of(ref)) {}
  bool waits_for(unsigned want) const { return ctx && !(ring_poll_mask(ctx) & want); }
  core::FileRef ref;
  IoRingCtx* ctx;  // null: not a ring
};

using uapi::AttrPi;
constexpr std::uint64_t kRwAttrFlagPi = 1;

// io_prep_rw_pi: the attribute is read and its buffer imported at prep.
// No file here has an integrity profile, so the transfer fails at issue.
int prep_rw_attr(IoKiocb* req, const io_uring_sqe* sqe) {
  // sqe->attr_type_mask and sqe->attr_ptr, where this header has __pad2 and addr3.
  const std::uint64_t mask = sqe->__pad2[0];
  if (!mask) return 0;
  if (mask != kRwAttrFlagPi) return -EINVAL;
  AttrPi pi;
  if (core::copy_from_user(&pi, reinterpret_cast<const void*>(sqe->addr3), sizeof(pi)))
    return -EFAULT;
  if (pi.rsvd) return -EINVAL;
  struct iovec iov;
  const long len = core::import_ubuf(reinterpret_cast<void*>(pi.addr), pi.len, &iov);
  if (len < 0) return static_cast<int>(len);
  req->rw.has_pi = true;
  return 0;
}

int prep_common(IoKiocb* req, const io_uring_sqe* sqe) {
  RwData& rw = req->rw;
  rw.pos = static_cast<std::int64_t>(sqe->off);
  rw.buf_index = sqe->buf_index;
  if (sqe->ioprio) {
    const int ret = task::ioprio_check_cap(task::current(), sqe->ioprio);
    if (ret) return ret;
    req->ioprio = sqe->ioprio;
  } else {
    req->ioprio = task::current_ioprio();
  }
  rw.addr = sqe->addr;
  rw.len = sqe->len;
  rw.rw_flags = static_cast<int>(sqe->rw_flags);
  if (rw.rw_flags & RWF_NOWAIT) req->flags |= kReqNowait;
  rw.iov = nullptr;
  rw.iov_alloc = nullptr;
  rw.nr_segs = 0;
  rw.done = 0;
  rw.nowait_issue = false;
  rw.cur_pos = false;
  rw.waited_ring = false;
  rw.start_fpos = -1;
  rw.has_pi = false;
  return prep_rw_attr(req, sqe);
}

// READ_FIXED / WRITE_FIXED: the range is checked against the registered
// buffer at issue.
int prep_fixed(IoKiocb* req, const io_uring_sqe* sqe) {
  if (int ret = prep_common(req, sqe)) return ret;
  std::uint64_t len = req->rw.len;
  if (len > core::kMaxRwCount) len = core::kMaxRwCount;
  req->rw.len = static_cast<std::uint32_t>(len);
  req->rw.bytes = static_cast<std::int64_t>(len);
  return 0;
}

// READ / WRITE: import_ubuf at prep, so a buffer outside user space is
// -EFAULT before anything runs.
int prep_single(IoKiocb* req, const io_uring_sqe* sqe) {
  if (int ret = prep_common(req, sqe)) return ret;
  RwData& rw = req->rw;
  if (req->flags & kReqBufferSelect) return 0;  // the buffer would be picked at issue
  struct iovec iov;
  const long len = core::import_ubuf(reinterpret_cast<void*>(rw.addr), rw.len, &iov);
  if (len < 0) return static_cast<int>(len);
  rw.len = static_cast<std::uint32_t>(len);
  rw.bytes = len;
  return 0;
}

// Room for `nr` segments in rw.iov: the request's own array, or one
// allocated for it (freed at cleanup).
int alloc_iov(IoKiocb* req, unsigned nr) {
  RwData& rw = req->rw;
  if (nr <= RwData::kFastIov) {
    rw.iov = rw.fast_iov;
    return 0;
  }
  rw.iov_alloc = static_cast<struct iovec*>(std::malloc(sizeof(struct iovec) * nr));
  if (!rw.iov_alloc) return -ENOMEM;
  req->flags |= kReqCleanup;
  rw.iov = rw.iov_alloc;
  return 0;
}

// Imports the iovec array now (FEAT_SUBMIT_STABLE: the SQE and what it
// points to are consumed by the time submission returns).
int prep_vec(IoKiocb* req, const io_uring_sqe* sqe) {
  if (int ret = prep_common(req, sqe)) return ret;
  RwData& rw = req->rw;
  const unsigned nr = rw.len;
  if (req->flags & kReqBufferSelect) {
    // io_iov_buffer_select_prep: one iovec, read now, giving the length.
    if (nr != 1) return -EINVAL;
    struct iovec v;
    if (core::copy_from_user(&v, reinterpret_cast<const void*>(rw.addr), sizeof(v))) return -EFAULT;
    rw.len = static_cast<std::uint32_t>(v.iov_len);
    return 0;
  }
  if (nr > core::kUioMaxIov) return -EINVAL;
  if (const int err = alloc_iov(req, nr)) return err;
  const long total = core::import_iovec(reinterpret_cast<const struct iovec*>(rw.addr), nr, rw.iov);
  if (total < 0) return static_cast<int>(total);
  rw.nr_segs = static_cast<int>(nr);
  rw.bytes = total;
  return 0;
}

// READV_FIXED / WRITEV_FIXED (io_prep_reg_iovec): the iovec array is copied
// now, its segments are checked against the registered buffer at issue.
int prep_vec_fixed(IoKiocb* req, const io_uring_sqe* sqe) {
  if (int ret = prep_common(req, sqe)) return ret;
  RwData& rw = req->rw;
  const unsigned nr = rw.len;
  // The array is allocated before it is copied: one too big for kmalloc
  // (4 MiB) fails that way first.
  if (std::uint64_t{nr} * sizeof(struct iovec) > (4u << 20)) return -ENOMEM;
  if (const int err = alloc_iov(req, nr)) return err;
  if (const int err =
          core::iovec_from_user(reinterpret_cast<const struct iovec*>(rw.addr), nr, rw.iov))
    return err;
  rw.nr_segs = static_cast<int>(nr);
  rw.bytes = -1;  // known once the segments are checked
  return 0;
}

bool is_fixed(std::uint8_t op) { return op == IORING_OP_READ_FIXED || op == IORING_OP_WRITE_FIXED; }
bool is_vec_fixed(std::uint8_t op) {
  return op == uapi::kOpReadvFixed || op == uapi::kOpWritevFixed;
}
bool is_vectored(std::uint8_t op) {
  return op == IORING_OP_READV || op == IORING_OP_WRITEV || is_vec_fixed(op);
}

// The iovec for the part not transferred yet.
int build_iov(IoKiocb* req, struct iovec** iov) {
  RwData& rw = req->rw;
  if (!is_vectored(req->opcode)) {
    rw.fast_iov[0].iov_base =
        reinterpret_cast<void*>(rw.addr + static_cast<std::uint64_t>(rw.done));
    rw.fast_iov[0].iov_len = rw.len - static_cast<std::size_t>(rw.done);
    *iov = rw.fast_iov;
    return 1;
  }
  *iov = rw.iov;
  return rw.nr_segs;
}

// Drops `n` transferred bytes from the front of a vectored request.
void advance_iov(IoKiocb* req, std::int64_t n) {
  RwData& rw = req->rw;
  if (!is_vectored(req->opcode)) return;
  while (n > 0 && rw.nr_segs > 0) {
    const auto len = static_cast<std::int64_t>(rw.iov[0].iov_len);
    if (n >= len) {
      n -= len;
      rw.iov++;
      rw.nr_segs--;
    } else {
      rw.iov[0].iov_base = static_cast<char*>(rw.iov[0].iov_base) + n;
      rw.iov[0].iov_len -= static_cast<std::size_t>(n);
      n = 0;
    }
  }
}

// preadv2/pwritev2 made directly (core/raw_syscall.h), errno set as by
// libc; sanitizer builds keep libc's wrappers, which they check and order.
ssize_t rw_syscall(bool write, int fd, const struct iovec* iov, int nr, std::int64_t pos,
                   int flags) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  return write ? pwritev2(fd, iov, nr, pos, flags) : preadv2(fd, iov, nr, pos, flags);
#else
  long r;
  if (nr == 1 && flags == 0 && pos >= 0 && iov[0].iov_len != 0) {
    // One buffer at an offset and no flags: pread64/pwrite64 answer as
    // preadv2/pwritev2 would, without importing an iovec. Not for an empty
    // one: vfs_read hands that to a plain ->read (a directory's -EISDIR),
    // where preadv2 and io_uring's loop_rw_iter read nothing.
    r = iostack_raw_syscall6(write ? SYS_pwrite64 : SYS_pread64, fd,
                             reinterpret_cast<long>(iov[0].iov_base),
                             static_cast<long>(iov[0].iov_len), static_cast<long>(pos), 0, 0);
  } else {
    // On x86-64 the offset is the low word, the high one unused.
    r = iostack_raw_syscall6(write ? SYS_pwritev2 : SYS_preadv2, fd, reinterpret_cast<long>(iov),
                             nr, static_cast<long>(pos), 0, flags);
  }
  if (r >= 0) return r;
  errno = static_cast<int>(-r);
  return -1;
#endif
}

// The first `bytes` of an iovec array, in `out` (a rare path: RLIMIT_FSIZE).
int clip_iov(const struct iovec* iov, int nr, std::size_t bytes, std::vector<struct iovec>* out,
             struct iovec** result) {
  out->clear();
  for (int i = 0; i < nr && bytes; ++i) {
    struct iovec v = iov[i];
    if (v.iov_len > bytes) v.iov_len = bytes;
    bytes -= v.iov_len;
    out->push_back(v);
  }
  *result = out->data();
  return static_cast<int>(out->size());
}

// RWF_* values newer than the build's headers, and what 6.18 accepts.
constexpr unsigned kRwfNoappend = 0x20;
constexpr unsigned kRwfAtomic = 0x40;
constexpr unsigned kRwfDontcache = 0x80;
constexpr unsigned kRwfSupported = 0x1ff;  // up to RWF_NOSIGNAL

// Files whose read or write iostack knows to be a plain ->read/->write:
// eventfds, and directories (whose RWF_NOWAIT io_uring still refuses).
bool has_only_plain_rw(IoKiocb* req, bool write) {
  struct stat st;
  if (!write && !(req->rw.rw_flags & RWF_NOWAIT) && fstat(req->os_fd, &st) == 0 &&
      S_ISDIR(st.st_mode))
    return true;
  return core::is_eventfd(req->os_fd);
}

bool is_dir(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

// What io_rw_init_file and rw_verify_area check before any transfer, in
// their order: access mode, rw_flags, IOPOLL/HIPRI, a NOWAIT buffered write
// where the file system cannot do one, then the offset. preadv2/pwritev2
// check some of these in another order, and a zero-length transfer returns
// before checking anything; so this runs for requests with rw_flags, empty
// ones, and failed ones (never on the plain fast path).
// FOP_DONTCACHE: regular files of ext4, XFS and btrfs.
bool has_dontcache(int fd, const struct stat& st) {
  struct statfs sf;
  if (!S_ISREG(st.st_mode) || fstatfs(fd, &sf) != 0) return false;
  return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
         sf.f_type == BTRFS_SUPER_MAGIC;
}

// `file_only`: stop where io_read and io_write hand a file without
// FMODE_NOWAIT (a directory, a ring) to io-wq or to poll, before the offset.
int rw_validate(IoKiocb* req, bool write, bool nonblock, bool file_only = false) {
  RwData& rw = req->rw;
  const int fl = fcntl(req->os_fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH)) return -EBADF;
  const int acc = fl & O_ACCMODE;
  if (write ? acc == O_RDONLY : acc == O_WRONLY) return -EBADF;
  const unsigned f = static_cast<unsigned>(rw.rw_flags);
  if (f & ~kRwfSupported) return -EOPNOTSUPP;
  if ((f & RWF_APPEND) && (f & kRwfNoappend)) return -EINVAL;
  if ((f & kRwfAtomic) && (!write || !(fl & O_DIRECT))) return -EOPNOTSUPP;
  struct stat st;
  if (fstat(req->os_fd, &st) != 0) return -EBADF;
  if ((f & kRwfDontcache) && !has_dontcache(req->os_fd, st)) return -EOPNOTSUPP;
  // A ring's file and a directory have no FMODE_NOWAIT (kiocb_set_rw_flags),
  // whatever the length.
  if ((f & RWF_NOWAIT) && (S_ISDIR(st.st_mode) || is_ring_fd(req->os_fd))) return -EOPNOTSUPP;
  if (req->ctx->flags & IORING_SETUP_IOPOLL) {
    if (!(fl & O_DIRECT) || !file_has_iopoll(req->os_fd, st)) return -EOPNOTSUPP;
  } else if (f & RWF_HIPRI) {
    return -EINVAL;
  }
  // No FMODE_HAS_METADATA: no file here has an integrity profile.
  if (rw.has_pi) return -EINVAL;
  // Inline, a buffered write that could block is not tried (from io-wq it is).
  if (nonblock && write && (f & RWF_NOWAIT) && S_ISREG(st.st_mode) && !(fl & O_DIRECT) &&
      !core::fs_buffered_wasync(req->os_fd))
    return -EAGAIN;
  if (file_only) return 0;
  if (rw.pos != -1) {
    std::int64_t end;
    if (rw.pos < 0 || __builtin_add_overflow(rw.pos, rw.bytes, &end)) return -EINVAL;
  }
  // A socket is no FMODE_STREAM file, so its offset reaches sock_read_iter
  // and sock_write_iter, which refuse any but 0, also for an empty request
  // (fuzz seeds 170862, 176383).
  if (rw.pos > 0 && S_ISSOCK(st.st_mode)) return -ESPIPE;
  // An eventfd reads 8 bytes or fails, also for an empty request (an empty
  // write never reaches its write op).
  if (!write && rw.bytes < 8 && (st.st_mode & S_IFMT) == 0 && core::is_eventfd(req->os_fd))
    return -EINVAL;
  // An eventfd's write has no kiocb: loop_rw_iter refuses RWF_NOWAIT where
  // the file may block before it looks at the length, so also when empty.
  if (nonblock && write && (f & RWF_NOWAIT) && !(fl & O_NONBLOCK) && (st.st_mode & S_IFMT) == 0 &&
      core::is_eventfd(req->os_fd))
    return -EAGAIN;
  return 0;
}

// `issue_flags` say whether uring_lock is held, for giving back a provided
// buffer (whose id goes into the CQE's flags).
int finish_rw(IoKiocb* req, std::int64_t res, unsigned issue_flags = 0) {
  if (res != req->rw.bytes) req_set_fail(req);
  const std::uint32_t cflags = kbuf_put(req, static_cast<int>(res), issue_flags);
  req_set_res(req, static_cast<int>(res), cflags);
  return kIouOk;
}

void host_end_io(void* owner, long res) {
  auto* req = static_cast<IoKiocb*>(owner);
  if (res == -EAGAIN && !(req->flags & kReqNowait)) {
    queue_iowq(req);
    return;
  }
  finish_rw(req, res);
  req_complete_post(req);
}

// The kernel's io_uring issues O_DIRECT I/O to the device without waiting
// (IOCB_NOWAIT, completion by interrupt); a preadv2 here would wait for the
// device and serialise the ring. The kernel's AIO with RWF_NOWAIT does what
// io_uring's first attempt does, -EAGAIN included (then io-wq, as there).
// false: not taken, go on with the descriptor's usual path.
bool rw_os_host_aio(IoKiocb* req, bool write, unsigned issue_flags) {
  RwData& rw = req->rw;
  if (rw.done != 0 || rw.pos < 0) return false;
  if (write) {
    std::size_t allowed = static_cast<std::size_t>(rw.bytes);
    if (core::write_limit_check(req->os_fd, rw.pos, &allowed) != 0 ||
        allowed != static_cast<std::size_t>(rw.bytes))
      return false;
  }
  struct iocb& cb = req->host.cb;
  cb = {};
  const bool vec = is_vectored(req->opcode);
  cb.aio_lio_opcode = static_cast<std::uint16_t>(vec ? (write ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV)
                                                     : (write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD));
  cb.aio_fildes = static_cast<std::uint32_t>(req->os_fd);
  cb.aio_buf = vec ? reinterpret_cast<std::uintptr_t>(rw.iov) : rw.addr;
  cb.aio_nbytes = vec ? static_cast<std::uint64_t>(rw.nr_segs) : rw.len;
  cb.aio_offset = rw.pos;
  cb.aio_rw_flags = rw.rw_flags | RWF_NOWAIT;
  if (req->ioprio) {
    cb.aio_flags = IOCB_FLAG_IOPRIO;
    cb.aio_reqprio = static_cast<std::int16_t>(req->ioprio);
  }
  req->host.done = host_end_io;
  req->host.owner = req;
  HostAioPlug* plug = nullptr;
  if (issue_flags & kIssueLocked) {
    core::lockdep_assert_held(req->ctx->uring_lock);
    plug = req->ctx->st.host_plug;
  }
  if (!plug) return core::host_aio_submit(&req->host);
  if (!core::host_aio_usable()) return false;
  if (plug->nr == core::kHostAioBatchMax) host_plug_flush(plug);
  plug->reqs[plug->nr++] = &req->host;
  return true;
}

// need_complete_io: the files whose short reads the kernel retries.
bool is_regular_or_blk(IoKiocb* req) {
  struct stat st;
  return fstat(req->os_fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

// On io-wq, a write left short on a regular file or block device (io_write
// answers -EAGAIN, io_req_task_queue_fail) and a transfer whose last try
// failed after earlier bytes (io_rw_done) end from task work, failed, with
// the bytes moved (io_rw_fail): the link behind them is issued there, not
// by the worker (fuzz seed 905161).
int finish_rw_in_task_work(IoKiocb* req, std::int64_t done, unsigned issue_flags) {
  finish_rw(req, done, issue_flags);  // short: failed
  tw_add(req, tw_req_complete);
  return kIouIssueSkipComplete;
}

// A request at the file position that fails after moving `done` bytes
// leaves f_pos where it was (kiocb_done stores ki_pos back only after a
// success). For a write that is the position before it, which an O_APPEND
// write moved to the end of the file, not `done` bytes back.
void restore_fpos(IoKiocb* req, std::int64_t done) {
  if (req->rw.start_fpos >= 0)
    lseek(req->os_fd, req->rw.start_fpos, SEEK_SET);
  else
    lseek(req->os_fd, -done, SEEK_CUR);
}

// A polled read of a regular file that reached the device: a queue that
// cannot poll refuses the bio (iomap polls a read's bio; a write's, which
// needs completion work, it does not). Reads at EOF need no bio.
bool polled_read_refused(IoKiocb* req) {
  struct stat st;
  return fstat(req->os_fd, &st) == 0 && S_ISREG(st.st_mode) && !host_queue_polls(st.st_dev);
}

int rw_os(IoKiocb* req, unsigned issue_flags, bool write) {
  RwData& rw = req->rw;
  IoRingCtx* ctx = req->ctx;
  const bool nonblock = issue_flags & kIssueNonblock;
  if (rw.done == 0 &&
      (rw.rw_flags || rw.bytes == 0 || rw.has_pi || (ctx->flags & IORING_SETUP_IOPOLL))) {
    // A ring has no FMODE_NOWAIT: the kernel waits on its poll before it
    // looks at the offset (fuzz seed 49546).
    const bool ring = nonblock && is_ring_fd(req->os_fd);
    // Nor has a directory: an empty read of one goes to io-wq too, before
    // its offset is looked at, and reads nothing there.
    const bool empty_dir = nonblock && rw.bytes == 0 && !write && is_dir(req->os_fd);
    if (const int err = rw_validate(req, write, nonblock, ring || empty_dir))
      return finish_rw(req, err, issue_flags);
    if (nonblock && rw.bytes == 0 && !(req->flags & kReqNowait) &&
        (empty_dir || (write && is_blocking_eventfd(req->os_fd)))) {
      // loop_rw_iter refuses a non-blocking try of a blocking eventfd's
      // write before it looks at the length (fuzz seed 80816).
      req->flags |= kReqNoApoll;
      return -EAGAIN;
    }
  }
  if (nonblock && !(ctx->flags & IORING_SETUP_IOPOLL) && core::fd_is_direct_file(req->os_fd)) {
    if (rw_os_host_aio(req, write, issue_flags)) return kIouIssueSkipComplete;
    // Without the kernel's AIO a worker waits for the device, so that
    // requests overlap as they do on the kernel.
    if (!(req->flags & kReqNowait)) {
      req->flags |= kReqNoApoll;
      return -EAGAIN;
    }
  }
  if (write && nonblock && rw.done == 0 && core::fd_buffered_writes_block(req->os_fd)) {
    // io_write hands a buffered write to io-wq before looking at its offset
    // when the file system cannot write without blocking.
    if (req->flags & kReqNowait) return finish_rw(req, -EAGAIN, issue_flags);
    req->flags |= kReqNoApoll;
    return -EAGAIN;
  }
  // Issued to block (on io-wq), the kernel clears IOCB_NOWAIT, the
  // program's RWF_NOWAIT included.
  int rwf = nonblock ? (rw.rw_flags | RWF_NOWAIT) : (rw.rw_flags & ~RWF_NOWAIT);
  struct iovec* iov;
  int nr = build_iov(req, &iov);
  std::int64_t pos = rw.pos == -1 ? -1 : rw.pos + rw.done;
  std::vector<struct iovec> clipped;
  if (write) {
    const auto want = static_cast<std::size_t>(rw.bytes - rw.done);
    std::size_t allowed = want;
    if (const int err = core::write_limit_check(req->os_fd, pos, &allowed)) {
      if (rw.done && pos == -1 && is_regular_or_blk(req)) restore_fpos(req, rw.done);
      return finish_rw(req, rw.done ? rw.done : err, issue_flags);
    }
    if (allowed < want) nr = clip_iov(iov, nr, allowed, &clipped, &iov);
  }
  if (write && pos == -1 && rw.done == 0) rw.start_fpos = lseek(req->os_fd, 0, SEEK_CUR);
  bool stream = false;
  // tmpfs and ramfs have no RWF_NOWAIT, so the kernel hands such I/O to a
  // worker; but it never waits for a device there, and doing it here saves
  // the hand-off, which costs far more than the copy. A file known to be
  // one skips the refused try.
  const bool may_block = nonblock && !(req->flags & kReqNowait);
  if (may_block && core::fd_is_memory_file_cached(req->os_fd)) rwf &= ~RWF_NOWAIT;
  ssize_t n;
  struct stat st;
  if (write && !nonblock && fstat(req->os_fd, &st) == 0 && (st.st_mode & S_IFMT) == 0 &&
      is_blocking_eventfd(req->os_fd)) {
    // Its offset means nothing once it passed rw_verify_area.
    if (rw.done == 0)
      if (const int err = rw_validate(req, write, nonblock))
        return finish_rw(req, err, issue_flags);
    stream = true;
    pos = -1;
    n = eventfd_write_on_worker(req->os_fd, iov, nr);
  } else {
    n = rw_syscall(write, req->os_fd, iov, nr, pos, rwf);
  }
  if (n < 0 && errno == EOPNOTSUPP && (rwf & RWF_NOWAIT) && may_block &&
      core::fd_is_memory_file(req->os_fd)) {
    rwf &= ~RWF_NOWAIT;
    n = rw_syscall(write, req->os_fd, iov, nr, pos, rwf);
  }
  if (n < 0 && errno == ESPIPE && pos != -1) {
    // A stream (pipe, socket, tty): the offset means nothing, as for the
    // kernel's FMODE_STREAM files -- once it passed rw_verify_area. A
    // ring's file is asked for readiness first (below), as in io_read and
    // io_write, which look at the offset only once the ring is ready.
    if (rw.done == 0 && !is_ring_fd(req->os_fd)) {
      if (const int err = rw_validate(req, write, nonblock))
        return finish_rw(req, err, issue_flags);
    }
    stream = true;
    pos = -1;
    n = rw_syscall(write, req->os_fd, iov, nr, -1, rwf);
  }
  if (n < 0 && errno == EOPNOTSUPP && (rwf & RWF_NOWAIT) && !write &&
      (may_block ? fd_can_poll(req->os_fd) : fstat(req->os_fd, &st) == 0 && S_ISFIFO(st.st_mode))) {
    // A pipe that the host's splice() or tee() used (iostack's SPLICE and
    // TEE) has lost FMODE_NOWAIT, which the kernel's io_uring ops, calling
    // do_splice and do_tee, leave: ready, it is read (without blocking, as
    // data is there); else the read is -EAGAIN (the program's RWF_NOWAIT:
    // fuzz seed 1087610) or waits on poll, where a cancel finds it, not in
    // a worker's blocking read (fuzz seed 190280; a pipe at an offset too).
    struct pollfd pfd = {req->os_fd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) > 0) {
      rwf &= ~RWF_NOWAIT;
      n = rw_syscall(write, req->os_fd, iov, nr, pos, rwf);
    } else {
      errno = EAGAIN;
    }
  }
  if (n < 0 && errno == EOPNOTSUPP && (rw.rw_flags || nonblock) && has_only_plain_rw(req, write) &&
      rw_validate(req, write, nonblock) == 0) {
    // A file with only ->read/->write (an eventfd's write, a directory) has
    // no kiocb for the flags to go to: io_uring ignores them (loop_rw_iter),
    // where preadv2/pwritev2 refuse them. Not to block, loop_rw_iter goes on
    // only where the file cannot block (O_NONBLOCK); else a worker does it.
    const int fl = fcntl(req->os_fd, F_GETFL);
    if (!nonblock || (fl >= 0 && (fl & O_NONBLOCK))) {
      n = rw_syscall(write, req->os_fd, iov, nr, pos, 0);
    } else {
      req->flags |= kReqNoApoll;
      errno = EAGAIN;
    }
  }
  if (n > 0 && !write && (ctx->flags & IORING_SETUP_IOPOLL) && polled_read_refused(req)) {
    n = -1;
    errno = EOPNOTSUPP;
  }
  if (n < 0) {
    int err = -errno;
    if (rw.done == 0 && nonblock && err != -EAGAIN && is_dir(req->os_fd)) {
      // Nor has a directory: tried without blocking, the kernel hands it
      // to io-wq before it looks at the offset, so a cancel finds it there
      // (fuzz seed 35392); the worker finds what is wrong.
      if (const int v = rw_validate(req, write, nonblock, true))
        return finish_rw(req, v, issue_flags);
      req->flags |= kReqNoApoll;
      return -EAGAIN;
    }
    if (rw.done == 0 && (err == -EOPNOTSUPP || err == -EINVAL)) {
      if (const RingFile ring(req->os_fd); IoRingCtx* rctx = ring.ctx) {
        // The request waits on the ring's poll (RingFile) until the ring
        // is ready for it, and then fails. The kernel retries from the
        // wakeup, before the program can reap the CQE that woke it: a
        // wakeup is taken as the ring being ready.
        // Completions of this batch not yet posted are not in the ring yet:
        // the read waits on poll until they are, and a cancel later in the
        // batch finds it there (fuzz seed 42110).
        const unsigned want = write ? POLLOUT : POLLIN;
        // A DEFER_TASKRUN ring's retry is its submitter's task work, which
        // runs when the program next waits, often after it reaped the CQE
        // that woke the read: each retry asks the ring again, as the
        // kernel's reissue does (io_file_supports_nowait).
        const bool recheck = rctx->flags & IORING_SETUP_DEFER_TASKRUN;
        if (nonblock && (!rw.waited_ring || recheck) && ring.waits_for(want)) {
          rw.waited_ring = true;
          const bool defer = rctx->flags & IORING_SETUP_DEFER_TASKRUN;
          const bool first =
              defer && !rctx->poll_activated.exchange(true, std::memory_order_relaxed);
          if (first || (defer && rctx == ctx &&
                        rctx->poll_activation_pending.load(std::memory_order_relaxed))) {
            // That poll activated the ring's poll wait queue (or waits for
            // the activation under way), whose wakeup without a mask
            // retries this request when the submitter next runs its task
            // work, whatever it waits for (a write's POLLOUT is not in the
            // mask of a CQE's wakeup: that is its only one). Meanwhile it
            // is armed, and a cancel finds it (seed 236407); arm_apoll
            // arms it once a linked timeout was started (io_queue_async).
            if (rctx != ctx) {
              tw_add(req, tw_req_submit);
              return kIouIssueSkipComplete;
            }
            req->poll.wants_activation = true;
          }
          return -EAGAIN;
        }
        // The missing method's -EINVAL comes from the call itself. io_write
        // hands it to kiocb_done, whose io_rw_done posts from task work,
        // behind the CQEs of the batch (fuzz seed 491106); io_read returns
        // it, and it completes with the batch (seed 943689: on a
        // DEFER_TASKRUN ring, before the task work of a MSG_RING to itself).
        if (!write) return finish_rw(req, -EINVAL, issue_flags);
        finish_rw(req, -EINVAL, issue_flags);
        tw_add(req, tw_req_complete);
        return kIouIssueSkipComplete;
      }
    }
    if (rw.done == 0 && err != -EAGAIN) {
      // The first error the kernel's io_uring would have found.
      if (const int v = rw_validate(req, write, nonblock)) err = v;
    }
    // A write asked not to wait on a file that cannot (raw block devices,
    // buffered ext4) is -EAGAIN for io_uring.
    if (err == -EOPNOTSUPP && write && (req->flags & kReqNowait)) err = -EAGAIN;
    if (nonblock && !(req->flags & kReqNowait) && (err == -EAGAIN || err == -EOPNOTSUPP)) {
      // No RWF_NOWAIT support: a worker must block. Where the file has a
      // poll (a write to a pipe that splice(2) used; reads are handled
      // above) the kernel asks it first (io_file_supports_nowait): not
      // ready, the request waits on poll, where a cancel finds it; ready, a
      // worker writes (a blocking write of more than the pipe has room for
      // would wait here).
      if (err == -EOPNOTSUPP &&
          !(file_can_poll(req) && poll_now(req->os_fd, write ? POLLOUT : POLLIN) == 0))
        req->flags |= kReqNoApoll;
      return -EAGAIN;
    }
    if (rw.done > 0) {
      // Bytes moved by earlier attempts count, but a failed last attempt
      // leaves the file position where it was (kiocb_done).
      if (rw.pos == -1 && is_regular_or_blk(req)) restore_fpos(req, rw.done);
      if (issue_flags & kIssueIowq) return finish_rw_in_task_work(req, rw.done, issue_flags);
      return finish_rw(req, rw.done, issue_flags);
    }
    return finish_rw(req, err, issue_flags);
  }
  std::int64_t total = rw.done + n;
  // A short transfer on a seekable file: go on without blocking (the
  // kernel's retry loop in io_read); at end of file that reads 0 and the
  // short count stands, and whatever would block goes to a worker. Not for
  // RWF_NOWAIT, whose short count stands at once (seed 568929).
  const bool retries_short = !(req->flags & kReqNowait);
  while (n > 0 && total < rw.bytes && pos != -1 && !stream && !write && retries_short) {
    rw.done = total;
    advance_iov(req, n);
    const int nr2 = build_iov(req, &iov);
    n = preadv2(req->os_fd, iov, nr2, rw.pos + rw.done, rwf);
    if (n < 0) {
      if (nonblock && errno == EAGAIN && !(req->flags & kReqNowait)) return -EAGAIN;
      return finish_rw(req, total, issue_flags);
    }
    total += n;
  }
  // The same for the file position (offset -1) of a regular file: the
  // kernel reads at ki_pos and stores it back only when the last attempt
  // did not fail, so bytes read before a fault leave f_pos where it was.
  if (n > 0 && total < rw.bytes && pos == -1 && nonblock && !write && retries_short &&
      is_regular_or_blk(req)) {
    while (n > 0 && total < rw.bytes) {
      rw.done = total;
      advance_iov(req, n);
      const int nr2 = build_iov(req, &iov);
      n = preadv2(req->os_fd, iov, nr2, -1, rwf);
      if (n < 0 && errno == EAGAIN && !(req->flags & kReqNowait)) return -EAGAIN;
      if (n < 0) {
        restore_fpos(req, total);
        return finish_rw(req, total, issue_flags);
      }
      total += n;
    }
  }
  if (write && (issue_flags & kIssueIowq) && total > 0 && total < rw.bytes && !stream &&
      is_regular_or_blk(req)) {
    // The position is stored back only by kiocb_done, which a short write
    // never reaches.
    if (pos == -1) restore_fpos(req, total);
    return finish_rw_in_task_work(req, total, issue_flags);
  }
  if (write && nonblock && n > 0 && total < rw.bytes && !(req->flags & kReqNowait) &&
      (pos != -1 ? !stream : is_regular_or_blk(req))) {
    rw.done = total;
    advance_iov(req, n);
    return -EAGAIN;
  }
  return finish_rw(req, total, issue_flags);
}

int rw_issue(IoKiocb* req, unsigned issue_flags, bool write) {
  // The descriptor is looked up before anything else (io_assign_file): one
  // not open or O_PATH is -EBADF before the buffer's errors (seed 607006).
  if ((req->flags & kReqBufferSelect) && !buffer_held(req)) {
    // io_buffer_select at issue: the read goes into a provided buffer.
    RwData& rw = req->rw;
    std::size_t len = rw.len;
    const int err = file_refused(req) ? -EBADF : 0;
    const std::uint64_t buf = err ? 0 : buffer_select(req, &len, issue_flags);
    if (!buf) {
      req_set_fail(req);
      req_set_res(req, err ? err : -ENOBUFS, 0);
      return kIouOk;
    }
    rw.addr = buf;
    rw.len = static_cast<std::uint32_t>(len);
    rw.bytes = static_cast<std::int64_t>(len);
    rw.fast_iov[0] = {reinterpret_cast<void*>(buf), len};
    rw.iov = rw.fast_iov;
    rw.nr_segs = 1;
  }
  if (is_fixed(req->opcode)) {
    int ret = fixed_buf_check(req->ctx, req->rw.buf_index, req->rw.addr, req->rw.len,
                              issue_flags & kIssueLocked, &req->buf_node);
    if (ret && file_refused(req)) ret = -EBADF;
    if (ret) {
      req_set_fail(req);
      req_set_res(req, ret, 0);
      return kIouOk;
    }
  }
  if (is_vec_fixed(req->opcode) && req->rw.bytes < 0) {
    // io_import_reg_vec, once: the buffer is checked before the file's mode.
    std::int64_t total = 0;
    int ret = fixed_buf_check_vec(req->ctx, req->rw.buf_index, req->rw.iov, req->rw.nr_segs, &total,
                                  issue_flags & kIssueLocked, &req->buf_node);
    if (ret && file_refused(req)) ret = -EBADF;
    if (ret) {
      req_set_fail(req);
      req_set_res(req, ret, 0);
      return kIouOk;
    }
    req->rw.bytes = total;
    if (req->opcode == uapi::kOpWritevFixed && !req->bdev && core::is_eventfd(req->os_fd)) {
      // An eventfd has no write_iter: loop_rw_iter hands its ->write the
      // SQE's address and length, here the iovec array and the segment
      // count (so fewer than 8 segments is -EINVAL, 8 or more write the
      // array's first 8 bytes).
      if (const int err = rw_validate(req, true, issue_flags & kIssueNonblock))
        return finish_rw(req, err, issue_flags);
      // Nothing to write: loop_rw_iter never calls it (seed 102041).
      if (req->rw.bytes == 0) return finish_rw(req, 0, issue_flags);
      const std::size_t len = static_cast<std::size_t>(req->rw.nr_segs) < 8 ? 1 : 8;
      const ssize_t n = ::write(req->os_fd, reinterpret_cast<const void*>(req->rw.addr), len);
      return finish_rw(req, n < 0 ? -errno : static_cast<int>(n), issue_flags);
    }
  }
  // An iostack device has no integrity profile either.
  if (req->bdev && req->rw.has_pi) return finish_rw(req, -EINVAL, issue_flags);
  if (req->bdev) {
    if (issue_flags & kIssueLocked)
      bdev_queue(req);
    else
      bdev_issue_now(req, false);
    return kIouIssueSkipComplete;
  }
  return rw_os(req, issue_flags, write);
}

void bdev_end_io(void* priv, long res) {
  auto* req = static_cast<IoKiocb*>(priv);
  if (res == -EAGAIN && req->opcode != IORING_OP_FSYNC && req->rw.nowait_issue &&
      !(req->flags & kReqNowait)) {
    req->rw.nowait_issue = false;
    queue_iowq(req);
    return;
  }
  if (req->opcode == IORING_OP_FSYNC) {
    req_set_res(req, static_cast<int>(res), 0);  // a failed fsync does not break a link
  } else {
    // From where the I/O went: an appending write's end of the file.
    if (req->rw.cur_pos && res > 0)
      block::bdev_set_pos(req->bdev, req->os_fd, req->flags & kReqFixedFile, req->bio.at + res);
    finish_rw(req, res);
  }
  req_complete_post(req);
}

}  // namespace

// ---- READ_MULTISHOT (io_read_mshot_prep, io_read_mshot): reads from a
// pollable file into provided buffers, one CQE with F_MORE per read, until
// an error, end of file, no buffer left or a full CQ ring ends it.
int rw_prep_read_mshot(IoKiocb* req, const io_uring_sqe* sqe) {
  if (!(req->flags & kReqBufferSelect)) return -EINVAL;
  if (int ret = prep_common(req, sqe)) return ret;
  if (req->rw.addr || req->rw.len) return -EINVAL;
  req->flags |= kReqApollMultishot;
  return 0;
}

int rw_read_mshot(IoKiocb* req, unsigned issue_flags) {
  RwData& rw = req->rw;
  auto end = [req](int res, std::uint32_t cflags) {
    if (res < 0) req_set_fail(req);
    req_set_res(req, res, cflags);
    return kIouOk;
  };
  if (req->bdev || !file_can_poll(req)) {
    // A descriptor that names nothing fails io_assign_file first.
    return end(file_refused(req) ? -EBADF : -EBADFD, 0);
  }
  const bool nonblock = issue_flags & kIssueNonblock;
  for (bool retry = false;; retry = true) {
    req->buf_index = rw.buf_index;  // the group, which a picked buffer's id replaced
    std::size_t len = 0;            // the whole buffer, whatever the last one was
    const std::uint64_t buf = buffer_select(req, &len, issue_flags);
    // The kernel's retry after a read (io_poll_multishot_retry) asks the
    // file first: with nothing to read it waits, and only data finds no buffer.
    if (!buf && retry) {
      const int ready = poll_now(req->os_fd, POLLIN);
      if (ready >= 0 && !(ready & POLLIN)) return -EAGAIN;
    }
    if (!buf) return end(-ENOBUFS, 0);
    rw.addr = buf;
    rw.len = static_cast<std::uint32_t>(len);
    rw.bytes = static_cast<std::int64_t>(len);
    rw.pos = -1;  // a stream: no offset
    if (const int err = rw_validate(req, false, nonblock)) {
      kbuf_recycle(req, issue_flags);
      return end(err, 0);
    }
    struct iovec iov {
      reinterpret_cast<void*>(buf), len
    };
    const ssize_t n = preadv2(req->os_fd, &iov, 1, -1, rw.rw_flags | (nonblock ? RWF_NOWAIT : 0));
    int ret = n < 0 ? -errno : static_cast<int>(n);
    // A ring's own file waits on its poll until it reports POLLIN; then
    // the read fails (fuzz seed 277905: pending to the end).
    if (ret == -EINVAL && nonblock && RingFile(req->os_fd).waits_for(POLLIN)) ret = -EAGAIN;
    if (ret == -EAGAIN) {
      // Poll says when to try again; the buffer stays available meanwhile.
      kbuf_recycle(req, issue_flags);
      return -EAGAIN;
    }
    if (ret <= 0) {
      kbuf_recycle(req, issue_flags);
      return end(ret, 0);
    }
    const std::uint32_t cflags = kbuf_put(req, ret, issue_flags);
    // One a worker runs once (iowq_submit_work) ends with its read.
    if (!(req->flags & kReqApollMultishot) ||
        !post_req_cqe(req, ret, cflags | IORING_CQE_F_MORE, issue_flags))
      return end(ret, cflags);
  }
}

int rw_prep_read(IoKiocb* req, const io_uring_sqe* sqe) { return prep_single(req, sqe); }
int rw_prep_write(IoKiocb* req, const io_uring_sqe* sqe) { return prep_single(req, sqe); }
int rw_prep_read_fixed(IoKiocb* req, const io_uring_sqe* sqe) { return prep_fixed(req, sqe); }
int rw_prep_write_fixed(IoKiocb* req, const io_uring_sqe* sqe) { return prep_fixed(req, sqe); }
int rw_prep_readv(IoKiocb* req, const io_uring_sqe* sqe) { return prep_vec(req, sqe); }
int rw_prep_vec_fixed(IoKiocb* req, const io_uring_sqe* sqe) { return prep_vec_fixed(req, sqe); }
int rw_prep_writev(IoKiocb* req, const io_uring_sqe* sqe) { return prep_vec(req, sqe); }

void host_plug_flush(HostAioPlug* plug) {
  const unsigned taken = core::host_aio_submit_batch(plug->reqs, plug->nr);
  for (unsigned i = taken; i < plug->nr; ++i) host_end_io(plug->reqs[i]->owner, -EAGAIN);
  plug->nr = 0;
}

int rw_read(IoKiocb* req, unsigned issue_flags) { return rw_issue(req, issue_flags, false); }
int rw_write(IoKiocb* req, unsigned issue_flags) { return rw_issue(req, issue_flags, true); }

void bdev_issue_now(IoKiocb* req, bool nowait) {
  req->bio.end = bdev_end_io;
  req->bio.priv = req;
  int ret;
  if (req->opcode == IORING_OP_FSYNC) {
    ret = block::bdev_flush(req->bdev, &req->bio);
  } else {
    RwData& rw = req->rw;
    const bool write = req->opcode == IORING_OP_WRITE || req->opcode == IORING_OP_WRITEV ||
                       req->opcode == IORING_OP_WRITE_FIXED || req->opcode == uapi::kOpWritevFixed;
    struct iovec* iov;
    const int nr = build_iov(req, &iov);
    if (rw.pos == -1 || rw.cur_pos) {
      rw.cur_pos = true;
      rw.pos = block::bdev_pos(req->bdev, req->os_fd);
    }
    rw.nowait_issue = nowait;
    int rwf = rw.rw_flags;
    if (nowait) rwf |= RWF_NOWAIT;
    ret = block::bdev_rw(req->bdev, &req->bio, write, iov, nr, rw.pos,
                         static_cast<std::uint32_t>(rwf), req->ioprio);
    if (ret == -EAGAIN && nowait && !(req->flags & kReqNowait)) {
      rw.nowait_issue = false;
      queue_iowq(req);
      return;
    }
    if (ret < 0) {
      finish_rw(req, ret);
      req_complete_post(req);
      return;
    }
    return;
  }
  if (ret < 0) {
    req_set_fail(req);
    req_set_res(req, ret, 0);
    req_complete_post(req);
  }
}

void rw_worker_clears_nowait(IoKiocb* req) {
  if (!(req->flags & kReqNowait)) return;
  // Only a read or write: a socket op's MSG_DONTWAIT stays on the worker.
  const IoOpDef* def = op_def(req->opcode);
  if (def->issue != rw_read && def->issue != rw_write) return;
  struct stat st;
  // kiocb_set_rw_flags refuses RWF_NOWAIT there at every issue.
  if (fstat(req->os_fd, &st) != 0 || S_ISDIR(st.st_mode) || is_ring_fd(req->os_fd)) return;
  req->flags &= ~kReqNowait;
  req->rw.rw_flags &= ~RWF_NOWAIT;
}

}  // namespace iostack::uring
