#include "aio/file_ref.hpp"

#include <cerrno>
#include <utility>

namespace iostack::aio {

int file_ref_get(int fd, FileRef* out) {
  if (fd < 0) return -EBADF;
  if (core::FileRef ref = block::bdev_file_get(fd)) {
    out->bdev = block::bdev_of(ref);
    out->flags = out->bdev->flags;
    out->bdev_ref = std::move(ref);
    return 0;
  }
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return -EBADF;
#ifdef O_PATH
  if ((fl & O_PATH) == O_PATH) return -EBADF;
#endif
  out->bdev = nullptr;
  out->flags = fl;
  return 0;
}

}  // namespace iostack::aio
