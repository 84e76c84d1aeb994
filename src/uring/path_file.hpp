// Ops on a fixed file that OPENAT installed with O_PATH: the kernel runs
// them on a file with neither read nor write mode (empty_fops), where the
// host's system call refuses the descriptor (-EBADF) before it looks at
// anything else.
#pragma once

#include <unistd.h>

#include <cerrno>

#include "uring/io_kiocb.hpp"

namespace iostack::uring {

// Whether `fd` is an O_PATH descriptor.
bool is_path_file(int fd);

// Whether `req`'s file is an O_PATH file in a fixed slot. (An O_PATH
// descriptor itself is -EBADF to io_uring: fget() does not return such
// files.)
inline bool is_fixed_path_file(const IoKiocb* req) {
  return (req->flags & kReqFixedFile) && is_path_file(req->os_fd);
}

// A read-only descriptor of the file that the O_PATH descriptor `fd`
// names, or -1 (not O_PATH, not a regular file or directory, or not to be
// opened so). The same call on it answers as the kernel's op on the O_PATH
// file: its checks of the arguments first, then of the file's mode.
int reopen_path_file(int fd);

// `call` on `req`'s descriptor; where that is the host's -EBADF of an
// O_PATH descriptor in a fixed slot, what `call` answers on the read-only
// descriptor instead.
template <class Call>
int on_path_file(const IoKiocb* req, Call&& call) {
  int err = call(req->os_fd);
  if (err != -EBADF || !(req->flags & kReqFixedFile)) return err;
  const int ro = reopen_path_file(req->os_fd);
  if (ro < 0) return err;
  err = call(ro);
  close(ro);
  return err;
}

}  // namespace iostack::uring
