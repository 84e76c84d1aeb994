// Extended attributes (io_uring/xattr.c): FGETXATTR, FSETXATTR, GETXATTR,
// SETXATTR. The name (and for SET the value) is copied at prep, as the
// kernel does; the calls run on io-wq.
#include <fcntl.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

constexpr long kXattrNameMax = 255;           // XATTR_NAME_MAX
constexpr std::size_t kXattrSizeMax = 65536;  // XATTR_SIZE_MAX

// import_xattr_name: -ERANGE for an empty or too long name.
int import_name(std::uint64_t uname, char** out) {
  char* buf = static_cast<char*>(std::malloc(kXattrNameMax + 1));
  if (!buf) return -ENOMEM;
  *out = buf;
  const long n =
      core::strncpy_from_user(buf, reinterpret_cast<const char*>(uname), kXattrNameMax + 1);
  if (n < 0) return static_cast<int>(n);
  if (n == 0 || n == kXattrNameMax + 1) return -ERANGE;
  return 0;
}

int prep_common(IoKiocb* req, const io_uring_sqe* sqe, bool set) {
  XattrData& x = req->xattr;
  x = XattrData{};
  x.value = sqe->addr2;
  x.size = sqe->len;
  x.flags = static_cast<int>(sqe->xattr_flags);
  req->flags |= kReqCleanup;
  if (!set && x.flags) return -EINVAL;
  if (set && (x.flags & ~(XATTR_CREATE | XATTR_REPLACE))) return -EINVAL;
  if (int ret = import_name(sqe->addr, &x.name)) return ret;
  if (set && x.size) {
    if (x.size > kXattrSizeMax) return -E2BIG;
    x.kvalue = std::malloc(x.size);
    if (!x.kvalue) return -ENOMEM;
    if (core::copy_from_user(x.kvalue, reinterpret_cast<const void*>(x.value), x.size))
      return -EFAULT;
  }
  req->flags |= kReqForceAsync;
  return 0;
}

int path_prep(IoKiocb* req, const io_uring_sqe* sqe, bool set) {
  if (req->flags & kReqFixedFile) return -EBADF;
  if (int ret = prep_common(req, sqe, set)) return ret;
  return getname(sqe->addr3, false, &req->xattr.path);
}

// io_xattr_finish sets the result only: a failed get or set does not break
// the link it heads (seed 14 of the extended generator).
int finish(IoKiocb* req, long r) {
  const int ret = r < 0 ? -errno : static_cast<int>(r);
  req_set_res(req, ret, 0);
  return kIouOk;
}

// FGETXATTR and FSETXATTR: a descriptor that is not open failed
// io_assign_file on the worker, which fails the request (its CQE is posted
// despite CQE_SKIP_SUCCESS, fuzz seed 39746).
int finish_fd(IoKiocb* req, long r) {
  if (r < 0 && errno == EBADF && !req->file_node && fcntl(req->os_fd, F_GETFD) < 0) {
    req_set_fail(req);
    req_set_res(req, -EBADF, 0);
    return kIouOk;
  }
  return finish(req, r);
}

}  // namespace

void xattr_cleanup(IoKiocb* req) {
  std::free(req->xattr.name);
  std::free(req->xattr.path);
  std::free(req->xattr.kvalue);
  req->xattr = XattrData{};
}

int fgetxattr_prep(IoKiocb* req, const io_uring_sqe* sqe) { return prep_common(req, sqe, false); }
int fsetxattr_prep(IoKiocb* req, const io_uring_sqe* sqe) { return prep_common(req, sqe, true); }
int getxattr_prep(IoKiocb* req, const io_uring_sqe* sqe) { return path_prep(req, sqe, false); }
int setxattr_prep(IoKiocb* req, const io_uring_sqe* sqe) { return path_prep(req, sqe, true); }

int fgetxattr_issue(IoKiocb* req, unsigned) {
  XattrData& x = req->xattr;
  return finish_fd(req, fgetxattr(req->os_fd, x.name, reinterpret_cast<void*>(x.value), x.size));
}

int fsetxattr_issue(IoKiocb* req, unsigned) {
  XattrData& x = req->xattr;
  return finish_fd(req, fsetxattr(req->os_fd, x.name, x.kvalue, x.size, x.flags));
}

int getxattr_issue(IoKiocb* req, unsigned) {
  XattrData& x = req->xattr;
  return finish(req, getxattr(x.path, x.name, reinterpret_cast<void*>(x.value), x.size));
}

int setxattr_issue(IoKiocb* req, unsigned) {
  XattrData& x = req->xattr;
  return finish(req, setxattr(x.path, x.name, x.kvalue, x.size, x.flags));
}

}  // namespace iostack::uring
