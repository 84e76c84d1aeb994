// OPENAT and OPENAT2 (io_uring/openclose.c): prep builds the kernel's open_how,
// issue opens with openat2(2), first from the dentry cache only.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "core/fd_mode_cache.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/filetable.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

// The kernel's __O_TMPFILE: glibc's includes O_DIRECTORY, which alone is no
// reason to go to io-wq (fuzz seed 57041).
constexpr int kTmpfile = __O_TMPFILE & ~O_DIRECTORY;
constexpr int kLargefile = 0100000;  // the kernel's O_LARGEFILE (glibc's is 0 here)
// VALID_OPEN_FLAGS and O_PATH_FLAGS (include/linux/fcntl.h, fs/open.c).
constexpr int kValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                O_NONBLOCK | O_SYNC | O_DSYNC | O_ASYNC | O_DIRECT | kLargefile |
                                O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH |
                                kTmpfile;
constexpr int kPathFlags = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

// __io_openat_prep, after the op's own part: the path, the slot, and the
// opens that always block (io_openat_force_async).
int open_prep_common(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index) return -EINVAL;
  if (req->flags & kReqFixedFile) return -EBADF;
  if (!(req->open.flags & O_PATH)) req->open.flags |= kLargefile;
  req->open.dfd = sqe->fd;
  if (int ret = getname(sqe->addr, false, &req->open.path)) return ret;
  req->flags |= kReqCleanup;
  req->open.file_slot = sqe->file_index;
  if (req->open.file_slot && (req->open.flags & O_CLOEXEC)) return -EINVAL;
  if (req->open.flags & (O_TRUNC | O_CREAT | kTmpfile)) req->flags |= kReqForceAsync;
  return 0;
}

// io_openat2's do_filp_open: a descriptor, -errno, or -EAGAIN when an open
// that must not block needs more than the dentry cache (it goes to io-wq).
// Not blocking, it opens with O_NONBLOCK too (a FIFO does not wait for its
// peer) and takes that flag off the file afterwards unless it was asked.
int open_host(IoKiocb* req, unsigned issue_flags, int extra_flags) {
  struct open_how how {};
  how.flags = req->open.flags | static_cast<unsigned>(extra_flags);
  how.mode = req->open.mode;
  how.resolve = req->open.resolve;
  const bool nonblock = issue_flags & kIssueNonblock;
  const bool add_nonblock = nonblock && !(how.flags & (O_NONBLOCK | O_PATH));
  if (nonblock) how.resolve |= RESOLVE_CACHED;
  if (add_nonblock) how.flags |= O_NONBLOCK;
  const long r = syscall(SYS_openat2, req->open.dfd, req->open.path, &how, sizeof(how));
  if (r < 0) return -errno;  // -EAGAIN: the caller decides
  const int fd = static_cast<int>(r);
  if (add_nonblock) {
    const int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  return fd;
}

}  // namespace

int openat_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  // build_open_how: unknown flags dropped, O_PATH keeps only its own, and
  // a mode only where a file may be created.
  std::uint64_t flags = sqe->open_flags & static_cast<unsigned>(kValidOpenFlags);
  if (flags & O_PATH) flags &= kPathFlags;
  req->open.flags = flags;
  req->open.mode = (flags & (O_CREAT | kTmpfile)) ? (sqe->len & 07777) : 0;
  req->open.resolve = 0;
  req->open.path = nullptr;
  return open_prep_common(req, sqe);
}

int openat2_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  req->open.path = nullptr;
  // copy_struct_from_user: a shorter struct is zero-extended, a longer one
  // must be zero beyond what this kernel knows.
  const std::uint32_t len = sqe->len;
  constexpr std::uint32_t kOpenHowVer0 = 24;
  if (len < kOpenHowVer0) return -EINVAL;
  if (len > 4096) return -E2BIG;
  struct open_how how {};
  const auto* uhow = reinterpret_cast<const char*>(sqe->addr2);
  const std::size_t n = len < sizeof(how) ? len : sizeof(how);
  if (len > sizeof(how)) {
    for (std::size_t i = sizeof(how); i < len; ++i) {
      char c;
      if (core::get_user(c, uhow + i)) return -EFAULT;
      if (c) return -E2BIG;
    }
  }
  if (core::copy_from_user(&how, uhow, n)) return -EFAULT;
  req->open.flags = how.flags;
  req->open.mode = how.mode;
  req->open.resolve = how.resolve;
  return open_prep_common(req, sqe);
}

// io_openat2: tried without blocking first; -EAGAIN sends it to io-wq unless
// the program asked for RESOLVE_CACHED itself (then -EAGAIN is its answer).
int open_issue(IoKiocb* req, unsigned issue_flags) {
  const bool fixed = req->open.file_slot != 0;
  // Ours, in the table: close-on-exec whatever the program asked.
  int ret = open_host(req, issue_flags, fixed ? O_CLOEXEC : 0);
  if (ret == -EAGAIN && (issue_flags & kIssueNonblock) && !(req->open.resolve & RESOLVE_CACHED))
    return -EAGAIN;
  if (ret >= 0) {
    core::fd_mode_forget(ret);
    // Into a fixed slot, which holds no descriptor: ours goes high, leaving
    // the number free for the program's next open (seed 95244).
    if (fixed) ret = fixed_fd_install(req->ctx, issue_flags, ret, req->open.file_slot);
  }
  if (ret < 0) req_set_fail(req);
  req_set_res(req, ret, 0);
  return kIouOk;
}

void open_cleanup(IoKiocb* req) {
  std::free(req->open.path);
  req->open.path = nullptr;
}

}  // namespace iostack::uring
