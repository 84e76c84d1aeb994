// What iostack remembers of a program's OS descriptor between requests:
// whether it names a regular file opened with O_DIRECT. Learning that costs
// two system calls, too many to pay per request; a stale answer only sends a
// request down the slower of two correct paths (see uring/rw.cpp), so the
// cache is dropped on the descriptor calls iostack sees and never trusted for
// anything but that choice.
#pragma once

namespace iostack::core {

// Whether `fd` names a regular file opened with O_DIRECT, as first learned.
bool fd_is_direct_file(int fd);

// Drops what is remembered of `fd` (closed, replaced by dup2, flags changed)
// or of every descriptor in [first, last].
void fd_mode_forget(int fd);
void fd_mode_forget_range(unsigned first, unsigned last);

}  // namespace iostack::core
