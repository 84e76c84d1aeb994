// What io_submit learns about an iocb's file descriptor (the kernel's
// fget() and f_mode checks): an iostack block device, or an OS file and its
// open flags.
#pragma once

#include <fcntl.h>

#include "block/bdev_file.hpp"

namespace iostack::aio {

struct FileRef {
  core::FileRef bdev_ref;  // holds `bdev` while io_submit looks at the iocb
  block::BdevFile* bdev = nullptr;
  int flags = 0;  // open(2) flags (F_GETFL, or the device file's)

  bool readable() const { return (flags & O_ACCMODE) != O_WRONLY; }
  bool writable() const { return (flags & O_ACCMODE) != O_RDONLY; }
};

// fget(): 0, or -EBADF for a closed descriptor or an O_PATH one.
int file_ref_get(int fd, FileRef* out);

}  // namespace iostack::aio
