// fget() for io_submit: an iostack block device or an OS file and its flags.
#include "aio/file_ref.hpp"

#include <cerrno>
#include <utility>

#include "core/held_file.hpp"

namespace iostack::aio {
namespace {

// Private descriptors start here; below, only when the limit is lower.
constexpr int kPrivateFdFloor = 64;

}  // namespace

int file_ref_get(int fd, FileRef* out) {
  if (fd < 0) return -EBADF;
  if (core::FileRef ref = block::bdev_file_get(fd)) {
    out->bdev = block::bdev_of(ref);
    out->flags = out->bdev->flags;
    out->bdev_ref = std::move(ref);
    return 0;
  }
  int fl;
  if (!core::held_file_lookup(fd, &out->held, &fl)) {
    fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) return -EBADF;
  }
#ifdef O_PATH
  if ((fl & O_PATH) == O_PATH) return -EBADF;
#endif
  out->bdev = nullptr;
  out->flags = fl;
  return 0;
}

int file_ref_private_fd(int fd) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, kPrivateFdFloor);
  // EINVAL: RLIMIT_NOFILE is at or below the floor; EMFILE: nothing free
  // above it. A low number is better than none.
  if (dup < 0 && (errno == EINVAL || errno == EMFILE)) dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return dup < 0 ? -errno : dup;
}

}  // namespace iostack::aio
