// What io_submit learns about an iocb's file descriptor (the kernel's
// fget() and f_mode checks): an iostack block device, or an OS file and its
// open flags. The kernel holds the struct file until the request ends;
// requests that outlive io_submit hold it through core/held_file.hpp.
#pragma once

#include <fcntl.h>

#include "block/bdev_file.hpp"
#include "core/file.hpp"

namespace iostack::aio {

struct FileRef {
  core::FileRef bdev_ref;  // holds `bdev` while io_submit looks at the iocb
  block::BdevFile* bdev = nullptr;
  int flags = 0;  // open(2) flags (F_GETFL, or the device file's)
  // An OS file found held already (core/held_file.hpp): the hold a worker
  // needs, taken with the lookup.
  core::FileRef held;

  bool readable() const { return (flags & O_ACCMODE) != O_WRONLY; }
  bool writable() const { return (flags & O_ACCMODE) != O_RDONLY; }
};

// fget(): 0, or -EBADF for a closed descriptor or an O_PATH one. For an
// iostack device this is where a reference on the BdevFile belongs (to be
// dropped in iocb_destroy), once block/ counts them.
int file_ref_get(int fd, FileRef* out);

// A close-on-exec duplicate of `fd` of a poll's own, for the poller to
// register (an epoll registration names a descriptor, and two polls of one
// file need two). Taken above the low numbers a program may expect open()
// or dup() to hand it next. -errno on failure (EMFILE at the limit).
int file_ref_private_fd(int fd);

}  // namespace iostack::aio
