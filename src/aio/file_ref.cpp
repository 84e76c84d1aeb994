#include "aio/file_ref.hpp"

#include <cerrno>

namespace iostack::aio {

int file_ref_get(int fd, FileRef* out) {
  if (fd < 0) return -EBADF;
  if (block::BdevFile* b = block::bdev_file_lookup(fd)) {
    out->bdev = b;
    out->flags = b->flags;
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
